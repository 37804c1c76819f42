package faults

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/authflow"
	"github.com/pubauth/awsauth/internal/testenv"
	"github.com/pubauth/awsauth/internal/testenv/toxi"
	"github.com/pubauth/awsauth/tokenstore"
)

var longCells = flag.Bool("faults.long", false, "also run the long fault cells (doc.go says which)")

// storeTimeout is authflow's default Config.StoreTimeout, which the cells
// leave as it is (doc.go).
const storeTimeout = 3 * time.Second

// clockJump puts the app's clock where the access and ID tokens (10 minutes)
// are within their refresh window (1 minute).
const clockJump = 9*time.Minute + 30*time.Second

// storeEnv is what every store cell shares: one provider and one app origin
// registered with it; each cell swaps in its own Handler.
type storeEnv struct {
	op      *testenv.OIDCProvider
	base    string
	srv     *httptest.Server
	handler atomic.Value // http.Handler
}

const storeClientID = "faults-stores"

func startStoreEnv(t *testing.T) *storeEnv {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	e := &storeEnv{base: "http://" + ln.Addr().String()}
	e.op, err = testenv.StartOIDC(t.Context(), testenv.OIDCConfig{
		Clients: []testenv.OIDCClient{{
			ID: storeClientID, Secret: "faults-secret",
			RedirectURIs: []string{e.base + "/callback"}, PostLogoutRedirectURIs: []string{e.base + "/"},
		}},
		RotateRefreshToken: true,
	})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { e.op.Stop() })
	e.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.handler.Load().(http.Handler).ServeHTTP(w, r)
	}))
	e.srv.Listener.Close()
	e.srv.Listener = ln
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	return e
}

// cellApp is one cell's relying party: a Handler on the cell's store, its
// logs, its clock and its clients.
type cellApp struct {
	t      *testing.T
	e      *storeEnv
	h      *authflow.Handler
	store  tokenstore.Store
	logs   *syncBuf
	jumpTo atomic.Int64 // the clock is ahead by clockJump until the provider has had this many token requests
	// onRefresh, when set, runs once when a refresh_token grant's response
	// has come back from the provider, before authflow stores its result.
	onRefresh atomic.Pointer[func()]

	providerTransport *http.Transport
	browserTransport  *http.Transport
	secrets           []string // what must never reach a log
	mu                sync.Mutex
}

