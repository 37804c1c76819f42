package authflow

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/internal/telemetry/telemetrytest"
)

// loseRefreshAnswers makes op redeem (and, when it rotates, spend) every refresh token it is
// sent and then drop the connection before answering while lose is set: the
// provider acted, the client never learns the outcome. It returns a counter
// of refresh_token requests that reached op.
func loseRefreshAnswers(op *testOP, lose *atomic.Bool) *atomic.Int64 {
	var refreshes atomic.Int64
	op.tokenHook = func(w http.ResponseWriter, r *http.Request) bool {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "refresh_token" {
			return false
		}
		refreshes.Add(1)
		if !lose.Load() {
			return false
		}
		op.mu.Lock()
		if op.rotate {
			delete(op.refresh, r.PostForm.Get("refresh_token")) // redeemed: rotated away
		}
		op.mu.Unlock()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.(*net.TCPConn).SetLinger(0) // a reset, as toxi.ResetResponse makes
			conn.Close()
		}
		return true
	}
	return &refreshes
}

// Issue 12: a refresh whose answer is lost after the provider rotated the
// refresh token. The old token is never presented again (a rotating provider
// would take it for a stolen token and revoke the grant, RFC 9700 §4.14.2):
// the session is served, on every instance, while its tokens are valid, then
// ends with EndRefreshUnknown. Failing before: the next request re-presented
// the token and the session ended invalid_grant at once.
func TestRefreshAnswerLostIsNeverRepresented(t *testing.T) {
	op := newTestOP(t)
	clock := &offsetClock{}
	ends := make(chan SessionEnd, 4)
	shared := newCountingStore()
	mod := func(c *Config) {
		c.Store = shared
		c.Now = clock.Now
		c.OnSessionEndDetail = func(_ context.Context, e SessionEnd) { ends <- e }
	}
	rec := telemetrytest.New(t)
	a := newTestApp(t, op, mod, func(c *Config) { c.MeterProvider = rec.MP })
	b := newTestApp(t, op, mod)
	var lose atomic.Bool
	lose.Store(true)
	refreshes := loseRefreshAnswers(op, &lose)

	c := loginExpiring(t, op, a) // its access token expires in 30 s, inside the refresh window
	ck := a.sessionCookie(c)
	require.NotNil(t, ck)
	status, _ := a.me(c)
	assert.Equal(t, http.StatusOK, status, "served with the current, valid tokens")
	assert.EqualValues(t, 1, refreshes.Load())
	assert.Contains(t, a.logs.String(), "refresh outcome unknown")
	assert.Equal(t, 1.0, telemetrytest.Value(rec.Metrics(t), "awsauth.session.refreshes", map[string]string{"awsauth.refresh.outcome": "unknown"}))

	// Neither instance presents the token again, even once the provider
	// answers again.
	lose.Store(false)
	bc := b.browser()
	bc.Jar.SetCookies(mustURL(t, b.srv.URL), []*http.Cookie{{Name: ck.Name, Value: ck.Value}})
	for _, app := range []*testApp{a, b} {
		cl := c
		if app == b {
			cl = bc
		}
		status, _ := app.me(cl)
		assert.Equal(t, http.StatusOK, status)
	}
	assert.EqualValues(t, 1, refreshes.Load(), "the refresh token was presented again")

	// Once the tokens expire the session ends: the user signs in again.
	clock.set(31 * time.Second)
	status, body := b.me(bc)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "login_required", body["error"])
	select {
	case e := <-ends:
		assert.Equal(t, EndRefreshUnknown, e.Reason)
	default:
		t.Fatal("the session did not end")
	}
	assert.EqualValues(t, 1, refreshes.Load())
}

// A refresh that was never sent (the connection refused) keeps the refresh
// token: the next attempt presents it, safely.
func TestRefreshNeverSentKeepsRefreshToken(t *testing.T) {
	op := newTestOP(t)
	app := newTestApp(t, op)
	var lose atomic.Bool
	refreshes := loseRefreshAnswers(op, &lose)
	c := loginExpiring(t, op, app)
	op.down()
	status, _ := app.me(c)
	assert.Equal(t, http.StatusOK, status)
	assert.NotContains(t, app.logs.String(), "refresh outcome unknown")
	op.up()
	status, _ = app.me(c)
	assert.Equal(t, http.StatusOK, status)
	assert.EqualValues(t, 1, refreshes.Load(), "one refresh reached the provider, after it came back")
	assert.Contains(t, app.logs.String(), "tokens refreshed")
}

// A provider that answered a refresh without a new refresh token does not
// rotate (Cognito's default): after a lost answer the same token is good, so
// it is presented again and the session lives on. Failed before: the token
// was marked unknown and the session ended at its tokens' expiry.
func TestRefreshAnswerLostFromAProviderThatKeepsRefreshTokens(t *testing.T) {
	op := newTestOP(t)
	op.mu.Lock()
	op.rotate = false
	op.mu.Unlock()
	clock := &offsetClock{}
	app := newTestApp(t, op, func(c *Config) { c.Now = clock.Now })
	var lose atomic.Bool
	refreshes := loseRefreshAnswers(op, &lose)
	c := loginExpiring(t, op, app)
	op.setAccessTTL(30 * time.Second)
	status, _ := app.me(c)
	require.Equal(t, http.StatusOK, status)
	require.EqualValues(t, 1, refreshes.Load(), "a first refresh, answered without a new refresh token")

	clock.set(20 * time.Second) // the refreshed 30 s token is due again
	lose.Store(true)
	status, _ = app.me(c)
	assert.Equal(t, http.StatusOK, status, "served with the current tokens")
	assert.EqualValues(t, 2, refreshes.Load())
	assert.NotContains(t, app.logs.String(), "refresh outcome unknown")

	lose.Store(false)
	status, _ = app.me(c)
	assert.Equal(t, http.StatusOK, status)
	assert.EqualValues(t, 3, refreshes.Load(), "the kept refresh token presented again")
}
