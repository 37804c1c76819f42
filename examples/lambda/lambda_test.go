package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/pubauth/awsauth/examples/internal/exampleapp"
	"github.com/pubauth/awsauth/internal/testenv"
)

// These tests start the real OpenID provider (node oidc-provider, see
// internal/testenv; scripts/deps.sh installs it): a missing one fails them.

type e2e struct {
	t        *testing.T
	base     string // the app's URL
	provider *testenv.OIDCProvider
	handler  http.Handler
	logs     *bytes.Buffer
}

func startE2E(t *testing.T) *e2e {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	p, err := testenv.StartOIDC(t.Context(), testenv.OIDCConfig{
		Clients: []testenv.OIDCClient{
			{ID: "web", RedirectURIs: []string{base + "/callback"}, PostLogoutRedirectURIs: []string{base + "/"}},
			{ID: "other-app", RedirectURIs: []string{"http://127.0.0.1:9/callback"}},
		},
		Groups: map[string][]string{"alice": {"admin"}},
	})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("stop provider: %v", err)
		}
	})
	logs := &bytes.Buffer{}
	cfg := config{
		Login: exampleapp.Login{Issuer: p.Issuer, ClientID: "web", RedirectURL: base + "/callback", CookieKeys: [][]byte{bytes.Repeat([]byte{7}, 32)},
			Scopes: defaultScopes},
		PublicURL: base, APIURL: base + "/api",
		Resource: testenv.DefaultAPIResource, APIAudience: testenv.DefaultAPIResource,
	}
	h, err := newApp(t.Context(), cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return &e2e{t: t, base: base, provider: p, handler: h, logs: logs}
}

func noRedirects(jar http.CookieJar) *http.Client {
	return &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// tokens runs the authorization code flow with PKCE for client, signing in
// as login without a browser, and returns the token response.
func (e *e2e) tokens(client, login, scope string) *oauth2.Token {
	e.t.Helper()
	var d struct {
		AuthorizationEndpoint string `json:"authorization_endpoint"`
		TokenEndpoint         string `json:"token_endpoint"`
	}
	resp, err := http.Get(e.provider.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		e.t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&d)
	resp.Body.Close()
	redirect := e.base + "/callback"
	if client != "web" {
		redirect = "http://127.0.0.1:9/callback"
	}
	conf := oauth2.Config{
		ClientID:    client,
		Endpoint:    oauth2.Endpoint{AuthURL: d.AuthorizationEndpoint, TokenURL: d.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: redirect,
		Scopes:      strings.Fields(scope),
	}
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("state-"+login, oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("resource", testenv.DefaultAPIResource))
	cb, err := testenv.ProviderLoginHTTP(e.t.Context(), nil, authURL, login)
	if err != nil {
		e.t.Fatalf("login: %v\n%s", err, e.provider.Logs())
	}
	if cb.Query().Get("state") != "state-"+login {
		e.t.Fatalf("callback %v", cb)
	}
	tok, err := conf.Exchange(e.t.Context(), cb.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		e.t.Fatalf("exchange: %v\n%s", err, e.provider.Logs())
	}
	return tok
}

// call GETs the app's path with an optional bearer token.
func (e *e2e) call(path, token string) (int, http.Header, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequestWithContext(e.t.Context(), http.MethodGet, e.base+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &body)
	return resp.StatusCode, resp.Header, body
}

// TestAPIEndToEnd: a browser-less client gets tokens from the real provider
// and calls the example API: 200 with the scope, 403 without it or without
// the group, 401 for an ID token, another client's token, a tampered one.
func TestAPIEndToEnd(t *testing.T) {
	e := startE2E(t)
	alice := e.tokens("web", "alice", "openid orders/read")
	writeOnly := e.tokens("web", "alice", "openid orders/write")
	bob := e.tokens("web", "bob", "openid orders/read")
	other := e.tokens("other-app", "alice", "openid orders/read")
	idToken, _ := alice.Extra("id_token").(string)
	if idToken == "" {
		t.Fatal("no ID token")
	}

	status, _, body := e.call("/api/orders", alice.AccessToken)
	if status != 200 || body["sub"] != "alice" || body["client_id"] != "web" || body["username"] != "alice" {
		t.Fatalf("alice with orders/read: %d %v", status, body)
	}
	if status, _, _ := e.call("/api/admin/orders", alice.AccessToken); status != 200 {
		t.Errorf("alice (admin) on the admin API: %d", status)
	}

	for _, tc := range []struct {
		name, path, token string
		status            int
		challenge         string
	}{
		{"scope missing", "/api/orders", writeOnly.AccessToken, 403, `error="insufficient_scope"`},
		{"group missing", "/api/admin/orders", bob.AccessToken, 403, `error="insufficient_scope"`},
		{"ID token", "/api/orders", idToken, 401, `error="invalid_token"`},
		{"another client's token", "/api/orders", other.AccessToken, 401, `error="invalid_token"`},
		{"tampered", "/api/orders", tamper(alice.AccessToken), 401, `error="invalid_token"`},
		{"no token", "/api/orders", "", 401, "Bearer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, h, _ := e.call(tc.path, tc.token)
			if status != tc.status || !strings.Contains(h.Get("WWW-Authenticate"), tc.challenge) {
				t.Fatalf("%d %q, want %d %q", status, h.Get("WWW-Authenticate"), tc.status, tc.challenge)
			}
		})
	}
	if strings.Contains(e.logs.String(), alice.AccessToken[len(alice.AccessToken)-20:]) {
		t.Error("a token reached the logs")
	}
}

func tamper(tok string) string {
	dot := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[dot+1:])
	if err != nil {
		panic(err)
	}
	sig[0] ^= 1
	return tok[:dot+1] + base64.RawURLEncoding.EncodeToString(sig)
}

