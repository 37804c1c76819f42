package faults

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/authflow"
	"github.com/pubauth/awsauth/internal/testenv"
	"github.com/pubauth/awsauth/tokenstore"
)

// The failover tests (failover_*_test.go) run three authflow instances on one
// shared store against a real provider, sign many users in over HTTP, keep
// signed-in traffic and refreshes running on all instances, break the store
// (a Redis master SIGKILLed under Sentinel, a PostgreSQL restart) and check
// what the users saw. AWSAUTH_FAILOVER_LONG=1 runs them bigger and longer.

// failoverLong reports whether AWSAUTH_FAILOVER_LONG asks for the long run.
func failoverLong() bool { return os.Getenv("AWSAUTH_FAILOVER_LONG") != "" }

// failoverUsers is how many users sign in: 24 in CI, 150 in the long run.
func failoverUsers() int {
	if failoverLong() {
		return 150
	}
	return 24
}

const (
	// failoverTokenTTL is the provider's access and ID token lifetime:
	// authflow refreshes at half of it (RefreshWindow is capped at half the
	// lifetime), so every session refreshes every 2 s.
	failoverTokenTTL = 4 * time.Second
	// failoverPace is the pause between one user's requests.
	failoverPace = 25 * time.Millisecond
	// failoverSlow is the latency past which a 200 counts as held up by the
	// fault (a request waiting for the store to come back).
	failoverSlow = time.Second
)

// fleet is the provider and n app instances sharing a store.
type fleet struct {
	op    *testenv.OIDCProvider
	bases []string
	tr    *http.Transport
}

// newFleet starts the provider and n instances, instance i on stores(i).
func newFleet(t *testing.T, n int, stores func(i int) tokenstore.Store) *fleet {
	t.Helper()
	lns := make([]net.Listener, n)
	f := &fleet{tr: &http.Transport{MaxIdleConnsPerHost: 64}}
	t.Cleanup(f.tr.CloseIdleConnections)
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		lns[i] = ln
		f.bases = append(f.bases, "http://"+ln.Addr().String())
	}
	op, err := testenv.StartOIDC(context.Background(), testenv.OIDCConfig{
		Clients: []testenv.OIDCClient{{ID: "web", Secret: "web-secret",
			RedirectURIs: []string{f.bases[0] + "/callback"}}},
		AccessTokenTTL:     failoverTokenTTL,
		IDTokenTTL:         failoverTokenTTL,
		RotateRefreshToken: true,
	})
	if err != nil {
		for _, ln := range lns {
			ln.Close()
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Stop() })
	f.op = op
	for i, ln := range lns {
		h, err := authflow.New(t.Context(), authflow.Config{
			Issuer: op.Issuer, ClientID: "web", ClientSecret: "web-secret",
			RedirectURL: f.bases[0] + "/callback", // the users' cookies hold for every instance: same host
			CookieKeys:  [][]byte{bytes.Repeat([]byte{7}, 32)},
			Store:       stores(i),
			Logger:      slog.New(slog.DiscardHandler),
		})
		require.NoError(t, err)
		srv := httptest.NewUnstartedServer(appRoutes(h))
		srv.Listener.Close()
		srv.Listener = ln
		srv.Start()
		t.Cleanup(srv.Close)
	}
	return f
}

// user is one signed-in browser: its login (the provider's sub) and cookies.
type user struct {
	login string
	c     *http.Client
}

// signIn signs n users in through instance 0, over HTTP.
func (f *fleet) signIn(t *testing.T, n int) []*user {
	t.Helper()
	users := make([]*user, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 4)
	for i := range users {
		jar, _ := cookiejar.New(nil)
		u := &user{login: fmt.Sprintf("user%03d", i), c: &http.Client{Jar: jar, Transport: f.tr, Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
		users[i] = u
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs <- f.login(t.Context(), u)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err, f.op.Logs())
	}
	return users
}

func (f *fleet) login(ctx context.Context, u *user) error {
	resp, err := u.c.Get(f.bases[0] + "/login?return_to=/me")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return fmt.Errorf("%s: /login answered %s", u.login, resp.Status)
	}
	cb, err := testenv.ProviderLoginHTTP(ctx, u.c, resp.Header.Get("Location"), u.login)
	if err != nil {
		return fmt.Errorf("%s: %w", u.login, err)
	}
	resp, err = u.c.Get(cb.String())
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("%s: callback answered %s", u.login, resp.Status)
	}
	return nil
}

// outcome is one signed-in request.
type outcome struct {
	user     int
	start    time.Time
	end      time.Time
	status   int    // 0: transport error
	wrongSub string // set when a 200 named someone else
}

func (o outcome) slow() bool {
	return o.status == http.StatusOK && o.wrongSub == "" && o.end.Sub(o.start) > failoverSlow
}

// traffic runs every user's requests, round robin over the instances, each
// user pausing failoverPace between requests, until stop is closed or the
// user's session has ended.
type traffic struct {
	mu       sync.Mutex
	outcomes []outcome
	ok       atomic.Int64
	wg       sync.WaitGroup
	stop     chan struct{}
}

