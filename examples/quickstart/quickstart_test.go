package main

// End to end on real peers: node oidc-provider, MinIO (STS + S3 with a
// per-user policy) and headless Chromium, all on loopback, started by
// internal/testenv/stack and internal/testenv/browser (install them with
// scripts/deps.sh; `make test` does).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/internal/testenv"
	"github.com/pubauth/awsauth/internal/testenv/browser"
	"github.com/pubauth/awsauth/internal/testenv/stack"
)

// testClock is the app's clock: real time, or real time plus a jump while a
// condition holds. A jump brings the current tokens into their refresh
// window without waiting; it ends when the provider has been asked for new
// tokens, whose lifetime counts from real time.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
	while  func() bool
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.while != nil && c.while() {
		return time.Now().Add(c.offset)
	}
	return time.Now()
}

func (c *testClock) jump(d time.Duration, while func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset, c.while = d, while
}

type e2e struct {
	t      *testing.T
	ctx    context.Context
	appURL string
	app    *app
	stack  *stack.Stack
	clock  *testClock
}

func startE2E(t *testing.T, mods ...func(*testenv.OIDCConfig)) *e2e {
	return startE2EApp(t, nil, mods...)
}

// startE2EApp is startE2E with appMod editing the app's config.
func startE2EApp(t *testing.T, appMod func(*config), mods ...func(*testenv.OIDCConfig)) *e2e {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	appURL := "http://" + ln.Addr().String()

	op := testenv.OIDCConfig{
		RotateRefreshToken: true,
		AccessTokenTTL:     10 * time.Minute,
		IDTokenTTL:         10 * time.Minute,
	}
	for _, m := range mods {
		m(&op)
	}
	st, err := stack.Start(ctx, stack.Config{AppURL: appURL, OIDC: op})
	require.NoError(t, err)
	t.Cleanup(func() { st.Stop() })

	for _, kv := range st.QuickstartEnv(ln.Addr().String()) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cfg, err := parseConfig(nil, os.Getenv)
	require.NoError(t, err)
	clock := &testClock{}
	cfg.now = clock.Now
	if appMod != nil {
		appMod(&cfg)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.Default()
	}
	a, err := newApp(ctx, cfg, logger)
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- serveApp(ctx, ln, a, logger) }()
	t.Cleanup(func() {
		cancel()
		<-served
	})
	return &e2e{t: t, ctx: ctx, appURL: appURL, app: a, stack: st, clock: clock}
}

