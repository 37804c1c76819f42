package authflow

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/tokenstore"
)

func (op *testOP) setAccessTTL(d time.Duration) {
	op.mu.Lock()
	op.accessTTL = d
	op.mu.Unlock()
}

// loginExpiring signs in with an access token that is already inside the
// refresh window, and makes later tokens last an hour.
func loginExpiring(t *testing.T, op *testOP, app *testApp) *http.Client {
	t.Helper()
	op.setAccessTTL(30 * time.Second) // RefreshWindow is 1 minute
	c := app.browser()
	app.login(c, "/")
	op.setAccessTTL(time.Hour)
	app.backdate(app.sessionCookie(c).Value, time.Hour)
	return c
}

// backdate rewrites the stored session as if its tokens had come from the
// token endpoint d earlier, with the same expiries: their refresh window is
// then the configured one, not half of a short lifetime.
func (app *testApp) backdate(id string, d time.Duration) {
	app.t.Helper()
	s, err := app.h.load(context.Background(), id)
	require.NoError(app.t, err)
	s.issued = s.issued.Add(-d)
	rec, err := s.marshal()
	require.NoError(app.t, err)
	require.NoError(app.t, app.h.cfg.Store.Set(context.Background(), storeKey(id), rec, s.Expiry))
}

// offsetClock is real time plus an offset the test moves: x/oauth2 dates a
// token's expiry with the real clock, so the app's clock must follow it.
type offsetClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *offsetClock) set(d time.Duration) {
	c.mu.Lock()
	c.offset = d
	c.mu.Unlock()
}

// Issue 8: the refresh window is at most half a token's lifetime as issued.
// A 20-second access token with the default 1-minute window is used for its
// first 10 seconds, not refreshed on every request.
func TestRefreshWindowBoundedByTokenLifetime(t *testing.T) {
	op := newTestOP(t)
	clock := &offsetClock{}
	app := newTestApp(t, op, func(c *Config) { c.Now = clock.Now })
	op.setAccessTTL(20 * time.Second)
	c := app.browser()
	app.login(c, "/")
	before := op.tokenCalls.Load()

	// Up to 8 s of the token's 20: a margin of 2 s of real time for the test.
	for sec := range 9 {
		clock.set(time.Duration(sec) * time.Second)
		status, _ := app.me(c)
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, int64(0), op.tokenCalls.Load()-before, "no refresh %d s into a 20 s token", sec)
	}
	// Past half its life the token is refreshed, once.
	clock.set(11 * time.Second)
	status, _ := app.me(c)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, int64(1), op.tokenCalls.Load()-before, "one refresh past half the token's life")
}

func TestRefreshWindow(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := &Handler{cfg: Config{RefreshWindow: time.Minute}}
	for _, tt := range []struct {
		name        string
		issued, exp time.Time
		want        time.Duration
	}{
		{"long token: the configured window", t0, t0.Add(time.Hour), time.Minute},
		{"20 s token: half its life", t0, t0.Add(20 * time.Second), 10 * time.Second},
		{"2 min token: exactly the window", t0, t0.Add(2 * time.Minute), time.Minute},
		{"unknown issue time: the configured window", time.Time{}, t0.Add(20 * time.Second), time.Minute},
		{"expiry before issue: no window", t0, t0.Add(-time.Second), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, h.refreshWindow(tt.issued, tt.exp))
		})
	}
}

func TestRefreshOnceForConcurrentRequests(t *testing.T) {
	for _, tt := range []struct {
		name  string
		store func() tokenstore.Store
	}{
		{"store with leases", nil},
		{"store without leases", func() tokenstore.Store { return struct{ tokenstore.Store }{tokenstore.NewMemory()} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			op := newTestOP(t)
			var mods []func(*Config)
			if tt.store != nil {
				mods = append(mods, func(c *Config) { c.Store = tt.store() })
			}
			app := newTestApp(t, op, mods...)
			c := loginExpiring(t, op, app)
			before := op.tokenCalls.Load()

			var wg sync.WaitGroup
			statuses := make([]int, 100)
			for i := range statuses {
				wg.Go(func() { statuses[i], _ = app.me(c) })
			}
			wg.Wait()
			for _, s := range statuses {
				require.Equal(t, http.StatusOK, s)
			}
			assert.Equal(t, int64(1), op.tokenCalls.Load()-before, "exactly one token request")
			// The refreshed tokens were persisted: no further refresh.
			status, _ := app.me(c)
			assert.Equal(t, http.StatusOK, status)
			assert.Equal(t, int64(1), op.tokenCalls.Load()-before)
		})
	}
}

