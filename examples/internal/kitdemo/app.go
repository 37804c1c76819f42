// Package kitdemo is an application as a team that adopts awsauth writes
// it, with the tests such a team writes for its own handlers using
// authflowtest only: no browser, no provider process, no network beyond
// loopback. Its tests are the point; the app is small on purpose.
package kitdemo

import (
	"context"
	"encoding/json"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/pubauth/awsauth/authflow"
	"github.com/pubauth/awsauth/authflow/bearer"
	"github.com/pubauth/awsauth/tokenstore"
)

// Config is the app's settings; production reads them from its environment.
type Config struct {
	Issuer, ClientID, RedirectURL string
	CookieKeys                    [][]byte
	Store                         tokenstore.Store
	// Cognito, HTTPClient and Now are nil in production; tests set them to
	// the authflowtest provider's.
	Cognito    *authflow.Cognito
	HTTPClient *http.Client
	Now        func() time.Time
	Logger     *slog.Logger
}

// New returns the app: a home page, sign-in, sign-out, an orders page for
// signed-in users, and an orders API for bearer tokens with orders/read
// (and the group admin for /api/admin/orders).
func New(ctx context.Context, cfg Config) (http.Handler, error) {
	auth, err := authflow.New(ctx, authflow.Config{
		Issuer: cfg.Issuer, ClientID: cfg.ClientID, RedirectURL: cfg.RedirectURL,
		Scopes: []string{"openid", "email", "orders/read"}, CookieKeys: cfg.CookieKeys, Store: cfg.Store,
		Cognito: cfg.Cognito, HTTPClient: cfg.HTTPClient, Now: cfg.Now, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	api, err := bearer.New(ctx, bearer.Config{
		Issuers: []bearer.Issuer{{
			Issuer: cfg.Issuer, ClientIDs: []string{cfg.ClientID}, KeySet: auth.KeySet(),
		}},
		HTTPClient: cfg.HTTPClient, Now: cfg.Now, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /login", auth.Login())
	mux.Handle("GET /callback", auth.Callback())
	mux.Handle("POST /logout", auth.Logout())
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		data := struct{ Subject, CSRF string }{}
		if s, err := auth.Session(r); err == nil {
			data.Subject, data.CSRF = s.Subject, auth.CSRFToken(r)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		home.Execute(w, data)
	})
	mux.Handle("GET /orders", auth.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := authflow.SessionFrom(r.Context())
		writeJSON(w, map[string]any{"sub": s.Subject, "orders": ordersOf(s.Subject)})
	})))
	orders := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := bearer.ClaimsFrom(r.Context())
		writeJSON(w, map[string]any{"sub": c.Subject, "orders": ordersOf(c.Subject)})
	})
	mux.Handle("GET /api/orders", api.Require(orders, bearer.Scopes("orders/read")))
	mux.Handle("GET /api/admin/orders", api.Require(orders, bearer.Scopes("orders/read"), bearer.Groups("admin")))
	return mux, nil
}

var home = template.Must(template.New("home").Parse(`<!doctype html><title>kitdemo</title>
{{if .Subject}}<p>Signed in as <b id="sub">{{.Subject}}</b></p>
<form method="post" action="/logout"><input type="hidden" name="csrf_token" value="{{.CSRF}}"><button>Sign out</button></form>
{{else}}<a href="/login">Sign in</a>{{end}}
`))

func ordersOf(sub string) []string { return []string{sub + "-1", sub + "-2"} }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