// TestWebAppEndToEnd: sign in through the web app (authflow), whose page
// calls the API with the user's access token.
func TestWebAppEndToEnd(t *testing.T) {
	e := startE2E(t)
	jar, _ := cookiejar.New(nil)
	c := noRedirects(jar)
	resp, err := c.Get(e.base + "/login?return_to=/orders")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	authURL := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(authURL, e.provider.Issuer) {
		t.Fatalf("login: %d %q", resp.StatusCode, authURL)
	}
	cb, err := testenv.ProviderLoginHTTP(t.Context(), &http.Client{Jar: jar}, authURL, "alice")
	if err != nil {
		t.Fatalf("provider login: %v\n%s", err, e.provider.Logs())
	}
	resp, err = c.Get(cb.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/orders" {
		t.Fatalf("callback: %d %q\n%s", resp.StatusCode, resp.Header.Get("Location"), e.logs)
	}
	resp, err = c.Get(e.base + "/orders")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		APIStatus int            `json:"api_status"`
		API       map[string]any `json:"api"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != 200 ||
		page.APIStatus != 200 || page.API["sub"] != "alice" {
		t.Fatalf("orders page: %d %+v %v\n%s", resp.StatusCode, page, err, e.logs)
	}
	// Without a session the page sends the browser to log in.
	resp, err = noRedirects(nil).Get(e.base + "/orders")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("no session: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestUnderLambda: the same handler answers API Gateway events (HTTP API
// in payload format 2.0 and 1.0, and REST, replayed from testdata) with the
// real provider's tokens.
func TestUnderLambda(t *testing.T) {
	e := startE2E(t)
	alice := e.tokens("web", "alice", "openid orders/read")
	idToken, _ := alice.Extra("id_token").(string)
	h := lambdaHandler(e.handler, publicBasePath(e.base))
	for _, fixture := range []string{"httpapi_v2_api_orders.json", "httpapi_v1_api_orders.json", "rest_v1_api_orders.json"} {
		for _, tc := range []struct {
			name, token string
			status      int
		}{
			{"access token", alice.AccessToken, 200},
			{"ID token", idToken, 401},
			{"tampered", tamper(alice.AccessToken), 401},
		} {
			t.Run(fixture+"/"+tc.name, func(t *testing.T) {
				raw, err := os.ReadFile("testdata/" + fixture)
				if err != nil {
					t.Fatal(err)
				}
				out, err := h(context.Background(), json.RawMessage(strings.ReplaceAll(string(raw), "{{TOKEN}}", tc.token)))
				if err != nil {
					t.Fatal(err)
				}
				b, _ := json.Marshal(out)
				var resp struct {
					StatusCode int    `json:"statusCode"`
					Body       string `json:"body"`
				}
				json.Unmarshal(b, &resp)
				if resp.StatusCode != tc.status {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, resp.Body)
				}
				if tc.status == 200 && !strings.Contains(resp.Body, `"sub": "alice"`) {
					t.Errorf("body %s", resp.Body)
				}
			})
		}
	}
	if _, err := h(context.Background(), json.RawMessage(`[]`)); err == nil {
		t.Error("a non-object event was accepted")
	}
	if _, err := h(context.Background(), json.RawMessage(`{"version":"3.0","path":"/api/orders"}`)); err == nil {
		t.Error("an event of an unknown payload format version was served")
	}
}

func TestParseConfig(t *testing.T) {
	env := map[string]string{"OIDC_ISSUER": "https://idp.example.com", "OIDC_CLIENT_ID": "c",
		"PUBLIC_URL": "https://abc.execute-api.eu-west-1.amazonaws.com/prod/", "API_CLIENT_IDS": "a, b"}
	c, err := parseConfig(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.PublicURL != "https://abc.execute-api.eu-west-1.amazonaws.com/prod" ||
		c.APIURL != "https://abc.execute-api.eu-west-1.amazonaws.com/prod/api" || strings.Join(c.APIClientIDs, "|") != "a|b" ||
		c.RedirectURL != "https://abc.execute-api.eu-west-1.amazonaws.com/prod/callback" || c.TokenStoreURL != "memory://" ||
		strings.Join(c.Scopes, " ") != "openid email profile orders/read" {
		t.Errorf("%+v", c)
	}
	if _, err := parseConfig([]string{"-cookie-key", "short"}, func(k string) string { return env[k] }); err == nil {
		t.Error("bad COOKIE_KEY accepted")
	}
	if _, err := parseConfig(nil, func(string) string { return "" }); err == nil {
		t.Error("missing issuer accepted")
	}
}

// TestLambdaRedirectsKeepThePublicBasePath: redirects to an absolute path
// get PUBLIC_URL's path, also where the event can't tell it (an HTTP API
// behind a custom domain's API mapping: rawPath lacks the mapping).
func TestLambdaRedirectsKeepThePublicBasePath(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/login?return_to="+r.URL.Path, http.StatusFound)
	})
	h := lambdaHandler(app, publicBasePath("https://api.example.com/v1"))
	for name, ev := range map[string]string{
		"HTTP API": `{"version":"2.0","rawPath":"/orders","requestContext":{"domainName":"api.example.com","stage":"$default","http":{"method":"GET"}}}`,
		"REST":     `{"path":"/orders","httpMethod":"GET","requestContext":{"domainName":"api.example.com","stage":"prod","path":"/v1/orders"}}`,
		// Payload 1.0's path has the API mapping in front.
		"HTTP API 1.0": `{"version":"1.0","path":"/v1/orders","httpMethod":"GET","requestContext":{"domainName":"api.example.com","stage":"prod","path":"/v1/orders"}}`,
	} {
		out, err := h(context.Background(), json.RawMessage(ev))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, _ := json.Marshal(out)
		var resp struct {
			Headers           map[string]string   `json:"headers"`
			MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
		}
		if err := json.Unmarshal(b, &resp); err != nil {
			t.Fatal(err)
		}
		loc := resp.Headers["Location"]
		if l := resp.MultiValueHeaders["Location"]; len(l) == 1 {
			loc = l[0]
		}
		if loc != "/v1/login?return_to=/orders" {
			t.Errorf("%s: Location %q, want /v1/login?return_to=/orders", name, loc)
		}
	}
	for pub, want := range map[string]string{"https://abc.execute-api.eu-west-1.amazonaws.com/prod": "/prod", "https://api.example.com": "/", "http://127.0.0.1:8080": "/"} {
		if got := publicBasePath(pub); got != want {
			t.Errorf("publicBasePath(%q) = %q, want %q", pub, got, want)
		}
	}
}
