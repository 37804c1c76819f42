package main

// Issue 9: a short idle timeout ends an idle session and keeps a busy one,
// both signed in through oidc-provider's pages in headless Chromium
// (internal/testenv's stack and internal/testenv/browser; scripts/deps.sh
// installs them). The app's clock moves; nothing sleeps.

import (
	"context"
	"errors"
	"net/http"
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

func TestEndToEndIdleTimeout(t *testing.T) {
	const idle = 10 * time.Minute
	e := startE2EApp(t, func(c *config) { c.idleTimeout = idle },
		// Tokens outlive the test's clock jumps: no refresh muddles the count.
		func(c *testenv.OIDCConfig) { c.AccessTokenTTL, c.IDTokenTTL = time.Hour, time.Hour })
	signIn := func() (context.Context, string) {
		bctx := e.newBrowser()
		require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(e.appURL+"/me")))
		require.NoError(t, browser.ProviderLogin(bctx, "alice"))
		require.Equal(t, "alice", e.pageJSON(bctx, "")["sub"])
		return bctx, e.sessionID(bctx)
	}
	busy, busySID := signIn()
	idler, idleSID := signIn()

	// Twelve minutes on the app's clock; the busy browser loads /me every one.
	for m := 1; m <= 12; m++ {
		e.clock.jump(time.Duration(m)*time.Minute, func() bool { return true })
		me := e.pageJSON(busy, e.appURL+"/me")
		require.Equal(t, "alice", me["sub"], "busy session at minute %d", m)
	}
	assert.Equal(t, busySID, e.sessionID(busy), "the busy browser kept its session")

	// The idle browser's session has been unused for 12 minutes: its next
	// page is not served with it. RequireLogin sends it to sign in again; the
	// provider completes that at once with its own session, and the app
	// refuses the ID token (iat before the login: the app's clock is 12
	// minutes ahead of the provider's), so the browser ends up signed out.
	require.NoError(t, chromedp.Do(idler, chromedp.Navigate(e.appURL+"/me")))
	require.NoError(t, chromedp.Do(idler, chromedp.WaitReady(chromedp.CSS("body"))))
	if c, err := browser.SessionCookie(idler, e.appURL); err == nil {
		assert.NotEqual(t, idleSID, c.Value, "the idle session was replaced")
	}
	_, err := e.app.auth.Tokens(e.ctx, idleSID)
	assert.True(t, errors.Is(err, authflow.ErrSessionEnded), "the idle session ended: %v", err)

	// Through plain HTTP too: the old cookie is refused, the busy one served.
	for _, tc := range []struct {
		name, sid string
		want      int
	}{{"idle", idleSID, http.StatusUnauthorized}, {"busy", busySID, http.StatusOK}} {
		req, err := http.NewRequestWithContext(e.ctx, http.MethodGet, e.appURL+"/me", nil)
		require.NoError(t, err)
		req.Header.Set("Accept", "application/json")
		req.AddCookie(&http.Cookie{Name: browser.SessionCookieName, Value: tc.sid})
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, tc.want, resp.StatusCode, "the %s session", tc.name)
	}
	assert.False(t, strings.Contains(location(t, busy), "/login"), "the busy browser is still on the app")
}
