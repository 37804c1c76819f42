package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pubauth/awsauth/authflow"
	"github.com/pubauth/awsauth/authflow/bearer"
	"github.com/pubauth/awsauth/internal/testenv/browser"
	"github.com/pubauth/awsauth/internal/testenv/stack"
)

// These tests start the real peers (node oidc-provider, MinIO, Chromium;
// scripts/deps.sh installs them): a missing one fails them.

func TestReadDevEnv(t *testing.T) {
	env := map[string]string{
		envRedirectURIs:   "http://127.0.0.1:3000/callback, https://app.test/cb",
		envPostLogoutURIs: "http://127.0.0.1:3000/",
		envAPIScopes:      "notes/read,notes/write  admin",
	}
	e, err := readDevEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.redirectURIs, []string{"http://127.0.0.1:3000/callback", "https://app.test/cb"}) ||
		!slices.Equal(e.postLogoutURIs, []string{"http://127.0.0.1:3000/"}) ||
		!slices.Equal(e.apiScopes, []string{"notes/read", "notes/write", "admin"}) {
		t.Fatalf("%+v", e)
	}
	for _, bad := range []string{"/callback", "127.0.0.1:3000/callback", "ftp://h/cb", "http://u:p@h/cb", "http://h/cb#x", "http:///cb"} {
		for _, name := range []string{envRedirectURIs, envPostLogoutURIs} {
			_, err := readDevEnv(func(k string) string {
				if k == name {
					return bad
				}
				return ""
			})
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%q: %v", name, bad, err)
			}
		}
	}
}

// notesApp is an app of one's own, not the quickstart: sign-in with
// authflow and an API behind a bearer.Verifier needing notes/read, both
// configured from make dev's settings block.
type notesApp struct {
	url  string
	auth *authflow.Handler
	api  *bearer.Verifier
	logs bytes.Buffer
}

var notesHome = template.Must(template.New("home").Parse(`<!DOCTYPE html><title>notes</title>
{{if .}}<form method="post" action="/logout"><input type="hidden" name="csrf_token" value="{{.}}"><button id="logout">Sign out</button></form>
{{else}}<a id="login" href="/login?return_to=/me">Sign in</a>{{end}}`))

