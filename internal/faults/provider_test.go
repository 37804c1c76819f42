package faults

// The OpenID provider's token endpoint under faults, as authflow sees it: the
// code exchange at the callback, the refresh, the revocation at logout.
// Expected behaviour, written first: EXPECTED_provider.md.

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pubauth/awsauth/authflow"
	"github.com/pubauth/awsauth/internal/testenv"
	"github.com/pubauth/awsauth/internal/testenv/toxi"
)

// The one redirect URI every app registers: the test carries the provider's
// answer to its own app, so the URI only has to be loopback and registered.
const (
	faultRedirect = "http://127.0.0.1:1/callback"
	faultClient   = "faults"
)

// Offsets of the app's clock: inside the 1-minute refresh window of a
// 10-minute access token, and past its expiry.
const (
	stale   = 9*time.Minute + 30*time.Second
	expired = 11 * time.Minute
)

func startProvider(t *testing.T) *testenv.OIDCProvider {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	op, err := testenv.StartOIDC(ctx, testenv.OIDCConfig{
		Clients: []testenv.OIDCClient{{ID: faultClient, RedirectURIs: []string{faultRedirect},
			PostLogoutRedirectURIs: []string{"http://127.0.0.1:1/"}}},
		RotateRefreshToken: true,
	})
	require.NoError(t, err)
	t.Cleanup(func() { op.Stop() })
	// Runs after every cell on this provider (parallel ones included): no
	// refresh token was ever presented twice.
	t.Cleanup(func() {
		total, reused := op.RefreshRedeems()
		assert.Zero(t, reused, "double redeems at the provider (of %d refreshes)", total)
	})
	return op
}

// faultApp is one authflow instance whose provider traffic goes through its
// own toxi proxy.
type faultApp struct {
	t      *testing.T
	op     *testenv.OIDCProvider
	h      *authflow.Handler
	srv    *httptest.Server
	proxy  *toxi.Proxy
	offset atomic.Int64 // the app's clock: real time + offset
	tokens atomic.Int64 // POSTs to the token endpoint through the proxy
	ends   chan authflow.SessionEnd
	logs   *syncBuf
	// closeIdle closes the app's idle connections to the provider.
	closeIdle func()
}

// countPosts counts the token endpoint POSTs an app makes.
type countPosts struct {
	rt   http.RoundTripper
	path string
	n    *atomic.Int64
}

func (c countPosts) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && r.URL.Path == c.path {
		c.n.Add(1)
	}
	return c.rt.RoundTrip(r)
}

func newFaultApp(t *testing.T, op *testenv.OIDCProvider) *faultApp {
	t.Helper()
	iss, err := url.Parse(op.Issuer)
	require.NoError(t, err)
	client, proxy := proxied(t, "op-"+t.Name(), iss.Host, reqTimeout)
	a := &faultApp{t: t, op: op, proxy: proxy, ends: make(chan authflow.SessionEnd, 4), logs: &syncBuf{}}
	a.closeIdle = client.Transport.(*http.Transport).CloseIdleConnections
	client.Transport = countPosts{rt: client.Transport, path: "/token", n: &a.tokens}
	h, err := authflow.New(t.Context(), authflow.Config{
		Issuer:             op.Issuer,
		ClientID:           faultClient,
		RedirectURL:        faultRedirect,
		Scopes:             []string{"openid", "offline_access"},
		AuthParams:         map[string]string{"prompt": "consent"},
		CookieKeys:         [][]byte{bytes.Repeat([]byte{7}, 32)},
		HTTPClient:         client,
		RefreshTimeout:     reqTimeout + time.Second,
		Now:                func() time.Time { return time.Now().Add(time.Duration(a.offset.Load())) },
		Logger:             slog.New(slog.NewTextHandler(a.logs, nil)),
		OnSessionEndDetail: func(_ context.Context, e authflow.SessionEnd) { a.ends <- e },
	})
	require.NoError(t, err)
	a.h = h
	a.srv = httptest.NewServer(appRoutes(h))
	t.Cleanup(a.srv.Close)
	return a
}

// browser is a user agent for the app: a cookie jar, no redirects followed.
func (a *faultApp) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (a *faultApp) do(b *http.Client, method, path string, form url.Values) *http.Response {
	a.t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequestWithContext(a.t.Context(), method, a.srv.URL+path, body)
	require.NoError(a.t, err)
	req.Header.Set("Accept", "application/json")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "http://127.0.0.1:1") // RedirectURL's origin: the app's public one
	}
	resp, err := b.Do(req)
	require.NoError(a.t, err)
	a.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// startLogin runs /login and the provider's login form; it returns the
// browser and the app's callback URL with the provider's answer.
func (a *faultApp) startLogin() (*http.Client, string) {
	a.t.Helper()
	b := a.browser()
	resp := a.do(b, http.MethodGet, "/login?return_to=/me", nil)
	require.Equal(a.t, http.StatusFound, resp.StatusCode)
	cb, err := testenv.ProviderLoginHTTP(a.t.Context(), nil, resp.Header.Get("Location"), "alice")
	require.NoError(a.t, err)
	return b, "/callback?" + cb.RawQuery
}