func newCellApp(t *testing.T, e *storeEnv, store tokenstore.Store, mods ...func(*authflow.Config)) *cellApp {
	t.Helper()
	a := &cellApp{t: t, e: e, store: store, logs: &syncBuf{},
		providerTransport: &http.Transport{}, browserTransport: &http.Transport{}}
	now := func() time.Time {
		if e.op.TokenRequests() < a.jumpTo.Load() {
			return time.Now().Add(clockJump)
		}
		return time.Now()
	}
	cfg := authflow.Config{
		Issuer:       e.op.Issuer,
		ClientID:     storeClientID,
		ClientSecret: "faults-secret",
		RedirectURL:  e.base + "/callback",
		AuthParams:   map[string]string{"prompt": "consent"}, // offline_access: a refresh token
		Store:        store,
		CookieKeys:   [][]byte{bytes.Repeat([]byte{5}, 32)},
		HTTPClient:   &http.Client{Timeout: 10 * time.Second, Transport: refreshHook{a}},
		Logger:       slog.New(slog.NewTextHandler(a.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:          now,
	}
	for _, m := range mods {
		m(&cfg)
	}
	h, err := authflow.New(t.Context(), cfg)
	require.NoError(t, err)
	a.h = h
	e.handler.Store(appRoutes(h))
	return a
}

// refreshHook carries the app's requests to the provider and runs
// cellApp.onRefresh after a refresh_token grant came back.
type refreshHook struct{ a *cellApp }

func (rh refreshHook) RoundTrip(r *http.Request) (*http.Response, error) {
	refresh := false
	if r.Method == http.MethodPost && r.Body != nil {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		refresh = strings.Contains(string(b), "grant_type=refresh_token")
	}
	resp, err := rh.a.providerTransport.RoundTrip(r)
	if f := rh.a.onRefresh.Swap(nil); refresh && err == nil && f != nil {
		(*f)()
	}
	return resp, err
}

// jumpClock sets the app's clock ahead until the provider's next token request.
func (a *cellApp) jumpClock() { a.jumpTo.Store(a.e.op.TokenRequests() + 1) }

// browser is a cookie-keeping client that follows no redirect.
func (a *cellApp) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: a.browserTransport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type answer struct {
	status int
	body   map[string]string
	header http.Header
	took   time.Duration
}

func (a *cellApp) do(c *http.Client, req *http.Request) answer {
	a.t.Helper()
	start := time.Now()
	resp, err := c.Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	var body map[string]string
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &body)
	return answer{status: resp.StatusCode, body: body, header: resp.Header, took: time.Since(start)}
}

func (a *cellApp) get(c *http.Client, u string) answer {
	a.t.Helper()
	if strings.HasPrefix(u, "/") {
		u = a.e.base + u
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(a.t, err)
	req.Header.Set("Accept", "application/json")
	return a.do(c, req)
}

// me is a signed-in request.
func (a *cellApp) me(c *http.Client) answer { return a.get(c, "/me") }

// startLogin runs /login and the provider's forms and returns the callback
// URL, not yet visited; the code in it is remembered as a secret.
func (a *cellApp) startLogin(c *http.Client, login string) string {
	a.t.Helper()
	resp := a.get(c, "/login?return_to=/me")
	require.Equal(a.t, http.StatusFound, resp.status)
	cb, err := testenv.ProviderLoginHTTP(a.t.Context(), c, resp.header.Get("Location"), login)
	require.NoError(a.t, err)
	a.secret(cb.Query().Get("code"))
	return cb.String()
}

// login signs login in with a new browser and returns it.
func (a *cellApp) login(login string) *http.Client {
	a.t.Helper()
	c := a.browser()
	resp := a.get(c, a.startLogin(c, login))
	require.Equal(a.t, http.StatusSeeOther, resp.status, "callback failed; logs:\n%s", a.logs)
	require.NotEmpty(a.t, a.sessionID(c))
	require.Equal(a.t, http.StatusOK, a.me(c).status, a.logs.String())
	a.rememberTokens(c)
	return c
}

// rememberTokens records c's session id and tokens as secrets for noTokenInLogs.
func (a *cellApp) rememberTokens(c *http.Client) {
	a.t.Helper()
	id := a.sessionID(c)
	ts, err := a.h.Tokens(a.t.Context(), id)
	require.NoError(a.t, err)
	a.secret(id, ts.AccessToken, ts.RefreshToken, ts.IDToken)
}

func (a *cellApp) secret(s ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, v := range s {
		if v != "" {
			a.secrets = append(a.secrets, v)
		}
	}
}

// logout posts the logout form with c's CSRF token.
func (a *cellApp) logout(c *http.Client, csrf string) answer {
	a.t.Helper()
	req, err := http.NewRequest(http.MethodPost, a.e.base+"/logout", strings.NewReader(url.Values{"csrf_token": {csrf}}.Encode()))
	require.NoError(a.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", a.e.base)
	return a.do(c, req)
}

func (a *cellApp) sessionID(c *http.Client) string {
	u, _ := url.Parse(a.e.base)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "__Host-awsauth-session" {
			return ck.Value
		}
	}
	return ""
}

// servedWithin polls c's signed-in request until it is served, for at most d.
func (a *cellApp) servedWithin(c *http.Client, d time.Duration) time.Duration {
	a.t.Helper()
	start := time.Now()
	for {
		r := a.me(c)
		if r.status == http.StatusOK {
			return time.Since(start)
		}
		if time.Since(start) > d {
			a.t.Fatalf("the session was not served within %v of the fault's end: last %d %v; logs:\n%s", d, r.status, r.body, a.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// noTokenInLogs checks the captured logs for every secret seen in the cell.
func (a *cellApp) noTokenInLogs() {
	a.t.Helper()
	logs := a.logs.String()
	a.mu.Lock()
	defer a.mu.Unlock()
	require.NotEmpty(a.t, a.secrets)
	for _, s := range a.secrets {
		if strings.Contains(logs, s) {
			a.t.Errorf("a token or session id (%d bytes) is in the logs", len(s))
		}
	}
}

// leaseLapsed waits (bounded) until the refresh lease of c's session can be
// taken, and gives it back. The lease's name is authflow's (refresh.go).
func (a *cellApp) leaseLapsed(c *http.Client, d time.Duration) {
	a.t.Helper()
	sum := sha256.Sum256([]byte(a.sessionID(c)))
	name := "awsauth/refresh/awsauth/session/" + base64.RawURLEncoding.EncodeToString(sum[:])
	locker := a.store.(tokenstore.Locker)
	deadline := time.Now().Add(d)
	for {
		l, err := locker.Acquire(a.t.Context(), name, time.Second)
		if err == nil {
			require.NoError(a.t, locker.Release(a.t.Context(), l))
			return
		}
		require.ErrorIs(a.t, err, tokenstore.ErrLeaseHeld)
		require.True(a.t, time.Now().Before(deadline), "the refresh lease outlived %v", d)
		time.Sleep(50 * time.Millisecond)
	}
}

// close drops every connection the cell's clients hold.
func (a *cellApp) close() {
	a.providerTransport.CloseIdleConnections()
	a.browserTransport.CloseIdleConnections()
	a.e.srv.CloseClientConnections()
}

// A storeKit runs one store server for all of that store's cells.
type storeKit struct {
	name     string
	upstream func() string                                              // the server's host:port
	open     func(t *testing.T, addr string) (tokenstore.Store, func()) // a Config.Store dialling addr, and its closer
	stop     func(t *testing.T)                                         // stops the server, keeping its data
	start    func(t *testing.T)                                         // starts it again on the same port and data
}

// storeFault is one column of the matrix.
type storeFault struct {
	name   string
	long   bool
	inject func(t *testing.T, k *storeKit, p *toxi.Proxy)
	heal   func(t *testing.T, k *storeKit, p *toxi.Proxy)
	// served: the signed-in request and the logout succeed during the
	// fault; loginOK(store): so does the login.
	served  bool
	loginOK func(store string) bool
	// logoutMayFail(store): the logout may answer 503 (and keep the
	// session) even when served is set.
	logoutMayFail func(store string) bool
	// bounded: a failing request takes StoreTimeout (the store never
	// answers); otherwise it fails sooner, and within StoreTimeout.
	bounded bool
}

func proxyFault(f toxi.Fault) (func(*testing.T, *storeKit, *toxi.Proxy), func(*testing.T, *storeKit, *toxi.Proxy)) {
	return func(t *testing.T, _ *storeKit, p *toxi.Proxy) { require.NoError(t, p.Inject(f)) },
		func(t *testing.T, _ *storeKit, p *toxi.Proxy) { require.NoError(t, p.Heal()) }
}

func never(string) bool { return false }

func storeFaults() []storeFault {
	lat2In, lat2Out := proxyFault(toxi.Latency(time.Second))
	latIn, latOut := proxyFault(toxi.Latency(5 * time.Second))
	bhIn, bhOut := proxyFault(toxi.Blackhole())
	rsIn, rsOut := proxyFault(toxi.ResetResponse())
	return []storeFault{
		{name: "latency-2s", long: true, inject: lat2In, heal: lat2Out, served: true,
			loginOK: func(s string) bool { return s == "redis" }, logoutMayFail: func(s string) bool { return s == "postgres" }},
		{name: "latency-beyond", inject: latIn, heal: latOut, loginOK: never, bounded: true},
		{name: "reset", inject: rsIn, heal: rsOut, loginOK: never},
		{name: "blackhole", inject: bhIn, heal: bhOut, loginOK: never, bounded: true},
		{name: "restart", loginOK: never,
			inject: func(t *testing.T, k *storeKit, _ *toxi.Proxy) { k.stop(t) },
			heal:   func(t *testing.T, k *storeKit, _ *toxi.Proxy) { k.start(t) }},
	}
}

// runStoreCells runs every cell of one store, in the order of storeFaults,
// then fenced-write.
func runStoreCells(t *testing.T, e *storeEnv, k *storeKit) {
	for _, f := range storeFaults() {
		t.Run(f.name, func(t *testing.T) {
			if f.long && !*longCells {
				t.Skip("a long cell: run with -faults.long")
			}
			runFaultCell(t, e, k, f)
		})
	}
	t.Run("fenced-write", func(t *testing.T) { runFencedWriteCell(t, e, k) })
	t.Run("fenced-write-brief", func(t *testing.T) { runBriefFencedWriteCell(t, e, k) })
}

// openCell starts a proxy to k's server and an app on it; the returned func
// closes them all and checks that no goroutine outlives them.
func openCell(t *testing.T, e *storeEnv, k *storeKit, mods ...func(*authflow.Config)) (*cellApp, *toxi.Proxy, func()) {
	before := runtime.NumGoroutine()
	p, err := toxi.New("faults-"+k.name, k.upstream())
	require.NoError(t, err)
	store, closeStore := k.open(t, p.Addr)
	a := newCellApp(t, e, store, mods...)
	return a, p, func() {
		a.close()
		closeStore()
		p.Close()
		settleGoroutines(t, before)
	}
}

func runFaultCell(t *testing.T, e *storeEnv, k *storeKit, f storeFault) {
	a, p, done := openCell(t, e, k)
	alice := a.login("alice")
	bob := a.login("bob")
	bobCSRF := a.me(bob).body["csrf"]
	carol := a.browser()
	carolCallback := a.startLogin(carol, "carol")

	f.inject(t, k, p)
	faultStart := time.Now()
	var me, login, logout answer
	var wg sync.WaitGroup
	run := func(v *answer, fn func() answer) {
		wg.Add(1)
		go func() { defer wg.Done(); *v = fn() }()
	}
	if f.served {
		// One after the other: the store's pooled connections carry them
		// (a new connection costs more round trips, over the bound).
		me = a.me(alice)
		logout = a.logout(bob, bobCSRF)
		login = a.get(carol, carolCallback)
	} else {
		run(&me, func() answer { return a.me(alice) })
		run(&login, func() answer { return a.get(carol, carolCallback) })
		run(&logout, func() answer { return a.logout(bob, bobCSRF) })
		wg.Wait()
	}
	t.Logf("during %s: signed-in %d in %v, login %d in %v, logout %d in %v",
		f.name, me.status, me.took.Round(time.Millisecond), login.status, login.took.Round(time.Millisecond),
		logout.status, logout.took.Round(time.Millisecond))
	f.heal(t, k, p)
	t.Logf("fault window %v", time.Since(faultStart).Round(time.Millisecond))

	// 4: served again within 1 s of the fault's end.
	t.Logf("served again %v after the fault ended", a.servedWithin(alice, time.Second).Round(time.Millisecond))

	// 1: the signed-in request.
	if f.served {
		require.Equal(t, http.StatusOK, me.status, a.logs.String())
		require.Equal(t, "alice", me.body["sub"])
	} else {
		unavailable(t, me, f.bounded)
	}
	// 2: the login callback; a failed one sets no cookie and leaves no session.
	if f.loginOK(k.name) {
		require.Equal(t, http.StatusSeeOther, login.status, a.logs.String())
		require.NotEmpty(t, a.sessionID(carol))
		require.Equal(t, http.StatusOK, a.me(carol).status)
		a.rememberTokens(carol)
	} else {
		unavailable(t, login, f.bounded)
		require.Empty(t, a.sessionID(carol), "a session cookie from a failed callback")
		require.NotContains(t, strings.Join(login.header.Values("Set-Cookie"), ";"), "__Host-awsauth-session=")
		require.Equal(t, http.StatusUnauthorized, a.me(carol).status)
	}
	// 3: the logout.
	if f.served && (logout.status != http.StatusServiceUnavailable || f.logoutMayFail == nil || !f.logoutMayFail(k.name)) {
		require.Equal(t, http.StatusSeeOther, logout.status, a.logs.String())
		require.Empty(t, a.sessionID(bob))
	} else {
		unavailable(t, logout, f.bounded)
		require.NotEmpty(t, a.sessionID(bob), "the cookie of a session that was not ended")
		require.Equal(t, http.StatusOK, a.me(bob).status, "the session a failed logout left")
		require.Equal(t, http.StatusSeeOther, a.logout(bob, bobCSRF).status)
		require.Empty(t, a.sessionID(bob))
	}
	require.Equal(t, http.StatusUnauthorized, a.me(bob).status)
	// 6 and 5.
	a.noTokenInLogs()
	done()
}

// unavailable checks a 503 answered within the bound: after StoreTimeout
// when the store never answers (bounded), within it otherwise.
func unavailable(t *testing.T, r answer, bounded bool) {
	t.Helper()
	require.Equal(t, http.StatusServiceUnavailable, r.status, "%v", r.body)
	if r.body != nil { // JSON callers get the error code; the callback's page is HTML
		require.Equal(t, "temporarily_unavailable", r.body["error"])
	}
	if bounded {
		require.GreaterOrEqual(t, r.took, storeTimeout)
	}
	require.Less(t, r.took, storeTimeout+time.Second, "answered after the store bound")
}

// fencedRefreshTimeout is the fenced-write cell's Config.RefreshTimeout,
// the TTL of the refresh lease that the failed refresh can't release.
const fencedRefreshTimeout = 4 * time.Second

// runFencedWriteCell: a refresh whose token request succeeded (the refresh
// token rotated) can't store its result; doc.go says what follows.
func runFencedWriteCell(t *testing.T, e *storeEnv, k *storeKit) {
	a, p, done := openCell(t, e, k, func(c *authflow.Config) { c.RefreshTimeout = fencedRefreshTimeout })
	alice := a.login("alice")
	fired := make(chan struct{})
	cut := func() { require.NoError(t, p.Inject(toxi.Down())); close(fired) }
	a.onRefresh.Store(&cut)
	_, reusedBefore := e.op.RefreshRedeems()

	a.jumpClock()
	r := a.me(alice)
	select {
	case <-fired:
	default:
		t.Fatalf("no refresh happened; logs:\n%s", a.logs)
	}
	t.Logf("the refresh's request: %d in %v", r.status, r.took.Round(time.Millisecond))
	require.Equal(t, http.StatusOK, r.status, "served with the current access token; logs:\n%s", a.logs)
	// The write is tried until RefreshTimeout ends, then the release gets its StoreTimeout.
	require.Less(t, r.took, fencedRefreshTimeout+storeTimeout+time.Second)
	require.Contains(t, a.logs.String(), "storing refreshed tokens failed")
	require.NoError(t, p.Heal())

	// After the fault: the old tokens, until they near expiry.
	a.servedWithin(alice, time.Second)
	a.rememberTokens(alice)
	// The next refresh presents the spent refresh token: the grant is
	// revoked, the session ends.
	// The failed refresh could not release its lease either: a refresh
	// waits for it until it lapses (RefreshTimeout). Wait for that here, so
	// the next refresh has its whole RefreshTimeout.
	a.leaseLapsed(alice, 2*fencedRefreshTimeout)
	a.jumpClock()
	r = a.me(alice)
	require.Equal(t, http.StatusUnauthorized, r.status, "%v; logs:\n%s", r.body, a.logs)
	require.Equal(t, "login_required", r.body["error"])
	require.Empty(t, a.sessionID(alice))
	_, reusedAfter := e.op.RefreshRedeems()
	require.Equal(t, reusedBefore+1, reusedAfter, "the spent refresh token, presented once")
	require.Contains(t, a.logs.String(), "reason=invalid_grant")
	a.noTokenInLogs()
	done()
}

// runBriefFencedWriteCell: a refresh whose token request succeeded finds the
// store unreachable for its fenced write, and the store comes back within
// RefreshTimeout; doc.go says what follows.
func runBriefFencedWriteCell(t *testing.T, e *storeEnv, k *storeKit) {
	a, p, done := openCell(t, e, k, func(c *authflow.Config) { c.RefreshTimeout = fencedRefreshTimeout })
	alice := a.login("alice")
	a.rememberTokens(alice)
	id := a.sessionID(alice)
	before, err := a.h.Tokens(t.Context(), id)
	require.NoError(t, err)
	healed := make(chan error, 1)
	cut := func() {
		require.NoError(t, p.Inject(toxi.Down()))
		// Heal once the write has failed and is about to be tried again.
		go func() {
			deadline := time.Now().Add(fencedRefreshTimeout)
			for !strings.Contains(a.logs.String(), "storing refreshed tokens failed; trying again") {
				if time.Now().After(deadline) {
					healed <- errors.New("no failed write logged")
					return
				}
				time.Sleep(20 * time.Millisecond) // polling a log, bounded: not synchronisation
			}
			healed <- p.Heal()
		}()
	}
	a.onRefresh.Store(&cut)
	_, reusedBefore := e.op.RefreshRedeems()

	a.jumpClock()
	r := a.me(alice)
	require.NoError(t, <-healed, "logs:\n%s", a.logs)
	t.Logf("the refresh's request: %d in %v", r.status, r.took.Round(time.Millisecond))
	require.Equal(t, http.StatusOK, r.status, "logs:\n%s", a.logs)
	require.Less(t, r.took, fencedRefreshTimeout+time.Second)
	after, err := a.h.Tokens(t.Context(), id)
	require.NoError(t, err)
	require.NotEqual(t, before.RefreshToken, after.RefreshToken, "the rotated tokens were stored")
	a.rememberTokens(alice)

	// The next refresh presents the new refresh token: no reuse, still signed in.
	a.jumpClock()
	r = a.me(alice)
	require.Equal(t, http.StatusOK, r.status, "%v; logs:\n%s", r.body, a.logs)
	_, reusedAfter := e.op.RefreshRedeems()
	require.Equal(t, reusedBefore, reusedAfter, "no refresh token presented twice")
	a.rememberTokens(alice)
	a.noTokenInLogs()
	done()
}

// TestStoreFaults is the session stores' fault matrix (doc.go): one provider
// for every cell, one server per store, one proxy and one app per cell.
func TestStoreFaults(t *testing.T) {
	e := startStoreEnv(t)
	for _, kit := range []func(*testing.T) *storeKit{redisKit, postgresKit, dynamoKit} {
		k := kit(t)
		t.Run(k.name, func(t *testing.T) { runStoreCells(t, e, k) })
	}
}
