package authflow

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/tokenstore"
)

// endRecorder records what OnSessionEnd and OnSessionEndDetail are told.
type endRecorder struct {
	mu   sync.Mutex
	ids  []string
	ends []SessionEnd
}

func (e *endRecorder) wire(c *Config) {
	c.OnSessionEnd = func(id string) {
		e.mu.Lock()
		e.ids = append(e.ids, id)
		e.mu.Unlock()
	}
	c.OnSessionEndDetail = func(_ context.Context, end SessionEnd) {
		e.mu.Lock()
		e.ends = append(e.ends, end)
		e.mu.Unlock()
	}
}

// take returns and forgets what was recorded.
func (e *endRecorder) take() ([]string, []SessionEnd) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ids, ends := e.ids, e.ends
	e.ids, e.ends = nil, nil
	return ids, ends
}

// idleApp is a test app with IdleTimeout 10 minutes on clock, which the
// provider shares.
func idleApp(t *testing.T, clock *offsetClock, ends *endRecorder, mods ...func(*Config)) (*testOP, *testApp) {
	op := newTestOP(t)
	op.now = clock.Now
	app := newTestApp(t, op, append([]func(*Config){func(c *Config) {
		c.Now = clock.Now
		c.IdleTimeout = 10 * time.Minute
		ends.wire(c)
	}}, mods...)...)
	return op, app
}

// Issue 9 item 1: an idle session ends, a busy one is kept, one store read
// per request, and at most one write of the last use per IdleTimeout/10.
func TestIdleTimeout(t *testing.T) {
	clock := &offsetClock{}
	ends := &endRecorder{}
	_, app := idleApp(t, clock, ends)
	busy, idle := app.browser(), app.browser()
	app.login(busy, "/")
	app.login(idle, "/")
	idleID := app.sessionCookie(idle).Value
	idleSess, err := app.h.load(context.Background(), idleID)
	require.NoError(t, err)

	gets, fenced, sets := app.store.gets.Load(), app.store.fenced.Load(), app.store.sets.Load()
	requests := 0
	for d := 20 * time.Second; d <= 30*time.Minute; d += 20 * time.Second {
		clock.set(d)
		status, _ := app.me(busy)
		require.Equal(t, http.StatusOK, status, "busy session at %v", d)
		requests++
	}
	reads := app.store.gets.Load() - gets
	writes := app.store.fenced.Load() - fenced
	t.Logf("busy session, 30 minutes, a request every 20 s: %d requests, %d store reads, %d writes of the last use", requests, reads, writes)
	assert.Equal(t, int64(requests), reads, "one store read per request")
	assert.Equal(t, int64(30), writes, "one write per IdleTimeout/10 (1 minute) of use")
	assert.Equal(t, int64(0), app.store.sets.Load()-sets, "no unfenced write")

	// The idle browser has not been seen for 30 minutes.
	status, body := app.me(idle)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "login_required", body["error"])
	ids, got := ends.take()
	assert.Equal(t, []string{sessionHandle(idleID)}, ids, "OnSessionEnd once, with the handle")
	assert.Equal(t, []SessionEnd{{Handle: sessionHandle(idleID), Subject: idleSess.Subject, Reason: EndIdle}}, got)
	assert.Contains(t, app.logs.String(), "reason=idle")
	_, err = app.store.Memory.Get(context.Background(), storeKey(idleID))
	assert.ErrorIs(t, err, tokenstore.ErrNotFound, "record deleted")

	// The busy one was last recorded at 30 minutes: it lives until 40.
	for _, step := range []struct {
		at     time.Duration
		status int
	}{
		{40*time.Minute - time.Second, http.StatusOK},             // used 9m59s ago
		{50*time.Minute - 2*time.Second, http.StatusOK},           // 9m59s since that use
		{60*time.Minute - 2*time.Second, http.StatusUnauthorized}, // unused for 10 minutes
	} {
		clock.set(step.at)
		status, _ = app.me(busy)
		assert.Equal(t, step.status, status, "at %v", step.at)
	}
	_, got = ends.take()
	require.Len(t, got, 1)
	assert.Equal(t, EndIdle, got[0].Reason)
}

// The record the request read may be rewritten by another instance's refresh
// before the touch takes the lease, when the session is near its refresh: the
// touch then reads it again under the lease and keeps the rotated tokens.
func TestIdleTouchNearRefreshKeepsRotatedTokens(t *testing.T) {
	clock := &offsetClock{}
	ends := &endRecorder{}
	_, app := idleApp(t, clock, ends, func(c *Config) { c.IdleTimeout = 2 * time.Hour })
	c := app.browser()
	app.login(c, "/")
	id := app.sessionCookie(c).Value
	s, err := app.h.load(context.Background(), id)
	require.NoError(t, err)

	// 63 s before the tokens expire: this request needs no refresh (the window
	// is 1 minute), but one is within touchClockMargin.
	exp := s.tokens.Expiry
	if s.IDTokenExpiry.Before(exp) {
		exp = s.IDTokenExpiry
	}
	clock.set(time.Until(exp.Add(-63 * time.Second)))
	require.False(t, app.h.quiet(s))
	require.False(t, app.h.expiresWithin(s, needAccess, true))

	// Another instance refreshes after this request read the record.
	var once sync.Once
	hook := func(name string) {
		once.Do(func() {
			ctx := context.Background()
			lease, err := app.store.Memory.Acquire(ctx, name, time.Second)
			require.NoError(t, err)
			next := *s
			next.tokens.RefreshToken = "rt-rotated-elsewhere"
			next.tokens.Expiry = s.tokens.Expiry.Add(time.Hour)
			next.IDTokenExpiry = s.IDTokenExpiry.Add(time.Hour)
			b, err := next.marshal()
			require.NoError(t, err)
			require.NoError(t, app.store.Memory.SetFenced(ctx, lease, storeKey(id), b, next.Expiry))
			require.NoError(t, app.store.Memory.Release(ctx, lease))
		})
	}
	app.store.onAcquire.Store(&hook)
	gets := app.store.gets.Load()
	status, _ := app.me(c)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, int64(2), app.store.gets.Load()-gets, "read again under the lease")

	got, err := app.h.load(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, "rt-rotated-elsewhere", got.tokens.RefreshToken, "the refresh's tokens kept")
	assert.WithinDuration(t, clock.Now(), got.LastUsed, 5*time.Second, "the use recorded")
}

// A store that is not a Locker gets a plain write, for a quiet record only.
func TestIdleTouchWithoutLocker(t *testing.T) {
	clock := &offsetClock{}
	ends := &endRecorder{}
	var plain *plainStore
	_, app := idleApp(t, clock, ends, func(c *Config) {
		plain = &plainStore{Store: c.Store}
		c.Store = plain
	})
	c := app.browser()
	app.login(c, "/")
	sets := app.store.sets.Load()
	for d := 20 * time.Second; d <= 3*time.Minute; d += 20 * time.Second {
		clock.set(d)
		status, _ := app.me(c)
		require.Equal(t, http.StatusOK, status)
	}
	assert.Equal(t, int64(3), app.store.sets.Load()-sets, "one write per minute")
	assert.Equal(t, int64(0), app.store.fenced.Load())
}

func TestIdleTimeoutConfig(t *testing.T) {
	op := newTestOP(t)
	_, err := startTestApp(t, op, func(c *Config) { c.IdleTimeout = -time.Second })
	assert.ErrorContains(t, err, "IdleTimeout must not be negative")
}