// login signs alice in and returns her browser.
func (a *faultApp) login() *http.Client {
	a.t.Helper()
	b, cb := a.startLogin()
	resp := a.do(b, http.MethodGet, cb, nil)
	require.Equal(a.t, http.StatusSeeOther, resp.StatusCode, a.logs.String())
	return b
}

func (a *faultApp) me(b *http.Client) (int, map[string]string) {
	a.t.Helper()
	resp := a.do(b, http.MethodGet, "/me", nil)
	var v map[string]string
	json.NewDecoder(resp.Body).Decode(&v)
	return resp.StatusCode, v
}

func (a *faultApp) sessionID(b *http.Client) string {
	u, _ := url.Parse(a.srv.URL)
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == "__Host-awsauth-session" {
			return c.Value
		}
	}
	return ""
}

func (a *faultApp) logout(b *http.Client) *http.Response {
	a.t.Helper()
	_, v := a.me(b)
	return a.do(b, http.MethodPost, "/logout", url.Values{authflow.CSRFField: {v["csrf"]}})
}

// endReason returns the reason of the session end the app saw, or "".
func (a *faultApp) endReason() authflow.EndReason {
	select {
	case e := <-a.ends:
		return e.Reason
	default:
		return ""
	}
}

// refreshWorks reports whether rt still refreshes at the provider (asked
// directly, not through the proxy).
func refreshWorks(t *testing.T, op *testenv.OIDCProvider, rt string) bool {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	oc := &oauth2.Config{ClientID: faultClient, Endpoint: oauth2.Endpoint{TokenURL: op.Issuer + "/token", AuthStyle: oauth2.AuthStyleInParams}}
	_, err := oc.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
	return err == nil
}

