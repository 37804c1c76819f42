package soak

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

// Run runs the users for Config.Duration with the fault schedule, stops
// them (each signs out), lets the process settle and returns the report.
// ctx bounds the whole run.
func (e *Env) Run(ctx context.Context) (*Report, error) {
	userTr := http.DefaultTransport.(*http.Transport).Clone()
	userTr.MaxIdleConnsPerHost = e.cfg.Users

	heapStart, gStart := e.measure(userTr)
	plan := schedule(e.cfg.Duration)
	e.logf("soak: %d users, %d instances, %s, %d fault windows", e.cfg.Users, len(e.instances), e.cfg.Duration, len(plan))

	start := time.Now()
	lctx, cancel := context.WithTimeout(ctx, e.cfg.Duration)
	defer cancel()
	injected := make(chan error, 1)
	go func() { injected <- e.inject(lctx, start, plan) }()
	// Users start over the first quarter of the first quiet gap, so that
	// the provider is not asked for every login at once.
	stagger := min(e.cfg.Duration/8, 5*time.Second)
	var wg sync.WaitGroup
	for i := range e.cfg.Users {
		u := e.newUser(i, userTr)
		wg.Go(func() { u.run(lctx, stagger) })
	}
	progress := time.NewTicker(10 * time.Second)
	midway := time.NewTimer(e.cfg.Duration / 2)
	defer midway.Stop()
	var heapMid uint64
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
wait:
	for {
		select {
		case <-done:
			break wait
		case <-midway.C:
			heapMid = liveHeap()
		case <-progress.C:
			f := e.stats.figures()
			e.logf("soak: +%3.0fs %d /me, %d /files, %d logins", time.Since(start).Seconds(), f[1].Calls, f[2].Calls, f[0].Calls)
		}
	}
	progress.Stop()
	cancel()
	if err := <-injected; err != nil {
		return nil, err
	}
	elapsed := time.Since(start)

	heapEnd, gEnd := e.measure(userTr)
	// Goroutines that end asynchronously (a server's connection reader
	// after its client closed) are given a bounded time to do so.
	deadline := time.Now().Add(15 * time.Second)
	for gEnd > gStart+GoroutineTolerance && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond) // polling, bounded by deadline
		heapEnd, gEnd = e.measure(userTr)
	}

	if e.cfg.HeapProfile != "" {
		if err := writeHeapProfile(e.cfg.HeapProfile); err != nil {
			return nil, err
		}
	}
	refreshes, reused := e.st.OIDC.RefreshRedeems()
	r := &Report{
		Duration: elapsed, Users: e.cfg.Users, Instances: len(e.instances),
		Windows: e.windows.snapshot(), Routes: e.stats.figures(),
		Refreshes: refreshes, Reused: reused, TokenRequests: e.st.OIDC.TokenRequests(), STSCalls: e.stsCalls.Load(),
		Start:     start,
		HeapStart: heapStart, HeapMid: heapMid, HeapEnd: heapEnd, GoroutinesStart: gStart, GoroutinesEnd: gEnd,
		StoreWriteFailures: e.logs.writeFailureCount(),
		Logs:               e.logs.snapshot(),
	}
	e.stats.add(func(s *stats) {
		r.Logins, r.Logouts, r.LostInWindows, r.WrongUser = s.logins, s.logouts, s.lostIn, s.wrongSub
		r.Violations = append(r.Violations, s.violations...)
	})
	for _, a := range e.instances {
		r.CachedCredentials = append(r.CachedCredentials, a.users.Len())
	}
	return r, nil
}

// GoroutineTolerance is how many more goroutines (toxiproxy's own left
// out) the process may have after the run than before it, once idle
// connections are closed and have had up to 15 s to wind down: a handful of
// keep-alive connections still closing. A leak of one per session or per
// request would be hundreds.
const GoroutineTolerance = 10

// HeapTolerance bounds the heap after the run: at most HeapTolerance
// bytes plus half again the heap before it. The harness keeps every
// latency (8 bytes a request) and the provider's proxy one entry per
// refresh token redeemed (about 100 bytes), a few MiB in a 10-minute run of
// 300 users; a leak of a session or a credentials cache per login would
// exceed it.
const HeapTolerance = 16 << 20

// UserHeap is the live state a signed-in user may leave at the end of a run,
// on top of HeapTolerance when the end is compared with the start (before any
// user): a cached credential set (provider, STS client, credentials) on each
// of the three instances, each cache bounded by MaxEntries = users, since a
// logout evicts only on the instance it reached. Seen: about 70 KiB a user
// (300 users, 5 minutes: 696 cached sets, 20.7 MiB above the start).
const UserHeap = 96 << 10

// measure closes idle connections, collects garbage, and returns the heap
// in use and the number of goroutines other than toxiproxy's (the fault
// proxies hold a few per open connection, and go-redis keeps a pool that
// grows with load: they are the harness, not the app).
func (e *Env) measure(userTr *http.Transport) (heap uint64, goroutines int) {
	e.fullPools()
	userTr.CloseIdleConnections()
	e.closeIdle()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	return liveHeap(), countGoroutines()
}

// fullPools waits, at most 10 s, until every instance's Redis pool holds
// redisPool connections again (go-redis redials in the background after a
// fault closed some).
func (e *Env) fullPools() {
	deadline := time.Now().Add(10 * time.Second)
	for _, c := range e.clients {
		for c.PoolStats().TotalConns < redisPool && time.Now().Before(deadline) {
			c.Ping(context.Background())      // a use tops the pool up
			time.Sleep(50 * time.Millisecond) // polling, bounded by deadline
		}
	}
}

// liveHeap returns the bytes of heap objects reachable after a GC.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	return errors.Join(pprof.Lookup("heap").WriteTo(f, 0), f.Close())
}

func countGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if len(g) > 0 && !bytes.Contains(g, []byte("toxiproxy")) {
			count++
		}
	}
	return count
}