func (f *fleet) run(users []*user) *traffic {
	tr := &traffic{stop: make(chan struct{})}
	for i, u := range users {
		tr.wg.Go(func() {
			for n := i; ; n++ {
				select {
				case <-tr.stop:
					return
				case <-time.After(failoverPace):
				}
				o := outcome{user: i, start: time.Now()}
				resp, err := u.c.Get(f.bases[n%len(f.bases)] + "/me")
				if err == nil {
					var me struct{ Sub string }
					if resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&me) != nil {
						me.Sub = "(no JSON answer)"
					}
					resp.Body.Close()
					o.status = resp.StatusCode
					if o.status == http.StatusOK && me.Sub != u.login {
						o.wrongSub = me.Sub
					}
				}
				o.end = time.Now()
				if o.status == http.StatusOK && o.wrongSub == "" {
					tr.ok.Add(1)
					if !o.slow() {
						continue
					}
				}
				tr.mu.Lock()
				tr.outcomes = append(tr.outcomes, o)
				tr.mu.Unlock()
				if o.status == http.StatusUnauthorized || o.status == http.StatusFound {
					return // signed out: a person would sign in again, this one stops
				}
			}
		})
	}
	return tr
}

// halt stops the traffic and returns the requests that did not answer 200
// for their own user, or took longer than failoverSlow.
func (tr *traffic) halt() []outcome {
	close(tr.stop)
	tr.wg.Wait()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.outcomes)
}

// waitRedeems waits until the provider has counted at least n more refresh
// grants than before, or fails after limit.
func (f *fleet) waitRedeems(t *testing.T, before, n int64, limit time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool {
		total, _ := f.op.RefreshRedeems()
		return total-before >= n
	}, limit, 50*time.Millisecond, "refreshes did not happen")
}

// verdict sums up the failed requests around a fault that began at from and
// whose peer was back at back: a failure (or slow answer) must end after
// from and start before back+grace.
type verdict struct {
	slow            int           // 200 after more than failoverSlow
	maxLatency      time.Duration // of the slow ones
	serverErrors    int           // 5xx
	ended           int           // 401/302: the session was gone
	transport       int           // no HTTP answer
	wrongUser       int           // 200 for someone else
	usersLost       map[int]bool  // users who saw their session end
	window          time.Duration // from the fault to the last failed or slow request's end
	firstErr, lastE time.Time
	outside         []outcome // failures outside [from, back+grace]
}

func judge(bad []outcome, from, back time.Time, grace time.Duration) verdict {
	v := verdict{usersLost: map[int]bool{}}
	for _, o := range bad {
		switch {
		case o.slow():
			v.slow++
			v.maxLatency = max(v.maxLatency, o.end.Sub(o.start))
		case o.wrongSub != "":
			v.wrongUser++
			continue
		case o.status == 0:
			v.transport++
		case o.status >= 500:
			v.serverErrors++
		case o.status == http.StatusUnauthorized || o.status == http.StatusFound:
			v.ended++
			v.usersLost[o.user] = true
		}
		if o.end.Before(from) || o.start.After(back.Add(grace)) {
			v.outside = append(v.outside, o)
		}
		if v.firstErr.IsZero() || o.end.Before(v.firstErr) {
			v.firstErr = o.end
		}
		if o.end.After(v.lastE) {
			v.lastE = o.end
		}
	}
	if !v.lastE.IsZero() {
		v.window = v.lastE.Sub(from)
	}
	return v
}

// write is one Set or SetFenced the recorder saw.
type write struct {
	start, acked time.Time // acked: zero when it failed
	value        [8]byte
}

// lockingStore is what every store here is.
type lockingStore interface {
	tokenstore.Store
	tokenstore.Locker
	tokenstore.Indexer
}

// recorder is a store that remembers every session write, so that after a
// fault each record can be checked against what had been acknowledged
// before it, and failed writes counted.
type recorder struct {
	lockingStore
	mu     sync.Mutex
	writes map[string][]write
}

// begin records a write about to be sent (before it can land, so that a
// check of the store never sees a value it does not know); done records its
// answer.
func (r *recorder) begin(key string, value []byte) (done func(error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := len(r.writes[key])
	r.writes[key] = append(r.writes[key], write{start: time.Now(), value: digest(value)})
	return func(err error) {
		if err != nil {
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.writes[key][i].acked = time.Now()
	}
}

func (r *recorder) Set(ctx context.Context, key string, value []byte, expiry time.Time) error {
	done := r.begin(key, value)
	err := r.lockingStore.Set(ctx, key, value, expiry)
	done(err)
	return err
}

func (r *recorder) SetFenced(ctx context.Context, lease tokenstore.Lease, key string, value []byte, expiry time.Time) error {
	done := r.begin(key, value)
	err := r.lockingStore.SetFenced(ctx, lease, key, value, expiry)
	done(err)
	return err
}

// failedWrites counts the session writes that returned an error.
func failedWrites(recs []*recorder) int {
	n := 0
	for _, r := range recs {
		r.mu.Lock()
		for _, ws := range r.writes {
			for _, w := range ws {
				if w.acked.IsZero() {
					n++
				}
			}
		}
		r.mu.Unlock()
	}
	return n
}

// digest names a stored value without showing it (it holds tokens).
func digest(b []byte) [8]byte {
	h := sha256.Sum256(b)
	return [8]byte(h[:8])
}
