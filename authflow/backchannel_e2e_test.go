package authflow_test

// End to end against node oidc-provider with features.backchannelLogout
// (internal/testenv's StartOIDC) and headless Chromium
// (internal/testenv/browser): scripts/deps.sh installs both. Two instances of
// one app, each its own Handler and HTTP server, share one store; logins
// complete on instance 0, the provider's back-channel logout requests go to
// instance 1.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/authflow"
	"github.com/pubauth/awsauth/internal/testenv"
	"github.com/pubauth/awsauth/internal/testenv/browser"
	"github.com/pubauth/awsauth/tokenstore"
)

type bclCluster struct {
	t    *testing.T
	ctx  context.Context
	op   *testenv.OIDCProvider
	urls []string
	hs   []*authflow.Handler

	mu    sync.Mutex
	ended map[int][]string // OnSessionEnd's handles by instance
}

func startBCLCluster(t *testing.T) *bclCluster {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	c := &bclCluster{t: t, ctx: ctx, ended: map[int][]string{}}
	lns := make([]net.Listener, 2)
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		lns[i] = ln
		c.urls = append(c.urls, "http://"+ln.Addr().String())
	}
	op, err := testenv.StartOIDC(ctx, testenv.OIDCConfig{Clients: []testenv.OIDCClient{{
		ID:                               "bcl-app",
		RedirectURIs:                     []string{c.urls[0] + "/callback"},
		PostLogoutRedirectURIs:           []string{c.urls[0] + "/"},
		BackchannelLogoutURI:             c.urls[1] + "/backchannel",
		BackchannelLogoutSessionRequired: true,
	}}})
	require.NoError(t, err)
	t.Cleanup(func() { op.Stop() })
	c.op = op

	store := tokenstore.NewMemory() // shared by both instances
	cookieKey := make([]byte, 32)
	rand.Read(cookieKey)
	for i, ln := range lns {
		h, err := authflow.New(ctx, authflow.Config{
			Issuer:      op.Issuer,
			ClientID:    "bcl-app",
			RedirectURL: c.urls[0] + "/callback",
			Store:       store,
			CookieKeys:  [][]byte{cookieKey},
			Logger:      slog.New(slog.NewTextHandler(testWriter{t}, nil)),
			OnSessionEnd: func(handle string) {
				c.mu.Lock()
				c.ended[i] = append(c.ended[i], handle)
				c.mu.Unlock()
			},
		})
		require.NoError(t, err)
		c.hs = append(c.hs, h)
		srv := &http.Server{Handler: bclMux(h)}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
	}
	return c
}