// providerCells runs the token endpoint's cells as subtests of t, all at
// once (run).
func providerCells(t *testing.T, run func(string, func(*testing.T))) {
	op := startProvider(t)

	exchange := func(f toxi.Fault, want int, maxTime time.Duration) func(t *testing.T) {
		return func(t *testing.T) {
			a := newFaultApp(t, op)
			a.login() // discovery and the key set fetched before the fault
			b, cb := a.startLogin()
			before := a.tokens.Load()
			inject(t, a.proxy, f)
			var resp *http.Response
			took := timed(func() { resp = a.do(b, http.MethodGet, cb, nil) })
			assert.Equal(t, want, resp.StatusCode, a.logs.String())
			assert.Less(t, took, maxTime)
			assert.EqualValues(t, 1, a.tokens.Load()-before, "one code exchange, never repeated")
			if want != http.StatusSeeOther {
				assert.Empty(t, a.sessionID(b), "no session")
				require.NoError(t, a.proxy.Heal())
				b = a.login()
			}
			status, _ := a.me(b)
			assert.Equal(t, http.StatusOK, status)
		}
	}
	run("token.exchange/latency_2s", exchange(toxi.Latency(latency2s), http.StatusSeeOther, reqTimeout))
	run("token.exchange/latency_beyond_timeout", exchange(toxi.Latency(latencyBeyond), http.StatusBadGateway, reqTimeout+slack))
	run("token.exchange/reset", exchange(toxi.ResetResponse(), http.StatusBadGateway, slack))
	run("token.exchange/blackhole", exchange(toxi.Blackhole(), http.StatusBadGateway, reqTimeout+slack))

	// A refresh whose answer does not come back: served now with the valid
	// tokens, the refresh token never presented again, the session ended at
	// expiry.
	unknown := func(f toxi.Fault, maxTime time.Duration) func(t *testing.T) {
		return func(t *testing.T) {
			a := newFaultApp(t, op)
			b := a.login()
			a.offset.Store(int64(stale))
			before := a.tokens.Load()
			inject(t, a.proxy, f)
			var status int
			took := timed(func() { status, _ = a.me(b) })
			assert.Equal(t, http.StatusOK, status, a.logs.String())
			assert.Less(t, took, maxTime)
			assert.EqualValues(t, 1, a.tokens.Load()-before)
			assert.Contains(t, a.logs.String(), "refresh outcome unknown")
			require.NoError(t, a.proxy.Heal())
			status, _ = a.me(b)
			assert.Equal(t, http.StatusOK, status, "served while valid")
			assert.EqualValues(t, 1, a.tokens.Load()-before, "the refresh token was presented again")
			a.offset.Store(int64(expired))
			status, _ = a.me(b)
			assert.Equal(t, http.StatusUnauthorized, status)
			assert.Equal(t, authflow.EndRefreshUnknown, a.endReason())
			assert.EqualValues(t, 1, a.tokens.Load()-before)
		}
	}
	run("token.refresh/latency_2s", func(t *testing.T) {
		a := newFaultApp(t, op)
		b := a.login()
		a.offset.Store(int64(stale))
		inject(t, a.proxy, toxi.Latency(latency2s))
		before := a.tokens.Load()
		var status int
		took := timed(func() { status, _ = a.me(b) })
		assert.Equal(t, http.StatusOK, status)
		assert.Greater(t, took, 2*latency2s-time.Second)
		assert.Less(t, took, reqTimeout+slack)
		assert.EqualValues(t, 1, a.tokens.Load()-before, "one refresh")
		status, _ = a.me(b)
		assert.Equal(t, http.StatusOK, status)
		assert.EqualValues(t, 1, a.tokens.Load()-before, "the tokens were renewed")
	})
	run("token.refresh/latency_beyond_timeout", unknown(toxi.Latency(latencyBeyond), reqTimeout+slack))
	run("token.refresh/reset", unknown(toxi.ResetResponse(), slack))
	run("token.refresh/blackhole", unknown(toxi.Blackhole(), reqTimeout+slack))
	run("token.refresh/down", func(t *testing.T) {
		a := newFaultApp(t, op)
		b := a.login()
		a.offset.Store(int64(stale))
		before := a.tokens.Load()
		inject(t, a.proxy, toxi.Down())
		// Down closed the pooled connection from the login; until the app's
		// transport notices the close, a request may still be written to it,
		// and that request counts as sent, outcome unknown (the keep-alive
		// race: authflow can't tell it from a provider that took the request
		// and died). This cell is about a refused connection: drop it first.
		a.closeIdle()
		var status int
		took := timed(func() { status, _ = a.me(b) })
		assert.Equal(t, http.StatusOK, status)
		assert.Less(t, took, slack)
		assert.NotContains(t, a.logs.String(), "refresh outcome unknown")
		require.NoError(t, a.proxy.Heal())
		status, _ = a.me(b)
		assert.Equal(t, http.StatusOK, status)
		a.offset.Store(int64(stale)) // the renewed token is fresh again at this offset
		status, _ = a.me(b)
		assert.Equal(t, http.StatusOK, status)
		// Two attempts counted by the app (the first never left it), one
		// redeem at the provider (RefreshRedeems' reused stays 0: checked below).
		assert.EqualValues(t, 2, a.tokens.Load()-before)
	})

	// revoked: whether the refresh token is revoked at the provider after
	// Heal; "" when the app can't know (a request held by a latency toxic
	// is delivered when the toxic goes, so the provider acts late).
	revoke := func(f toxi.Fault, revoked string, maxTime time.Duration) func(t *testing.T) {
		return func(t *testing.T) {
			a := newFaultApp(t, op)
			b := a.login()
			tok, err := a.h.Tokens(t.Context(), a.sessionID(b))
			require.NoError(t, err)
			_, v := a.me(b)
			inject(t, a.proxy, f)
			var resp *http.Response
			took := timed(func() {
				resp = a.do(b, http.MethodPost, "/logout", url.Values{authflow.CSRFField: {v["csrf"]}})
			})
			assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
			assert.Less(t, took, maxTime)
			assert.Empty(t, a.sessionID(b), "cookie cleared")
			assert.Equal(t, authflow.EndLogout, a.endReason())
			require.NoError(t, a.proxy.Heal())
			_, err = a.h.Tokens(t.Context(), a.sessionID(b))
			assert.ErrorIs(t, err, authflow.ErrSessionEnded)
			if revoked != "" {
				assert.Equal(t, revoked == "not revoked", refreshWorks(t, op, tok.RefreshToken), "refresh token %s", revoked)
			}
		}
	}
	run("token.revoke/latency_2s", revoke(toxi.Latency(latency2s), "revoked", reqTimeout))
	run("token.revoke/latency_beyond_timeout", revoke(toxi.Latency(latencyBeyond), "", reqTimeout+slack))
	run("token.revoke/reset", revoke(toxi.ResetResponse(), "revoked", slack))
	run("token.revoke/blackhole", revoke(toxi.Blackhole(), "not revoked", reqTimeout+slack))

	// Restarts: each cell has its own provider, restarted for real.
	run("token.exchange/restart", func(t *testing.T) {
		op := startProvider(t)
		a := newFaultApp(t, op)
		a.login()
		b, cb := a.startLogin()
		require.NoError(t, op.Restart(t.Context()))
		resp := a.do(b, http.MethodGet, cb, nil)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "the code died with the provider")
		b = a.login() // the new signing key is fetched (unknown kid)
		status, _ := a.me(b)
		assert.Equal(t, http.StatusOK, status)
	})
	run("token.refresh/restart", func(t *testing.T) {
		op := startProvider(t)
		a := newFaultApp(t, op)
		b := a.login()
		require.NoError(t, op.Restart(t.Context()))
		a.offset.Store(int64(stale))
		status, _ := a.me(b)
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.Equal(t, authflow.EndInvalidGrant, a.endReason())
		a.offset.Store(0)
		b = a.login()
		status, _ = a.me(b)
		assert.Equal(t, http.StatusOK, status)
	})
	run("token.revoke/restart", func(t *testing.T) {
		op := startProvider(t)
		a := newFaultApp(t, op)
		b := a.login()
		require.NoError(t, op.Restart(t.Context()))
		resp := a.logout(b)
		assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
		assert.Equal(t, authflow.EndLogout, a.endReason())
		assert.NotContains(t, a.logs.String(), "tokens not revoked")
	})
}
