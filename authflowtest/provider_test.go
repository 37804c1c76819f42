package authflowtest_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/pubauth/awsauth/authflow"
	"github.com/pubauth/awsauth/authflow/bearer"
	"github.com/pubauth/awsauth/authflowtest"
	"github.com/pubauth/awsauth/tokenstore"
	"github.com/pubauth/awsauth/tokenstore/sqlstore"
)

var discard = slog.New(slog.DiscardHandler)

// newApp is an application as its authors write it: login, callback, logout
// and a page behind RequireLogin that shows the user and their groups.
func newApp(t *testing.T, op *authflowtest.Provider, store tokenstore.Store) (*authflow.Handler, http.Handler) {
	t.Helper()
	h, err := authflow.New(t.Context(), authflow.Config{
		Issuer: op.Issuer(), ClientID: "web", RedirectURL: "https://app.example.com/callback",
		Store: store, CookieKeys: [][]byte{bytes.Repeat([]byte{1}, 32)},
		Cognito: op.Cognito(), HTTPClient: op.HTTPClient(), Now: op.Now, Logger: discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /login", h.Login())
	mux.Handle("GET /callback", h.Callback())
	mux.Handle("POST /logout", h.Logout())
	mux.Handle("GET /me", h.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c struct {
			Groups []string `json:"cognito:groups"`
		}
		s := authflow.SessionFrom(r.Context())
		s.Claims(&c)
		fmt.Fprintf(w, "%s %v", s.Subject, c.Groups)
	})))
	return h, mux
}

