package authflow_test

// Step-up and per-login parameters end to end, in headless Chromium against
// the real OpenID provider (node oidc-provider, started by internal/testenv;
// install both with scripts/deps.sh): prompt=login and max_age make the
// provider show its login form again and the callback checks auth_time; a
// page behind RequireRecentLogin sends the browser through a step-up login
// and back to itself; a step-up request edited on its way is refused.

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/authflow"
	"github.com/pubauth/awsauth/internal/testenv"
	"github.com/pubauth/awsauth/internal/testenv/browser"
)

func TestStepUpInBrowser(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base := "http://" + ln.Addr().String()
	op, err := testenv.StartOIDC(t.Context(), testenv.OIDCConfig{Clients: []testenv.OIDCClient{{
		ID: "web-stepup", RedirectURIs: []string{base + "/callback"}, PostLogoutRedirectURIs: []string{base + "/"},
	}}})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Stop() })

	// One second of skew: the provider runs on this machine's clock, and the
	// max_age below is two seconds.
	const skew, maxAge = time.Second, 2 * time.Second
	logs := &syncBuf{}
	h, err := authflow.New(t.Context(), authflow.Config{
		Issuer: op.Issuer, ClientID: "web-stepup", RedirectURL: base + "/callback",
		CookieKeys: [][]byte{bytes.Repeat([]byte{5}, 32)}, ClockSkew: skew,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(t, err)
	show := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := authflow.SessionFrom(r.Context())
		json.NewEncoder(w).Encode(map[string]any{"page": r.URL.RequestURI(), "sub": s.Subject, "auth_time": s.AuthTime.Unix(), "id": s.ID})
	})
	mux := http.NewServeMux()
	mux.Handle("/login", h.Login())
	mux.Handle("/login/fresh", h.LoginWith(authflow.LoginOptions{Prompt: "login"}))
	mux.Handle("/login/recent", h.LoginWith(authflow.LoginOptions{MaxAge: maxAge}))
	mux.Handle("/callback", h.Callback())
	mux.Handle("/me", h.RequireLogin(show))
	mux.Handle("/secure", h.RequireRecentLogin(maxAge)(show))
	// A step-up request whose prompt and max_age the browser's user removed
	// on the way to the provider.
	mux.HandleFunc("/login/edited", func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.LoginWith(authflow.LoginOptions{Prompt: "login", MaxAge: maxAge}).ServeHTTP(rec, r)
		for _, c := range rec.Header().Values("Set-Cookie") {
			w.Header().Add("Set-Cookie", c)
		}
		u, err := url.Parse(rec.Header().Get("Location"))
		require.NoError(t, err)
		q := u.Query()
		q.Del("prompt")
		q.Del("max_age")
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)

	bctx, cancel, err := browser.New(t.Context())
	require.NoError(t, err)
	t.Cleanup(cancel)
	navigate := func(path string) {
		t.Helper()
		require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(base+path)))
	}
	// page waits for the browser to show the app's path (with that query, or
	// any when path has none; the callback's redirect may still be under way)
	// and returns the page's text.
	page := func(path string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(bctx, 15*time.Second)
		defer cancel()
		var loc, text string
		for {
			st, err := chromedp.Run(ctx, chromedp.Evaluate[struct{ Href, Ready, Text string }](
				`({Href: location.href, Ready: document.readyState, Text: document.body ? document.body.innerText : ""})`))
			loc, text = st.Href, st.Text
			if u, _ := url.Parse(loc); err == nil && u != nil && st.Ready == "complete" && strings.HasPrefix(loc, base) &&
				(u.RequestURI() == path || !strings.Contains(path, "?") && u.Path == path) {
				return text
			}
			select {
			case <-ctx.Done():
				t.Fatalf("the browser is at %s, not %s: %.300s\n%s", loc, path, text, logs)
			case <-time.After(50 * time.Millisecond): // polling the page, bounded by ctx
			}
		}
	}
	session := func(path string) map[string]any {
		t.Helper()
		var v map[string]any
		text := page(path)
		require.NoError(t, json.Unmarshal([]byte(text), &v), text)
		return v
	}
	login := func(what string) {
		t.Helper()
		require.NoError(t, browser.ProviderLogin(bctx, "alice"), "%s: the provider's login form\n%s", what, op.Logs())
	}

	// A first login, with no parameters: the provider's login form.
	navigate("/me")
	login("first login")
	first := session("/me")
	assert.Equal(t, "alice", first["sub"])

	// The step-up page: the session shows no recent authentication (no
	// auth_time was asked at the first login), so the browser goes through a
	// step-up login (prompt=login, max_age) and comes back to the same page.
	navigate("/secure?order=7")
	login("step-up")
	stepped := session("/secure?order=7")
	assert.NotEqual(t, first["id"], stepped["id"], "a new session")
	stepTime := int64(stepped["auth_time"].(float64))
	assert.InDelta(t, time.Now().Unix(), stepTime, 5, "auth_time recorded and recent")
	navigate("/secure?order=7")
	assert.Equal(t, stepped["id"], session("/secure?order=7")["id"], "recent enough: served at once")

	// prompt=login: the provider shows its form although its session is
	// alive, and auth_time says so.
	before := time.Now().Unix()
	navigate("/login/fresh?return_to=/me")
	login("prompt=login")
	fresh := session("/me")
	assert.GreaterOrEqual(t, int64(fresh["auth_time"].(float64)), before-1)

	// The same step-up with prompt and max_age removed from the request: the
	// provider answers at once, with no auth_time, and the callback refuses;
	// the session stays as it was.
	navigate("/login/edited?return_to=/me")
	assert.Contains(t, page("/callback"), "Sign-in could not be completed")
	assert.Contains(t, logs.String(), authflow.ErrInsufficientAuthentication.Error())
	navigate("/me")
	assert.Equal(t, fresh["id"], session("/me")["id"])

	// max_age: once the provider's session is older than max_age, it shows
	// its form again, and the new auth_time is within max_age.
	authTime := time.Unix(int64(fresh["auth_time"].(float64)), 0)
	time.Sleep(time.Until(authTime.Add(maxAge + skew + time.Second))) // the subject of the test: time passing
	navigate("/login/recent?return_to=/me")
	login("max_age")
	recent := session("/me")
	assert.Greater(t, int64(recent["auth_time"].(float64)), authTime.Unix())
	assert.NotContains(t, op.Logs(), "error")
}