// Two instances sharing one store: the lease makes one of them redeem.
func TestRefreshOnceAcrossInstances(t *testing.T) {
	op := newTestOP(t)
	shared := newCountingStore()
	a := newTestApp(t, op, func(c *Config) { c.Store = shared })
	b := newTestApp(t, op, func(c *Config) { c.Store = shared })
	c := loginExpiring(t, op, a)
	ck := a.sessionCookie(c)
	before := op.tokenCalls.Load()

	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		app := a
		if i%2 == 1 {
			app = b
		}
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, app.srv.URL+"/me", nil)
			req.Header.Set("Accept", "application/json")
			req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errs <- errors.New(resp.Status)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.Equal(t, int64(1), op.tokenCalls.Load()-before)
}

func TestRefreshInvalidGrantEndsSession(t *testing.T) {
	op := newTestOP(t)
	ended := make(chan string, 1)
	app := newTestApp(t, op, func(c *Config) { c.OnSessionEnd = func(id string) { ended <- id } })
	c := loginExpiring(t, op, app)
	id := app.sessionCookie(c).Value
	op.expireRefreshTokens()
	status, body := app.me(c)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, sessionHandle(id), <-ended, "OnSessionEnd told the handle")
	assert.Equal(t, "login_required", body["error"])
	assert.Nil(t, app.sessionCookie(c), "cookie cleared")
	// A browser is sent to login with its return path.
	resp := app.get(c, "/me?x=1")
	assert.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, "/login?return_to=%2Fme%3Fx%3D1", resp.Header.Get("Location"))
	// And logs back in.
	app.login(c, "/")
	status, _ = app.me(c)
	assert.Equal(t, http.StatusOK, status)
}

func TestRefreshTransientFailureKeepsSession(t *testing.T) {
	op := newTestOP(t)
	app := newTestApp(t, op)
	failing := true
	var mu sync.Mutex
	op.tokenHook = func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		r.ParseForm()
		if failing && r.PostForm.Get("grant_type") == "refresh_token" {
			http.Error(w, "upstream down", http.StatusServiceUnavailable)
			return true
		}
		return false
	}

	t.Run("still-valid access token is served", func(t *testing.T) {
		c := loginExpiring(t, op, app)
		status, _ := app.me(c)
		assert.Equal(t, http.StatusOK, status)
		assert.NotNil(t, app.sessionCookie(c))
	})
	t.Run("expired access token gets 503, session kept", func(t *testing.T) {
		op.setAccessTTL(-10 * time.Second)
		c := app.browser()
		app.login(c, "/")
		op.setAccessTTL(time.Hour)
		status, _ := app.me(c)
		assert.Equal(t, http.StatusServiceUnavailable, status)
		assert.NotNil(t, app.sessionCookie(c))
		mu.Lock()
		failing = false
		mu.Unlock()
		status, _ = app.me(c)
		assert.Equal(t, http.StatusOK, status, "the retry succeeds with the kept refresh token")
	})
}

func TestRefreshWithoutNewRefreshTokenKeepsOld(t *testing.T) {
	op := newTestOP(t)
	op.rotate = false
	app := newTestApp(t, op)
	c := loginExpiring(t, op, app)
	id := app.sessionCookie(c).Value
	before, err := app.h.Tokens(context.Background(), id)
	require.NoError(t, err) // this call refreshed
	op.setAccessTTL(30 * time.Second)
	s, err := app.h.load(context.Background(), id)
	require.NoError(t, err)
	s.tokens.Expiry = time.Now().Add(10 * time.Second) // force another refresh
	s.issued = time.Now().Add(-time.Hour)
	rec, _ := s.marshal()
	require.NoError(t, app.store.Set(context.Background(), storeKey(id), rec, s.Expiry))
	after, err := app.h.Tokens(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, before.RefreshToken, after.RefreshToken)
	assert.NotEqual(t, before.AccessToken, after.AccessToken)
}