func get(app http.Handler, path string, c *http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if c != nil {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	app.ServeHTTP(w, r)
	return w
}

// TestSignInEveryStore: the session SignIn makes lives in the app's own
// store, whichever it is: memory, encrypted, SQL (SQLite, in process).
func TestSignInEveryStore(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sqlite, err := sqlstore.New(db, sqlstore.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlite.CreateSchema(t.Context()); err != nil {
		t.Fatal(err)
	}
	encrypted, err := tokenstore.NewEncrypted(tokenstore.NewMemory(),
		[]tokenstore.EncryptionKey{{ID: "k1", Secret: bytes.Repeat([]byte{2}, 32)}})
	if err != nil {
		t.Fatal(err)
	}
	for name, store := range map[string]tokenstore.Store{
		"memory": tokenstore.NewMemory(), "encrypted": encrypted, "sqlite": sqlite,
	} {
		t.Run(name, func(t *testing.T) {
			op := authflowtest.NewProvider(t)
			_, app := newApp(t, op, store)
			c := op.SignIn(t, app, "/login?return_to=/me", authflowtest.User{Subject: "bob", Groups: []string{"admin"}})
			if w := get(app, "/me", c); w.Code != 200 || w.Body.String() != "bob [admin]" {
				t.Fatalf("signed in: %d %q", w.Code, w.Body)
			}
			if w := get(app, "/me", nil); w.Code != http.StatusFound || !strings.HasPrefix(w.Header().Get("Location"), "/login") {
				t.Fatalf("signed out: %d %q", w.Code, w.Header().Get("Location"))
			}
		})
	}
}

// TestRefreshAndGlobalSignOut: on the provider's clock a token expires with
// no sleep; the app refreshes it once; after GlobalSignOut the next refresh
// is refused and the session ends.
func TestRefreshAndGlobalSignOut(t *testing.T) {
	for _, rotate := range []bool{false, true} {
		t.Run(fmt.Sprint("rotate=", rotate), func(t *testing.T) {
			op := authflowtest.NewProvider(t, func(o *authflowtest.Options) {
				o.TokenLifetime = 5 * time.Minute
				o.RotateRefreshTokens = rotate
			})
			_, app := newApp(t, op, nil)
			c := op.SignIn(t, app, "/login", authflowtest.User{})
			for i := 1; i <= 2; i++ {
				op.Advance(5 * time.Minute)
				if w := get(app, "/me", c); w.Code != 200 || !strings.HasPrefix(w.Body.String(), "alice ") {
					t.Fatalf("after %d expiries: %d %q", i, w.Code, w.Body)
				}
				if n := op.TokenRequests("refresh_token"); n != i {
					t.Fatalf("%d refreshes, want %d", n, i)
				}
			}
			op.GlobalSignOut("alice")
			op.Advance(5 * time.Minute)
			if w := get(app, "/me", c); w.Code != http.StatusFound {
				t.Fatalf("after GlobalSignOut: %d, want a redirect to sign in", w.Code)
			}
		})
	}
}

// TestLogout: the app's logout revokes the refresh token at the provider and
// sends the browser to its end-session endpoint; the cookie is dead.
func TestLogout(t *testing.T) {
	op := authflowtest.NewProvider(t)
	h, app := newApp(t, op, nil)
	c := op.SignIn(t, app, "/login", authflowtest.User{})
	r := httptest.NewRequest(http.MethodPost, "/logout", nil)
	r.AddCookie(c)
	r.Header.Set(authflow.CSRFHeader, h.CSRFToken(r))
	w := httptest.NewRecorder()
	app.ServeHTTP(w, r)
	loc, _ := url.Parse(w.Header().Get("Location"))
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(loc.String(), op.Issuer()+"/logout?") {
		t.Fatalf("logout: %d %q", w.Code, loc)
	}
	if got := loc.Query().Get("post_logout_redirect_uri"); got != "https://app.example.com/" {
		t.Errorf("post_logout_redirect_uri %q", got)
	}
	// The refresh token was revoked (RFC 7009): a refresh would be refused.
	if w := get(app, "/me", c); w.Code != http.StatusFound {
		t.Fatalf("after logout: %d", w.Code)
	}
}

func newVerifier(t *testing.T, op *authflowtest.Provider, iss bearer.Issuer) *bearer.Verifier {
	t.Helper()
	v, err := bearer.New(t.Context(), bearer.Config{
		Issuers: []bearer.Issuer{iss}, HTTPClient: op.HTTPClient(), Now: op.Now, Logger: discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestBearerFlaws: every Flaw, and an ID token, are refused by bearer; a
// good token with too few scopes or groups is refused by the requirements.
func TestBearerFlaws(t *testing.T) {
	for _, cognitoShape := range []bool{true, false} {
		t.Run(fmt.Sprint("cognito=", cognitoShape), func(t *testing.T) {
			op := authflowtest.NewProvider(t, func(o *authflowtest.Options) {
				if !cognitoShape {
					o.Audience = "https://api.example.com"
				}
			})
			iss := bearer.Issuer{Issuer: op.Issuer(), ClientIDs: []string{authflowtest.DefaultClientID}}
			if !cognitoShape {
				iss.Audiences, iss.TokenUseOptional, iss.RequireATJWT = []string{"https://api.example.com"}, true, true
			}
			v := newVerifier(t, op, iss)
			api := v.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, bearer.ClaimsFrom(r.Context()).Subject)
			}), bearer.Scopes("orders/read"), bearer.Groups("admin"))
			alice := authflowtest.User{Subject: "alice", Groups: []string{"admin"}}
			call := func(token string) int {
				r := httptest.NewRequest(http.MethodGet, "/orders", nil)
				r.Header.Set("Authorization", "Bearer "+token)
				w := httptest.NewRecorder()
				api.ServeHTTP(w, r)
				return w.Code
			}
			good := authflowtest.Token{User: alice, Scopes: []string{"orders/read"}}
			if code := call(op.AccessToken(good)); code != 200 {
				t.Fatalf("good token: %d", code)
			}
			for name, tc := range map[string]struct {
				token string
				want  int
			}{
				"expired":        {op.AccessToken(flawed(good, authflowtest.Expired)), 401},
				"other audience": {op.AccessToken(flawed(good, authflowtest.OtherAudience)), 401},
				"other issuer":   {op.AccessToken(flawed(good, authflowtest.OtherIssuer)), 401},
				"unknown key":    {op.AccessToken(flawed(good, authflowtest.UnknownKey)), 401},
				"bad signature":  {op.AccessToken(flawed(good, authflowtest.BadSignature)), 401},
				"ID token":       {op.IDToken(good), 401},
				"logout token":   {op.LogoutToken(good, "sid-1"), 401},
				"no scope":       {op.AccessToken(authflowtest.Token{User: alice}), 403},
				"no group":       {op.AccessToken(authflowtest.Token{User: authflowtest.User{Subject: "bob"}, Scopes: good.Scopes}), 403},
			} {
				if code := call(tc.token); code != tc.want {
					t.Errorf("%s: %d, want %d", name, code, tc.want)
				}
			}

			// Rotation: a token on the new key makes the verifier refetch
			// (once per RefetchInterval on its clock: the unknown-key token
			// above spent this interval's); the old key stays published.
			old := op.AccessToken(good)
			op.RotateKeys()
			op.Advance(10 * time.Second) // bearer's default RefetchInterval
			if code := call(op.AccessToken(good)); code != 200 {
				t.Fatalf("after rotation: %d", code)
			}
			if code := call(old); code != 200 {
				t.Fatalf("a token on the earlier key after rotation: %d", code)
			}
		})
	}
}

func flawed(tok authflowtest.Token, f authflowtest.Flaw) authflowtest.Token {
	tok.Flaw = f
	return tok
}

// TestCognitoPool: with a Cognito pool the app's production configuration
// (authflow.CognitoIssuer, authflow.Cognito's domain, bearer.Cognito) signs
// in, logs out through the managed login domain and verifies access tokens,
// all routed to the provider by its HTTPClient.
func TestCognitoPool(t *testing.T) {
	for _, typ := range []string{"ORIGINAL", "UPDATED"} {
		t.Run(typ, func(t *testing.T) {
			pool := authflow.CognitoPool{ID: "eu-west-1_Kit123", IssuerType: typ}
			op := authflowtest.NewProvider(t, func(o *authflowtest.Options) { o.CognitoPool = &pool })
			if want, _ := authflow.CognitoIssuer(pool); op.Issuer() != want {
				t.Fatalf("issuer %q, want %q", op.Issuer(), want)
			}
			h, app := newApp(t, op, nil)
			c := op.SignIn(t, app, "/login", authflowtest.User{Subject: "carol"})
			if w := get(app, "/me", c); w.Code != 200 || !strings.HasPrefix(w.Body.String(), "carol") {
				t.Fatalf("signed in: %d %q", w.Code, w.Body)
			}
			r := httptest.NewRequest(http.MethodPost, "/logout", nil)
			r.AddCookie(c)
			r.Header.Set(authflow.CSRFHeader, h.CSRFToken(r))
			w := httptest.NewRecorder()
			app.ServeHTTP(w, r)
			if loc := w.Header().Get("Location"); !strings.HasPrefix(loc, "https://authflowtest.auth.eu-west-1.amazoncognito.com/logout?client_id=web") {
				t.Fatalf("logout to %q", loc)
			}

			v := newVerifier(t, op, bearer.Cognito(pool, "m2m-client", authflowtest.DefaultClientID))
			for name, tok := range map[string]string{
				"user":   op.AccessToken(authflowtest.Token{Scopes: []string{"orders/read"}}),
				"client": op.ClientCredentialsToken(authflowtest.Token{ClientID: "m2m-client", Scopes: []string{"orders/read"}}),
			} {
				c, err := v.Verify(t.Context(), tok)
				if err != nil || !c.HasScope("orders/read") {
					t.Errorf("%s: %v", name, err)
				}
			}
			if _, err := op.HTTPClient().Get("https://example.com/"); err == nil {
				t.Error("the provider's client reached another host")
			}
		})
	}
}

// TestClientCredentialsGrant: the token endpoint issues M2M tokens too.
func TestClientCredentialsGrant(t *testing.T) {
	op := authflowtest.NewProvider(t)
	resp, err := op.HTTPClient().PostForm(op.Issuer()+"/oauth2/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {"svc"}, "scope": {"orders/read"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %v", resp.StatusCode, err)
	}
	v := newVerifier(t, op, bearer.Issuer{Issuer: op.Issuer(), ClientIDs: []string{"svc"}})
	c, err := v.Verify(t.Context(), body.AccessToken)
	if err != nil || c.Subject != "svc" || !c.HasScope("orders/read") || c.Username != "" {
		t.Fatalf("%+v %v", c, err)
	}
}