// page navigates and returns the page's text.
func (e *e2e) page(bctx context.Context, url string) string {
	e.t.Helper()
	if url != "" {
		require.NoError(e.t, chromedp.Do(bctx, chromedp.Navigate(url)))
	}
	require.NoError(e.t, chromedp.Do(bctx, chromedp.WaitReady(chromedp.CSS("body"))))
	text, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body.innerText`))
	require.NoError(e.t, err)
	return text
}

// pageJSON returns the JSON the page shows. Right after a login the browser
// may still be following the callback's redirect, so it polls, bounded.
func (e *e2e) pageJSON(bctx context.Context, url string) map[string]any {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		text := e.page(bctx, url)
		var v map[string]any
		err := json.Unmarshal([]byte(text), &v)
		if err == nil {
			return v
		}
		if url != "" || time.Now().After(deadline) {
			e.t.Fatalf("page is not JSON: %v: %.300s", err, text)
		}
		time.Sleep(50 * time.Millisecond) // readiness polling, bounded by the deadline
	}
}

func location(t *testing.T, bctx context.Context) string {
	loc, err := chromedp.Run(bctx, chromedp.Location())
	require.NoError(t, err)
	return loc
}

// sessionID reads the HttpOnly session cookie through the DevTools protocol.
func (e *e2e) sessionID(bctx context.Context) string {
	e.t.Helper()
	c, err := browser.SessionCookie(bctx, e.appURL)
	require.NoError(e.t, err)
	return c.Value
}

func (e *e2e) newBrowser() context.Context {
	e.t.Helper()
	bctx, cancel, err := browser.New(e.ctx)
	require.NoError(e.t, err)
	e.t.Cleanup(cancel)
	return bctx
}

func TestEndToEnd(t *testing.T) {
	e := startE2E(t)
	bctx := e.newBrowser()

	// Signed out, /me sends the browser to the provider's login form; after
	// the form, the user lands on return_to.
	require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(e.appURL+"/me")))
	require.NoError(t, browser.ProviderLogin(bctx, "alice"))
	me := e.pageJSON(bctx, "")
	assert.Equal(t, e.appURL+"/me", location(t, bctx))
	assert.Equal(t, "alice", me["sub"])
	assert.Equal(t, "alice@example.com", me["claims"].(map[string]any)["email"])

	t.Run("files lists only alice's prefix, with her own credentials", func(t *testing.T) {
		files := e.pageJSON(bctx, e.appURL+"/files")
		assert.Equal(t, []any{"alice/hello.txt", "alice/notes.md"}, files["keys"])
		exp, err := time.Parse(time.RFC3339Nano, files["credentials_expires"].(string))
		require.NoError(t, err)
		assert.True(t, exp.After(time.Now()), "credentials carry their real, future expiry")
	})

	t.Run("MinIO refuses bob's prefix to alice's credentials", func(t *testing.T) {
		assert.Equal(t, map[string]any{"error": "AccessDenied"}, e.pageJSON(bctx, e.appURL+"/files?prefix=bob/"))
		assert.Equal(t, map[string]any{"error": "AccessDenied"}, e.pageJSON(bctx, e.appURL+"/files?prefix=shared"))
	})

	// MinIO substitutes the raw sub into the ${jwt:sub} policy and matches
	// "*" as a wildcard there: a user signed in as "*" must get no
	// credentials at all, or its policy would cover every user's prefix.
	t.Run("a wildcard user id is refused before any STS call", func(t *testing.T) {
		star := e.newBrowser()
		require.NoError(t, chromedp.Do(star, chromedp.Navigate(e.appURL+"/me")))
		require.NoError(t, browser.ProviderLogin(star, "*"))
		assert.Equal(t, "*", e.pageJSON(star, "")["sub"])
		for _, u := range []string{"/files", "/files?prefix=bob/"} {
			assert.Equal(t, map[string]any{"error": "unsupported_user_id"}, e.pageJSON(star, e.appURL+u), u)
		}
	})

	t.Run("expired access token: 100 concurrent requests refresh once", func(t *testing.T) {
		sid := e.sessionID(bctx)
		before := e.stack.OIDC.TokenRequests()
		// Into the access token's 1-minute refresh window, until a refresh.
		e.clock.jump(9*time.Minute+30*time.Second, func() bool { return e.stack.OIDC.TokenRequests() == before })
		var wg sync.WaitGroup
		var ok atomic.Int64
		for range 100 {
			wg.Go(func() {
				req, _ := http.NewRequestWithContext(e.ctx, http.MethodGet, e.appURL+"/me", nil)
				req.Header.Set("Accept", "application/json")
				req.AddCookie(&http.Cookie{Name: browser.SessionCookieName, Value: sid})
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					ok.Add(1)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int64(100), ok.Load())
		assert.Equal(t, int64(1), e.stack.OIDC.TokenRequests()-before, "exactly one token-endpoint call")
		assert.Equal(t, "alice", e.pageJSON(bctx, e.appURL+"/me")["sub"], "the session goes on")
		assert.Equal(t, int64(1), e.stack.OIDC.TokenRequests()-before)
	})

	// Issue 10: the quickstart serves the library's metrics in Prometheus format.
	t.Run("metrics", func(t *testing.T) {
		resp, err := http.Get(e.appURL + "/metrics")
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		for _, want := range []string{
			"awsauth_login_completions_total",
			`awsauth_session_refreshes_total{awsauth_refresh_outcome="ok"`,
			`awsauth_credentials_retrievals_total{awsauth_credentials_provider="WebIdentity"`,
			"awsauth_store_operation_duration_seconds_bucket",
			"awsauth_jwks_fetches_total",
		} {
			assert.Contains(t, string(body), want)
		}
	})

	t.Run("logout revokes the refresh token and ends the session", func(t *testing.T) {
		sid := e.sessionID(bctx)
		tokens, err := e.app.auth.Tokens(e.ctx, sid)
		require.NoError(t, err)
		require.NotEmpty(t, tokens.RefreshToken)

		require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(e.appURL+"/"), chromedp.Click(chromedp.ID("logout")),
			chromedp.WaitVisible(chromedp.ID("login"))))
		assert.Equal(t, e.appURL+"/", location(t, bctx), "back from the provider's end-session endpoint")

		// The provider no longer honours the refresh token.
		resp, err := http.PostForm(e.stack.OIDC.Issuer+"/token", url.Values{
			"grant_type": {"refresh_token"}, "refresh_token": {tokens.RefreshToken}, "client_id": {stack.ClientID},
		})
		require.NoError(t, err)
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Equal(t, "invalid_grant", body["error"])

		// /me now redirects to login, which goes to the provider.
		require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(e.appURL+"/me")))
		assert.True(t, strings.HasPrefix(location(t, bctx), e.stack.OIDC.Issuer+"/"), "at the provider: %s", location(t, bctx))
	})
}

// Two tabs of one browser start logins at once; both complete. The user
// already has a session at the provider (single sign-on), as is usual: the
// provider's dev login form itself refuses two interleaved form logins
// ("interaction session and authentication session mismatch"), which is the
// provider's rule, not the app's.
func TestEndToEndTwoTabs(t *testing.T) {
	e := startE2E(t)
	first := e.newBrowser()
	require.NoError(t, chromedp.Do(first, chromedp.Navigate(e.appURL+"/login")))
	require.NoError(t, browser.ProviderLogin(first, "bob"))
	second, cancel := chromedp.NewContext(first) // a second tab of the same browser
	t.Cleanup(cancel)
	require.NoError(t, chromedp.Do(second, chromedp.Navigate("about:blank")))

	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, tab := range []context.Context{first, second} {
		wg.Go(func() {
			errs[i] = chromedp.Do(tab, chromedp.Navigate(fmt.Sprintf("%s/login?return_to=/me%%3Ftab%%3D%d", e.appURL, i+1)))
		})
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	for i, tab := range []context.Context{first, second} {
		assert.Equal(t, "bob", e.pageJSON(tab, "")["sub"])
		assert.Equal(t, fmt.Sprintf("%s/me?tab=%d", e.appURL, i+1), location(t, tab))
	}
}

// Issue 8: the quickstart as shipped (default scopes, default refresh
// window) keeps a session on oidc-provider across several access-token
// lifetimes, refreshing about once per half lifetime, not per request. The
// tokens live 4 s of real time (the provider's clock is real), so the test
// waits about 13 s.
func TestEndToEndShortLivedTokens(t *testing.T) {
	const ttl = 4 * time.Second
	e := startE2E(t, func(c *testenv.OIDCConfig) { c.AccessTokenTTL, c.IDTokenTTL = ttl, ttl })
	bctx := e.newBrowser()
	require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(e.appURL+"/me")))
	require.NoError(t, browser.ProviderLogin(bctx, "alice"))
	assert.Equal(t, "alice", e.pageJSON(bctx, "")["sub"])
	sid := e.sessionID(bctx)
	tokens, err := e.app.auth.Tokens(e.ctx, sid)
	require.NoError(t, err)
	require.NotEmpty(t, tokens.RefreshToken, "the quickstart as shipped gets a refresh token")

	before := e.stack.OIDC.TokenRequests()
	start := time.Now()
	requests := 0
	for time.Since(start) < 3*ttl+ttl/4 {
		req, _ := http.NewRequestWithContext(e.ctx, http.MethodGet, e.appURL+"/me", nil)
		req.Header.Set("Accept", "application/json")
		req.AddCookie(&http.Cookie{Name: browser.SessionCookieName, Value: sid})
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var me map[string]any
		json.NewDecoder(resp.Body).Decode(&me)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "request %d, %s in", requests, time.Since(start))
		require.Equal(t, "alice", me["sub"])
		requests++
		time.Sleep(100 * time.Millisecond) // request pacing, not synchronisation
	}
	refreshes := e.stack.OIDC.TokenRequests() - before
	// Over 3¼ lifetimes of 4 s with a 2 s window: a refresh every 2 s or so.
	assert.GreaterOrEqual(t, refreshes, int64(3), "the session outlived several tokens by refreshing")
	assert.LessOrEqual(t, refreshes, int64(8), "refreshed per half lifetime, not per request (%d requests)", requests)
	t.Logf("%d requests over %s, %d refreshes", requests, time.Since(start).Round(time.Millisecond), refreshes)
}