// C.18: a refreshed ID token must keep iss, sub, aud and azp, and carry no
// nonce or the original.
func TestRefreshedIDToken(t *testing.T) {
	tests := []struct {
		name string
		mod  func(c map[string]any)
		ok   bool
	}{
		{"nonce repeated", func(c map[string]any) {}, true},
		{"nonce absent", func(c map[string]any) { delete(c, "nonce") }, true},
		{"nonce different", func(c map[string]any) { c["nonce"] = "other" }, false},
		{"sub different", func(c map[string]any) { c["sub"] = "mallory" }, false},
		{"aud different", func(c map[string]any) { c["aud"] = []string{testClientID, "x"}; c["azp"] = testClientID }, false},
		{"azp added", func(c map[string]any) { c["azp"] = testClientID }, false},
		{"iss different", func(c map[string]any) { c["iss"] = "https://evil.example" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := newTestOP(t)
			op.idClaimsMod = func(c map[string]any, refresh bool) {
				if refresh {
					tt.mod(c)
				}
			}
			app := newTestApp(t, op, func(c *Config) { c.TrustedAudiences = []string{"x"} })
			c := loginExpiring(t, op, app)
			id := app.sessionCookie(c).Value
			status, _ := app.me(c)
			if tt.ok {
				assert.Equal(t, http.StatusOK, status)
				return
			}
			assert.Equal(t, http.StatusUnauthorized, status, "logs:\n%s", app.logs)
			_, err := app.h.load(context.Background(), id)
			assert.ErrorIs(t, err, ErrSessionEnded, "the session record is gone")
		})
	}
}

func TestIDTokenFunc(t *testing.T) {
	op := newTestOP(t)
	app := newTestApp(t, op)
	c := app.browser()
	app.login(c, "/")
	id := app.sessionCookie(c).Value
	fn := app.h.IDTokenFunc(id)

	tok, err := fn(context.Background())
	require.NoError(t, err)
	before := op.tokenCalls.Load()

	// Age the stored ID token into the refresh window.
	s, err := app.h.load(context.Background(), id)
	require.NoError(t, err)
	s.IDTokenExpiry = time.Now().Add(10 * time.Second)
	s.issued = time.Now().Add(-time.Hour)
	rec, _ := s.marshal()
	require.NoError(t, app.store.Set(context.Background(), storeKey(id), rec, s.Expiry))

	tok2, err := fn(context.Background())
	require.NoError(t, err)
	assert.NotEqual(t, tok, tok2)
	assert.Equal(t, int64(1), op.tokenCalls.Load()-before)

	// A caller whose context is already cancelled gets its own error.
	s.IDTokenExpiry = time.Now().Add(10 * time.Second)
	rec, _ = s.marshal()
	require.NoError(t, app.store.Set(context.Background(), storeKey(id), rec, s.Expiry))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = fn(ctx)
	assert.ErrorIs(t, err, context.Canceled)

	// After logout the function reports the session ended.
	require.NoError(t, app.store.Delete(context.Background(), storeKey(id)))
	_, err = fn(context.Background())
	assert.ErrorIs(t, err, ErrSessionEnded)
}

func TestStoreDownFailsClosed(t *testing.T) {
	op := newTestOP(t)
	app := newTestApp(t, op)
	c := app.browser()
	app.login(c, "/")
	down := errors.New("connection refused")
	app.store.fail.Store(&down)
	status, _ := app.me(c)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	resp := app.get(c, app.startLogin(c, "/"))
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	app.store.fail.Store(nil)
	status, _ = app.me(c)
	assert.Equal(t, http.StatusOK, status, "the session survived the outage")
}

// E.24: the provider says invalid_grant because another instance already
// redeemed and rotated the refresh token; the stored result is adopted and
// the user stays signed in.
func TestRefreshAdoptsTokensRotatedElsewhere(t *testing.T) {
	op := newTestOP(t)
	store := struct{ tokenstore.Store }{tokenstore.NewMemory()} // no leases
	app := newTestApp(t, op, func(c *Config) { c.Store = store })
	c := loginExpiring(t, op, app)
	id := app.sessionCookie(c).Value
	var once sync.Once
	op.tokenHook = func(w http.ResponseWriter, r *http.Request) bool {
		handled := false
		once.Do(func() {
			s, err := app.h.load(context.Background(), id)
			require.NoError(t, err)
			s.tokens.RefreshToken = "rotated-elsewhere"
			s.tokens.AccessToken = "at-from-the-other-instance"
			s.tokens.Expiry = time.Now().Add(time.Hour)
			rec, err := s.marshal()
			require.NoError(t, err)
			require.NoError(t, store.Set(context.Background(), storeKey(id), rec, s.Expiry))
			oauthError(w, "invalid_grant")
			handled = true
		})
		return handled
	}
	status, _ := app.me(c)
	assert.Equal(t, http.StatusOK, status)
	ts, err := app.h.Tokens(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, "at-from-the-other-instance", ts.AccessToken)
}

