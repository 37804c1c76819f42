package soak

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Routes the users call; login is the whole sign-in (the app's /login, the
// provider's login form, the app's /callback, then /me), the others one
// request each.
const (
	routeLogin  = "login"
	routeMe     = "GET /me"
	routeFiles  = "GET /files"
	routeLogout = "POST /logout"
)

var routes = []string{routeLogin, routeMe, routeFiles, routeLogout}

// routeStats is what one route saw.
type routeStats struct {
	latencies []time.Duration // every call, inside windows or not
	quiet     []time.Duration // the calls outside every window
	ok        int
	// failures in and outside fault windows: 5xx, transport errors and,
	// for login and logout, any answer that is not the expected one.
	failedIn, failedOut int
}

// Violation is a broken promise, outside every fault window (widened by
// SettleMargin) unless its kind says otherwise.
type Violation struct {
	At     time.Time
	User   string
	Route  string
	Kind   string // "lost session", "5xx", "wrong user", "login failed", ...
	Detail string
}

// stats gathers the run's figures; safe for concurrent use.
type stats struct {
	mu         sync.Mutex
	routes     map[string]*routeStats
	violations []Violation
	// sessions lost (401 or redirect to login on a signed-in request)
	// inside fault windows: allowed, counted.
	lostIn   int
	logins   int // completed
	logouts  int // completed
	wrongSub int // answers for another user (also a violation)
}

func newStats() *stats {
	s := &stats{routes: map[string]*routeStats{}}
	for _, r := range routes {
		s.routes[r] = &routeStats{}
	}
	return s
}

func (s *stats) record(route string, d time.Duration, ok, inWindow bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.routes[route]
	r.latencies = append(r.latencies, d)
	if !inWindow {
		r.quiet = append(r.quiet, d)
	}
	switch {
	case ok:
		r.ok++
	case inWindow:
		r.failedIn++
	default:
		r.failedOut++
	}
}

func (s *stats) violate(v Violation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.violations = append(s.violations, v)
}

func (s *stats) add(f func(*stats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// percentile returns the p-th percentile (0 < p ≤ 100, nearest rank) of
// sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// RouteFigures is one row of the report's latency table.
type RouteFigures struct {
	Route               string
	Calls, OK           int
	FailedIn, FailedOut int
	P50, P99, Max       time.Duration
	// QuietP50 and QuietP99 are those of the calls outside every window.
	QuietP50, QuietP99 time.Duration
}

func (s *stats) figures() []RouteFigures {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []RouteFigures
	for _, name := range routes {
		r := s.routes[name]
		l, q := slices.Clone(r.latencies), slices.Clone(r.quiet)
		slices.Sort(l)
		slices.Sort(q)
		f := RouteFigures{Route: name, Calls: len(l), OK: r.ok, FailedIn: r.failedIn, FailedOut: r.failedOut,
			P50: percentile(l, 50), P99: percentile(l, 99), QuietP50: percentile(q, 50), QuietP99: percentile(q, 99)}
		if len(l) > 0 {
			f.Max = l[len(l)-1]
		}
		out = append(out, f)
	}
	return out
}

// Report is a run's outcome.
type Report struct {
	Start             time.Time // the users' start
	Duration          time.Duration
	Users, Instances  int
	Windows           []Window
	Routes            []RouteFigures
	Logins, Logouts   int
	LostInWindows     int
	Violations        []Violation
	Refreshes, Reused int64 // refresh_token grants at the provider, and double redeems
	TokenRequests     int64
	STSCalls          int64
	// Heap in use after GC and goroutines, before the users start and after
	// they stop (Env.Close not yet run).
	HeapStart, HeapEnd uint64
	HeapMid            uint64 // after GC at half the run, users running
	// CachedCredentials is each instance's UserCache.Len() at the end.
	CachedCredentials              []int
	GoroutinesStart, GoroutinesEnd int
	// StoreWriteFailures are refreshes whose tokens the provider issued but
	// the store did not keep ("storing refreshed tokens failed").
	StoreWriteFailures int
	WrongUser          int
	// Logs counts the instances' warnings and errors by level and message.
	Logs map[string]int
}

// String renders the report as the summary table the soak prints.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "soak: %d users on %d instances for %s\n", r.Users, r.Instances, r.Duration.Round(time.Second))
	fmt.Fprintf(&b, "%-14s %7s %7s %9s %10s %9s %9s %9s %12s %12s\n", "route", "calls", "ok", "fail(win)", "fail(out)",
		"p50", "p99", "max", "p50(quiet)", "p99(quiet)")
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }
	for _, f := range r.Routes {
		fmt.Fprintf(&b, "%-14s %7d %7d %9d %10d %9s %9s %9s %12s %12s\n", f.Route, f.Calls, f.OK, f.FailedIn, f.FailedOut,
			ms(f.P50), ms(f.P99), ms(f.Max), ms(f.QuietP50), ms(f.QuietP99))
	}
	fmt.Fprintf(&b, "(quiet: calls whose span meets no fault window widened by the settle margin)\n")
	fmt.Fprintf(&b, "fault windows (settle margin %s):\n", SettleMargin)
	t0 := r.Start
	for i, w := range r.Windows {
		fmt.Fprintf(&b, "  %d. %-20s +%6.1fs .. +%6.1fs (%s)\n", i+1, w.Name,
			w.Start.Sub(t0).Seconds(), w.End.Sub(t0).Seconds(), w.End.Sub(w.Start).Round(time.Millisecond))
	}
	fmt.Fprintf(&b, "logins %d, logouts %d, sessions lost inside windows %d\n", r.Logins, r.Logouts, r.LostInWindows)
	fmt.Fprintf(&b, "refreshes at the provider %d, double redeems %d, token requests %d, STS calls %d, refreshed tokens not stored %d\n",
		r.Refreshes, r.Reused, r.TokenRequests, r.STSCalls, r.StoreWriteFailures)
	fmt.Fprintf(&b, "live heap after GC: before %.1f MiB, midway %.1f MiB, after %.1f MiB; goroutines (toxiproxy's aside) %d -> %d; cached credentials per instance at the end %v\n",
		float64(r.HeapStart)/(1<<20), float64(r.HeapMid)/(1<<20), float64(r.HeapEnd)/(1<<20), r.GoroutinesStart, r.GoroutinesEnd, r.CachedCredentials)
	fmt.Fprintf(&b, "answers for another user %d\n", r.WrongUser)
	fmt.Fprintf(&b, "instance warnings and errors, and session ends by reason:\n")
	for _, k := range slices.Sorted(maps.Keys(r.Logs)) {
		fmt.Fprintf(&b, "  %6d %s\n", r.Logs[k], k)
	}
	fmt.Fprintf(&b, "violations: %d\n", len(r.Violations))
	for i, v := range r.Violations {
		if i == 20 {
			fmt.Fprintf(&b, "  ... %d more\n", len(r.Violations)-i)
			break
		}
		fmt.Fprintf(&b, "  %s %s %s: %s: %s\n", v.At.Format("15:04:05.000"), v.User, v.Route, v.Kind, v.Detail)
	}
	return b.String()
}