// bclMux is the app: sign-in routes, the back-channel logout endpoint, /me,
// and a "your devices" page whose button signs the user out everywhere.
func bclMux(h *authflow.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /login", h.Login())
	mux.Handle("GET /callback", h.Callback())
	mux.Handle("POST /logout", h.Logout())
	mux.Handle("POST /backchannel", h.BackChannelLogout())
	mux.Handle("GET /{$}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "home") }))
	mux.Handle("GET /me", h.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"sub": authflow.SessionFrom(r.Context()).Subject})
	})))
	mux.Handle("GET /devices", h.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := authflow.SessionFrom(r.Context())
		list, err := h.Sessions(r.Context(), s.Subject)
		if err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>devices</title><p id="count">%d</p><ul>`, len(list))
		for _, d := range list {
			fmt.Fprintf(w, "<li>%s</li>", html.EscapeString(d.Device))
		}
		fmt.Fprintf(w, `</ul><form method="post" action="/everywhere"><input type="hidden" name="csrf_token" value="%s">`+
			`<button id="everywhere">Sign out everywhere</button></form>`, html.EscapeString(h.CSRFToken(r)))
	})))
	mux.Handle("POST /everywhere", h.RequireLogin(h.CSRFProtect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := h.EndUserSessions(r.Context(), authflow.SessionFrom(r.Context()).Subject); err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	}))))
	return mux
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// signIn signs login in on instance 0 in a new Chromium and returns the
// browser's context and its session cookie's value.
func (c *bclCluster) signIn(login string) (context.Context, string) {
	c.t.Helper()
	bctx, cancel, err := browser.New(c.ctx)
	require.NoError(c.t, err)
	c.t.Cleanup(cancel)
	require.NoError(c.t, chromedp.Do(bctx, chromedp.Navigate(c.urls[0]+"/me")))
	require.NoError(c.t, browser.ProviderLogin(bctx, login))
	cookie, err := browser.SessionCookie(bctx, c.urls[0])
	require.NoError(c.t, err)
	return bctx, cookie.Value
}

// me asks instance i for /me with a session cookie and returns the status.
func (c *bclCluster) me(i int, session string) int {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.ctx, http.MethodGet, c.urls[i]+"/me", nil)
	require.NoError(c.t, err)
	req.Header.Set("Accept", "application/json")
	req.AddCookie(&http.Cookie{Name: browser.SessionCookieName, Value: session})
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func (c *bclCluster) endedOn(i int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.ended[i])
}

// TestBackChannelLogoutEndToEnd: alice signs in (instance 0) in Chromium,
// then signs out at the provider itself; the provider's logout token, sent
// to instance 1, ends her session there and then, so instance 0 refuses her
// next request. Bob's session is untouched.
func TestBackChannelLogoutEndToEnd(t *testing.T) {
	c := startBCLCluster(t)
	alice, aliceSession := c.signIn("alice")
	_, bobSession := c.signIn("bob")
	require.Equal(t, http.StatusOK, c.me(0, aliceSession))

	// The provider's own end-session page (not the app's logout), which
	// submits itself; the provider then POSTs the logout token.
	var doc struct {
		EndSession string `json:"end_session_endpoint"`
	}
	resp, err := http.Get(c.op.Issuer + "/.well-known/openid-configuration")
	require.NoError(t, err)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
	resp.Body.Close()
	require.NoError(t, chromedp.Do(alice, chromedp.Navigate(doc.EndSession)))

	deadline := time.Now().Add(20 * time.Second)
	for len(c.endedOn(1)) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond) // polling the back channel's effect, bounded
	}
	require.Len(t, c.endedOn(1), 1, "instance 1 ended one session; provider logs:\n%s", c.op.Logs())
	assert.Empty(t, c.endedOn(0))
	assert.Equal(t, http.StatusUnauthorized, c.me(0, aliceSession), "alice's session ended on the instance she uses")
	assert.Equal(t, http.StatusOK, c.me(0, bobSession), "bob's session lives")
}

// TestSignOutEverywhereEndToEnd: alice signs in from three browsers; "sign
// out everywhere" in one of them ends all three sessions at once.
func TestSignOutEverywhereEndToEnd(t *testing.T) {
	c := startBCLCluster(t)
	var sessions []string
	var first context.Context
	for i := range 3 {
		bctx, s := c.signIn("alice")
		if i == 0 {
			first = bctx
		}
		sessions = append(sessions, s)
	}
	_, bobSession := c.signIn("bob")

	require.NoError(t, chromedp.Do(first, chromedp.Navigate(c.urls[0]+"/devices")))
	require.NoError(t, chromedp.Do(first, chromedp.WaitReady(chromedp.CSS("#count"))))
	count, err := chromedp.Run(first, chromedp.Evaluate[string](`document.getElementById("count").innerText`))
	require.NoError(t, err)
	assert.Equal(t, "3", count, "the devices page lists alice's three sessions")
	require.NoError(t, chromedp.Do(first, chromedp.Click(chromedp.ID("everywhere"))))
	deadline := time.Now().Add(10 * time.Second)
	for len(c.endedOn(0)) < 3 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond) // the click's POST completes asynchronously, bounded
	}
	assert.Len(t, c.endedOn(0), 3)
	for i, s := range sessions {
		for inst := range c.hs {
			assert.Equal(t, http.StatusUnauthorized, c.me(inst, s), "browser %d on instance %d", i, inst)
		}
	}
	assert.Equal(t, http.StatusOK, c.me(1, bobSession))
}