// The access token's expiry is expires_in counted on Config.Now, at login and
// at refresh: x/oauth2 counts it on time.Now, and a session on a test's
// clock an hour ahead got tokens that had expired an hour before (each
// request then refreshed, or failed with 503).
func TestTokenExpiryOnTheHandlersClock(t *testing.T) {
	op := newTestOP(t)
	clock := &offsetClock{}
	clock.set(time.Hour)
	op.now = clock.Now
	app := newTestApp(t, op, func(c *Config) { c.Now = clock.Now })
	op.setAccessTTL(10 * time.Minute)
	c := app.browser()
	app.login(c, "/")
	id := app.sessionCookie(c).Value
	s, err := app.h.load(context.Background(), id)
	require.NoError(t, err)
	assert.WithinDuration(t, clock.Now().Add(10*time.Minute), s.AccessTokenExpiry(), 5*time.Second, "at login")

	clock.set(time.Hour + 10*time.Minute)
	calls := op.tokenCalls.Load()
	status, _ := app.me(c)
	require.Equal(t, http.StatusOK, status)
	status, _ = app.me(c)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, int64(1), op.tokenCalls.Load()-calls, "one refresh, then the refreshed token is used")
	s, err = app.h.load(context.Background(), id)
	require.NoError(t, err)
	assert.WithinDuration(t, clock.Now().Add(10*time.Minute), s.AccessTokenExpiry(), 5*time.Second, "after refresh")
}

// failingFenced fails its first n fenced writes, as a store briefly
// unreachable (a failover, a restart) does.
type failingFenced struct {
	*countingStore
	n atomic.Int32
}

func (s *failingFenced) SetFenced(ctx context.Context, l tokenstore.Lease, key string, v []byte, exp time.Time) error {
	if s.n.Add(-1) >= 0 {
		return errors.New("connection reset by peer")
	}
	return s.countingStore.SetFenced(ctx, l, key, v, exp)
}

// A refresh redeemed at the provider whose fenced write fails at first is
// written once the store answers again, within RefreshTimeout: giving up would
// bring back a refresh token the provider has spent. Failed before: the first
// failure dropped the refreshed tokens.
func TestRefreshedTokensStoredThroughABriefStoreFault(t *testing.T) {
	op := newTestOP(t)
	store := &failingFenced{countingStore: newCountingStore()}
	app := newTestApp(t, op, func(c *Config) { c.Store = store })
	c := loginExpiring(t, op, app)
	id := app.sessionCookie(c).Value
	before, err := app.h.load(context.Background(), id)
	require.NoError(t, err)
	calls := op.tokenCalls.Load()

	store.n.Store(2)
	status, _ := app.me(c)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, calls+1, op.tokenCalls.Load(), "one redeem")
	assert.Equal(t, int64(1), store.fenced.Load(), "two failed writes, then one that landed")
	after, err := app.h.load(context.Background(), id)
	require.NoError(t, err)
	assert.NotEqual(t, before.tokens.AccessToken, after.tokens.AccessToken, "the refreshed tokens are stored")
}

// failingRelease fails its first n releases, as a store briefly unreachable
// does.
type failingRelease struct {
	*countingStore
	n atomic.Int32
}

func (s *failingRelease) Release(ctx context.Context, l tokenstore.Lease) error {
	if s.n.Add(-1) >= 0 {
		return errors.New("connection refused")
	}
	return s.countingStore.Release(ctx, l)
}

// A refresh lease whose release fails is released once the store answers,
// not left to lapse: until then every refresh of the session waits for it.
// Failed before: the lease was held for all of RefreshTimeout.
func TestRefreshLeaseReleasedAfterAFailedRelease(t *testing.T) {
	op := newTestOP(t)
	store := &failingRelease{countingStore: newCountingStore()}
	app := newTestApp(t, op, func(c *Config) { c.Store = store; c.RefreshTimeout = time.Minute })
	c := loginExpiring(t, op, app)
	id := app.sessionCookie(c).Value

	store.n.Store(1)
	status, _ := app.me(c)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, app.logs.String(), "releasing the refresh lease failed")
	assert.Eventually(t, func() bool {
		l, err := store.Acquire(context.Background(), refreshLeaseName(id), time.Second)
		if err != nil {
			return false
		}
		return store.Release(context.Background(), l) == nil
	}, 5*time.Second, 20*time.Millisecond, "the lease is free well before RefreshTimeout")
}
