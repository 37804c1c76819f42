package kitdemo

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pubauth/awsauth/authflow"
	"github.com/pubauth/awsauth/authflowtest"
	"github.com/pubauth/awsauth/tokenstore"
)

// These tests use authflowtest only: the provider runs in the test process,
// sign-in goes through the app's own handlers, and nothing is dialled but
// the provider on loopback. The whole file runs in well under 2 s.

// newTestApp starts a provider and the app configured for it, as
// production configures it for the real one.
func newTestApp(t *testing.T, optFns ...func(*authflowtest.Options)) (*authflowtest.Provider, http.Handler) {
	t.Helper()
	op := authflowtest.NewProvider(t, optFns...)
	app, err := New(t.Context(), Config{
		Issuer: op.Issuer(), ClientID: "kitdemo", RedirectURL: "https://kitdemo.example.com/callback",
		CookieKeys: [][]byte{bytes.Repeat([]byte{9}, 32)}, Store: tokenstore.NewMemory(),
		HTTPClient: op.HTTPClient(), Now: op.Now, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return op, app
}

func do(app http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	app.ServeHTTP(w, r)
	return w
}

func page(app http.Handler, path string, c *http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if c != nil {
		r.AddCookie(c)
	}
	return do(app, r)
}

func TestSignedInPage(t *testing.T) {
	op, app := newTestApp(t)
	c := op.SignIn(t, app, "/login?return_to=/orders", authflowtest.User{Subject: "alice"})
	w := page(app, "/orders", c)
	var body struct {
		Sub    string   `json:"sub"`
		Orders []string `json:"orders"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); w.Code != 200 || err != nil || body.Sub != "alice" || len(body.Orders) != 2 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if w := page(app, "/", c); !strings.Contains(w.Body.String(), `<b id="sub">alice</b>`) {
		t.Errorf("home page: %s", w.Body)
	}
}

func TestSignedOutRedirect(t *testing.T) {
	_, app := newTestApp(t)
	w := page(app, "/orders", nil)
	if w.Code != http.StatusFound || w.Header().Get("Location") != "/login?return_to=%2Forders" {
		t.Fatalf("%d %q", w.Code, w.Header().Get("Location"))
	}
	if w := page(app, "/", nil); !strings.Contains(w.Body.String(), `href="/login"`) {
		t.Errorf("home page: %s", w.Body)
	}
}

func TestAPI(t *testing.T) {
	op, app := newTestApp(t)
	alice := authflowtest.User{Subject: "alice", Groups: []string{"admin"}}
	bob := authflowtest.User{Subject: "bob"}
	read := []string{"orders/read"}
	for _, tc := range []struct {
		name, path string
		token      string
		status     int
	}{
		{"alice reads", "/api/orders", op.AccessToken(authflowtest.Token{User: alice, ClientID: "kitdemo", Scopes: read}), 200},
		{"admin reads all", "/api/admin/orders", op.AccessToken(authflowtest.Token{User: alice, ClientID: "kitdemo", Scopes: read}), 200},
		{"bob is no admin", "/api/admin/orders", op.AccessToken(authflowtest.Token{User: bob, ClientID: "kitdemo", Scopes: read}), 403},
		{"no orders/read", "/api/orders", op.AccessToken(authflowtest.Token{User: alice, ClientID: "kitdemo", Scopes: []string{"orders/write"}}), 403},
		{"a service with orders/read", "/api/orders", op.ClientCredentialsToken(authflowtest.Token{ClientID: "kitdemo", Scopes: read}), 200},
		{"no token", "/api/orders", "", 401},
		{"expired", "/api/orders", op.AccessToken(authflowtest.Token{User: alice, ClientID: "kitdemo", Scopes: read, Flaw: authflowtest.Expired}), 401},
		{"another app's token", "/api/orders", op.AccessToken(authflowtest.Token{User: alice, Scopes: read}), 401},
		{"signed by another key", "/api/orders", op.AccessToken(authflowtest.Token{User: alice, ClientID: "kitdemo", Scopes: read, Flaw: authflowtest.UnknownKey}), 401},
		{"an ID token", "/api/orders", op.IDToken(authflowtest.Token{User: alice, ClientID: "kitdemo"}), 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.path, nil)
			if tc.token != "" {
				r.Header.Set("Authorization", "Bearer "+tc.token)
			}
			w := do(app, r)
			if w.Code != tc.status {
				t.Fatalf("%d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if tc.status != 200 && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q", w.Header().Get("WWW-Authenticate"))
			}
		})
	}
}

// TestRefresh: the access token expires on the provider's clock, which the
// app shares; the next request refreshes it once, with no sleep. When the
// provider refuses the refresh token (the user signed out everywhere), the
// session ends and the user is sent to sign in.
func TestRefresh(t *testing.T) {
	op, app := newTestApp(t, func(o *authflowtest.Options) {
		o.TokenLifetime = 5 * time.Minute
		o.RotateRefreshTokens = true
	})
	c := op.SignIn(t, app, "/login", authflowtest.User{Subject: "alice"})
	for i := 1; i <= 3; i++ {
		op.Advance(5 * time.Minute)
		if w := page(app, "/orders", c); w.Code != 200 {
			t.Fatalf("after %d lifetimes: %d", i, w.Code)
		}
		if n := op.TokenRequests("refresh_token"); n != i {
			t.Fatalf("%d refreshes after %d lifetimes", n, i)
		}
	}
	op.GlobalSignOut("alice")
	op.Advance(5 * time.Minute)
	if w := page(app, "/orders", c); w.Code != http.StatusFound {
		t.Fatalf("after GlobalSignOut: %d", w.Code)
	}
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// TestLogout: the home page's form signs out (CSRF token from the page);
// the browser goes to the provider's end-session endpoint and back; the old
// cookie opens nothing. Without the token the form is refused.
func TestLogout(t *testing.T) {
	op, app := newTestApp(t)
	c := op.SignIn(t, app, "/login", authflowtest.User{Subject: "alice"})
	m := csrfField.FindStringSubmatch(page(app, "/", c).Body.String())
	if m == nil {
		t.Fatal("no logout form")
	}
	post := func(form url.Values) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/logout", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.AddCookie(c)
		return do(app, r)
	}
	if w := post(nil); w.Code != http.StatusForbidden {
		t.Fatalf("logout without the CSRF token: %d", w.Code)
	}
	w := post(url.Values{authflow.CSRFField: {m[1]}})
	loc, _ := url.Parse(w.Header().Get("Location"))
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(loc.String(), op.Issuer()+"/logout?") ||
		loc.Query().Get("post_logout_redirect_uri") != "https://kitdemo.example.com/" {
		t.Fatalf("logout: %d %q", w.Code, loc)
	}
	if w := page(app, "/orders", c); w.Code != http.StatusFound {
		t.Fatalf("the old cookie after logout: %d", w.Code)
	}
}
