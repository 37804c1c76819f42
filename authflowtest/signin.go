package authflowtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// SignIn signs u in to app, the application's own handler (its mux, with
// authflow.Handler's Login and Callback routes), and returns the session
// cookie app set: add it to a request (r.AddCookie) to make that request
// signed in. A zero u.Subject signs in Options.User.
//
// It runs the sign-in as a browser would, with no browser and no network
// beyond loopback: GET loginURL (a path of app, such as "/login" or
// "/login?return_to=/orders") through app; the redirect it answers must be
// to this provider's authorization endpoint, which approves u at once; the
// redirect back (the redirect_uri with code and state) goes through app
// again, with the cookies the login set, and must answer 303 with one
// cookie set. In between, app redeems the code at the token endpoint over
// loopback HTTP, verifies the ID token, and stores the session in its
// tokenstore.Store: everything is app's production code path. App's
// authflow.Config must name this provider (Issuer) and reach it (HTTPClient,
// or nil for a generic provider).
//
// SignIn calls t.Fatalf, with the status and the start of the body, when
// app or the provider answers otherwise.
func (p *Provider) SignIn(t testing.TB, app http.Handler, loginURL string, u User) *http.Cookie {
	t.Helper()
	login := serve(app, httptest.NewRequest(http.MethodGet, loginURL, nil))
	if login.StatusCode != http.StatusFound {
		t.Fatalf("authflowtest: GET %s: %s, want 302 to the provider: %s", loginURL, login.Status, excerpt(login))
	}
	authURL, err := url.Parse(login.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(authURL.String(), p.endpoints+authorizePath+"?") {
		t.Fatalf("authflowtest: GET %s redirected to %q, not to the provider's authorization endpoint %s",
			loginURL, login.Header.Get("Location"), p.endpoints+authorizePath)
	}

	// The authorization endpoint, in process so that it knows u.
	auth := httptest.NewRequest(http.MethodGet, authURL.String(), nil)
	auth = auth.WithContext(withUser(auth.Context(), u))
	approved := serve(p.srv.Config.Handler, auth)
	back, err := url.Parse(approved.Header.Get("Location"))
	if approved.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("authflowtest: the provider refused the authorization request: %s: %s", approved.Status, excerpt(approved))
	}

	cb := httptest.NewRequest(http.MethodGet, back.RequestURI(), nil)
	for _, c := range login.Cookies() {
		if c.Value != "" {
			cb.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
	done := serve(app, cb)
	if done.StatusCode != http.StatusSeeOther {
		t.Fatalf("authflowtest: GET %s (the callback): %s, want 303: %s", back.Path, done.Status, excerpt(done))
	}
	var session *http.Cookie
	for _, c := range done.Cookies() {
		if c.Value == "" || c.MaxAge < 0 {
			continue // the flow cookie, cleared
		}
		if session != nil {
			t.Fatalf("authflowtest: the callback set cookies %s and %s; want one session cookie", session.Name, c.Name)
		}
		session = c
	}
	if session == nil {
		t.Fatalf("authflowtest: the callback set no session cookie")
	}
	return session
}

// serve runs r through h and returns the response.
func serve(h http.Handler, r *http.Request) *http.Response {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

// excerpt is the start of a response body, for a failure message.
func excerpt(resp *http.Response) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	return strings.TrimSpace(string(b))
}