func startNotesApp(t *testing.T, ln net.Listener, set map[string]string) *notesApp {
	t.Helper()
	a := &notesApp{url: "http://" + ln.Addr().String()}
	logger := slog.New(slog.NewTextHandler(&a.logs, nil))
	key := make([]byte, 32)
	rand.Read(key)
	var err error
	a.auth, err = authflow.New(t.Context(), authflow.Config{
		Issuer:                set["OIDC_ISSUER"],
		ClientID:              set["OIDC_CLIENT_ID"], // a public client: no secret
		RedirectURL:           a.url + "/auth/callback",
		PostLogoutRedirectURL: a.url + "/signed-out",
		Scopes:                []string{"openid", "notes/read"},
		AuthParams:            map[string]string{"resource": set["OIDC_RESOURCE"]},
		CookieKeys:            [][]byte{key},
		// The quickstart may run on the same host: cookies ignore ports.
		SessionCookieName: "__Host-notes-session",
		Logger:            logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	a.api, err = bearer.New(t.Context(), bearer.Config{Issuers: []bearer.Issuer{{
		Issuer:    set["OIDC_ISSUER"],
		ClientIDs: []string{set["OIDC_CLIENT_ID"]},
		KeySet:    a.auth.KeySet(),
	}}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		notesHome.Execute(w, a.auth.CSRFToken(r))
	})
	mux.HandleFunc("GET /signed-out", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!DOCTYPE html><title>notes</title><p id="signed-out">Signed out of notes.</p>`)
	})
	mux.Handle("GET /login", a.auth.Login())
	mux.Handle("GET /auth/callback", a.auth.Callback())
	mux.Handle("POST /logout", a.auth.Logout())
	// The signed-in page checks the session's own access token with the
	// API's verifier: the login's scope reached it.
	mux.Handle("GET /me", a.auth.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := authflow.SessionFrom(r.Context())
		ts, err := a.auth.Tokens(r.Context(), s.ID)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		var scope string
		c, err := a.api.Verify(r.Context(), ts.AccessToken)
		if err == nil {
			scope = strings.Join(c.Scopes, " ")
			err = bearer.Apply(r.Context(), c, bearer.Scopes("notes/read"))
		}
		json.NewEncoder(w).Encode(map[string]any{"sub": s.Subject, "access_token_ok": err == nil, "scope": scope})
	})))
	mux.Handle("GET /api/notes", a.api.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := bearer.ClaimsFrom(r.Context())
		json.NewEncoder(w).Encode(map[string]any{"sub": c.Subject, "client_id": c.ClientID, "scope": strings.Join(c.Scopes, " ")})
	}), bearer.Scopes("notes/read")))
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return a
}

// exports reads the settings block's "export NAME=VALUE" lines.
func exports(t *testing.T, block string) map[string]string {
	t.Helper()
	set := map[string]string{}
	for line := range strings.Lines(block) {
		if kv, ok := strings.CutPrefix(strings.TrimSpace(line), "export "); ok {
			k, v, _ := strings.Cut(kv, "=")
			set[k] = v
		}
	}
	return set
}

// TestOwnAppAgainstDevStack: an app of one's own (not the quickstart), on
// its own port and paths, configured from the settings block make dev
// prints, with its callback, post-logout page and API scopes added through
// DEV_REDIRECT_URIS, DEV_POST_LOGOUT_URIS and DEV_API_SCOPES: alice signs in
// through the provider's form in Chromium; the -token command's bearer token
// with notes/read passes the app's API (one with orders/read only is 403,
// an unknown scope is refused by the command); sign-out lands on the app's
// own page.
func TestOwnAppAgainstDevStack(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	appURL := "http://" + ln.Addr().String()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	quickstartAddr := fmt.Sprintf("127.0.0.1:%d", port) // registered, not started
	env, err := readDevEnv(func(k string) string {
		return map[string]string{
			envRedirectURIs:   appURL + "/auth/callback",
			envPostLogoutURIs: appURL + "/signed-out",
			envAPIScopes:      "notes/read notes/write",
		}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	startCtx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	st, err := stack.Start(startCtx, env.stackConfig("http://"+quickstartAddr, 0, 0))
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Stop() })

	block := settings(st, quickstartAddr)
	t.Logf("settings block:\n%s", block)
	set := exports(t, block)
	for k, want := range map[string]string{
		"OIDC_ISSUER": st.OIDC.Issuer, "OIDC_CLIENT_ID": stack.ClientID, "OIDC_RESOURCE": st.APIResource,
		"ROLE_ARN": st.MinIO.RoleARN, "S3_BUCKET": stack.Bucket, "S3_PATH_STYLE": "true",
		"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": st.MinIO.Endpoint,
	} {
		if set[k] != want || want == "" {
			t.Errorf("settings: %s=%q, want %q", k, set[k], want)
		}
	}
	for _, want := range []string{appURL + "/auth/callback", appURL + "/signed-out", "notes/read notes/write", "public client", "-token "} {
		if !strings.Contains(block, want) {
			t.Errorf("settings block lacks %q", want)
		}
	}

	app := startNotesApp(t, ln, set)
	bctx, closeBrowser, err := browser.New(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer closeBrowser()
	bctx, cancelB := context.WithTimeout(bctx, 90*time.Second)
	defer cancelB()

	// Sign in through the app's own callback.
	if err := chromedp.Do(bctx, chromedp.Navigate(app.url+"/"), chromedp.Click(chromedp.ID("login"))); err != nil {
		t.Fatal(err)
	}
	if err := browser.ProviderLogin(bctx, "alice"); err != nil {
		t.Fatalf("%v\n%s", err, st.OIDC.Logs())
	}
	page, err := pageJSON(bctx, "")
	if err != nil {
		t.Fatalf("%v\n%s", err, app.logs.String())
	}
	var me struct {
		Sub           string `json:"sub"`
		AccessTokenOK bool   `json:"access_token_ok"`
		Scope         string `json:"scope"`
	}
	if err := json.Unmarshal([]byte(page), &me); err != nil || me.Sub != "alice" || !me.AccessTokenOK || me.Scope != "notes/read" {
		t.Fatalf("/me after sign-in: %s (%v)", page, err)
	}

	// Its own bearer token, with its own scope, from the -token command.
	token := func(scopes string) (string, error) {
		req := devTokenRequest(set["OIDC_ISSUER"], "alice", scopes)
		req.RedirectURI = st.RedirectURIs[0] // make dev's is the quickstart's callback too
		var out bytes.Buffer
		err := printToken(t.Context(), &out, req)
		return strings.TrimSuffix(out.String(), "\n"), err
	}
	call := func(tok string) (int, string, map[string]any) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, app.url+"/api/notes", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body
	}
	notes, err := token("notes/read")
	if err != nil {
		t.Fatalf("-token notes/read: %v\n%s", err, st.OIDC.Logs())
	}
	if status, _, body := call(notes); status != http.StatusOK || body["sub"] != "alice" || body["client_id"] != stack.ClientID || body["scope"] != "notes/read" {
		t.Fatalf("API with notes/read: %d %v", status, body)
	}
	orders, err := token("orders/read")
	if err != nil {
		t.Fatal(err)
	}
	if status, challenge, _ := call(orders); status != http.StatusForbidden || !strings.Contains(challenge, `error="insufficient_scope"`) {
		t.Errorf("API with orders/read only: %d %q, want 403 insufficient_scope", status, challenge)
	}
	if _, err := token("notes/delete"); err == nil || !strings.Contains(err.Error(), envAPIScopes) {
		t.Errorf("-token with a scope the API does not know: %v, want an error naming %s", err, envAPIScopes)
	}

	// Sign out, back to the app's own page.
	err = chromedp.Do(bctx, chromedp.Navigate(app.url+"/"), chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("signed-out")))
	if err != nil {
		t.Fatalf("sign-out: %v\n%s", err, st.OIDC.Logs())
	}
	loc, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil || loc != app.url+"/signed-out" {
		t.Fatalf("after sign-out at %q (%v), want %s/signed-out", loc, err, app.url)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(app.url+"/me")); err != nil {
		t.Fatal(err)
	}
	if loc, _ := chromedp.Run(bctx, chromedp.Location()); !strings.HasPrefix(loc, set["OIDC_ISSUER"]+"/") {
		t.Errorf("/me after sign-out is at %q, want the provider", loc)
	}
	if strings.Contains(app.logs.String(), notes[len(notes)-20:]) {
		t.Error("a token reached the app's logs")
	}
}
