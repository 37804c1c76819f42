package main

import (
	"context"
	"encoding/json"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/pubauth/awsauth/authflow"
	"github.com/pubauth/awsauth/authflow/bearer"
	"github.com/pubauth/awsauth/examples/internal/exampleapp"
)

type app struct {
	auth     *authflow.Handler
	api      *bearer.Verifier
	cfg      config
	basePath string       // path of PublicURL ("/prod" under an API Gateway stage)
	client   *http.Client // the pages' client for the API
	logger   *slog.Logger
}

// newApp builds the whole handler: the web app's pages and authflow
// endpoints, and the API behind a bearer.Verifier.
func newApp(ctx context.Context, cfg config, logger *slog.Logger) (http.Handler, error) {
	// Under Lambda every request may reach another instance: sessions belong
	// in a shared store (TOKENSTORE_URL=dynamodb://TABLE), not in memory.
	// The store lives as long as the process, as a Lambda instance does.
	// (storeurl.Open; sealed with tokenstore.NewEncrypted when
	// TOKENSTORE_KEYS is set.)
	store, _, err := cfg.OpenStore(ctx)
	if err != nil {
		return nil, err
	}
	ac := authflow.Config{
		Issuer:       cfg.Issuer,
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret, // empty: a public client, PKCE only
		RedirectURL:  cfg.RedirectURL,
		// The orders page calls the API with the user's access token, so
		// the default asks for orders/read (see defaultScopes).
		Scopes: cfg.Scopes,
		Store:  store,
		// Required under Lambda (main checks it): a login's callback may
		// reach another instance than its start.
		CookieKeys: cfg.CookieKeys,
		// Cognito: the logout redirect must be an allowed sign-out URL of
		// the app client.
		PostLogoutRedirectURL: cfg.PublicURL + "/",
		HTTPClient:            cfg.HTTPClient,
		Logger:                logger,
		// No OnSessionEnd: this app caches nothing per session.
	}
	if cfg.CognitoDomain != "" {
		// Cognito's discovery document names no logout or revocation
		// endpoint: its managed login domain has them. With a user pool
		// issuer, New takes every endpoint from the domain and the pool:
		// no discovery request at start (it is compared at the first login).
		ac.Cognito = &authflow.Cognito{Domain: cfg.CognitoDomain}
	}
	if cfg.Resource != "" {
		ac.AuthParams = map[string]string{"resource": cfg.Resource} // RFC 8707
	}
	if cfg.JWKSFile != "" {
		// Cold start with no round trip: the key set starts from the copy
		// shipped with the function (a kid it lacks is still fetched).
		// With a Cognito issuer and COGNITO_DOMAIN, New makes no request
		// either, so the first API request is served with none.
		if ac.JWKS, err = os.ReadFile(cfg.JWKSFile); err != nil {
			return nil, err
		}
	}
	auth, err := authflow.New(ctx, ac)
	if err != nil {
		return nil, err
	}
	// The API accepts access tokens of the web app's client and of
	// APIClientIDs, from the same issuer; it shares the login flow's key
	// set: one JWKS cache, one refetch budget.
	iss := bearer.Issuer{
		Issuer:    cfg.Issuer,
		TokenUse:  bearer.TokenUseAccess,
		ClientIDs: append([]string{cfg.ClientID}, cfg.APIClientIDs...),
		KeySet:    auth.KeySet(),
	}
	if cfg.APIAudience != "" {
		iss.Audiences = []string{cfg.APIAudience}
	}
	api, err := bearer.New(ctx, bearer.Config{Issuers: []bearer.Issuer{iss}, Logger: logger})
	if err != nil {
		return nil, err
	}
	pub, _ := url.Parse(cfg.PublicURL)
	a := &app{
		auth: auth, api: api, cfg: cfg, basePath: pub.Path, logger: logger,
		client: &http.Client{Timeout: 10 * time.Second},
	}

	mux := http.NewServeMux()
	mux.Handle("GET /{$}", exampleapp.Home(auth, homePage, logger, func(*authflow.Session) any {
		return struct{ Base string }{a.basePath}
	}))
	mux.Handle("GET /login", auth.Login())
	mux.Handle("GET /callback", auth.Callback())
	mux.Handle("POST /logout", auth.Logout()) // CSRF-checked: the home page's form sends the token
	mux.Handle("GET /orders", auth.RequireLogin(http.HandlerFunc(a.ordersPage)))
	mux.Handle("GET /api/orders", api.Require(http.HandlerFunc(ordersAPI), bearer.Scopes("orders/read")))
	mux.Handle("GET /api/admin/orders", api.Require(http.HandlerFunc(ordersAPI),
		bearer.Scopes("orders/read"), bearer.Groups("admin")))
	return mux, nil
}

var homePage = template.Must(template.New("home").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>awsauth on Lambda</title></head><body>
<h1>awsauth on Lambda</h1>
{{if .Subject}}
<p>Signed in as <b id="sub">{{.Subject}}</b>. <a href="{{.Extra.Base}}/orders">Your orders</a></p>
<form method="post" action="{{.Extra.Base}}/logout"><input type="hidden" name="csrf_token" value="{{.CSRF}}">
<button id="logout" type="submit">Sign out</button></form>
{{else}}
<p><a id="login" href="{{.Extra.Base}}/login?return_to=/orders">Sign in</a></p>
{{end}}
</body></html>
`))

// ordersPage calls the API with the signed-in user's access token (fresh:
// Tokens refreshes it near expiry) and shows the API's answer. The token
// stays on the server.
func (a *app) ordersPage(w http.ResponseWriter, r *http.Request) {
	s := authflow.SessionFrom(r.Context())
	tokens, err := a.auth.Tokens(r.Context(), s.ID)
	if err != nil {
		a.logger.Info("orders: tokens", "error", err)
		exampleapp.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "login_required"})
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, a.cfg.APIURL+"/orders", nil)
	if err != nil {
		exampleapp.WriteJSON(w, http.StatusInternalServerError, map[string]string{"error": "api_url"})
		return
	}
	req.Header.Set("Authorization", "Bearer "+tokens.AccessToken)
	resp, err := a.client.Do(req)
	if err != nil {
		a.logger.Error("orders: API call", "error", err)
		exampleapp.WriteJSON(w, http.StatusBadGateway, map[string]string{"error": "api_unreachable"})
		return
	}
	defer resp.Body.Close()
	var body any
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		exampleapp.WriteJSON(w, http.StatusBadGateway, map[string]string{"error": "api_answer"})
		return
	}
	exampleapp.WriteJSON(w, http.StatusOK, map[string]any{"api_status": resp.StatusCode, "api": body})
}

// ordersAPI is the API's handler: it runs only behind Verifier.Require, so
// the claims are there and verified.
func ordersAPI(w http.ResponseWriter, r *http.Request) {
	c := bearer.ClaimsFrom(r.Context())
	exampleapp.WriteJSON(w, http.StatusOK, map[string]any{
		"sub":       c.Subject,
		"username":  c.Username,
		"client_id": c.ClientID,
		"groups":    c.Groups,
		"orders": []map[string]any{
			{"id": c.Subject + "-1", "item": "book", "qty": 1},
			{"id": c.Subject + "-2", "item": "pen", "qty": 3},
		},
	})
}
