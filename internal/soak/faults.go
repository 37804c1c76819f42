package soak

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/pubauth/awsauth/internal/testenv/toxi"
)

// SettleMargin is how long after a fault window ends its effects may still
// show: a request that began in the window may end after it, and go-redis
// drops and redials the connections a fault broke on their next use. A 5xx,
// a failed login or a lost session is "in a window" when the request's span
// overlaps [window start, window end + SettleMargin].
const SettleMargin = 2 * time.Second

// A Window is one injected fault: what, on which link, from Start to End
// (End is zero while it lasts).
type Window struct {
	Name       string // "redis blackhole", "provider latency 2s", "redis down"
	Start, End time.Time
}

// fault is one kind of window the schedule injects.
type fault struct {
	name  string
	proxy func(*Env) *toxi.Proxy
	fault toxi.Fault
	len   time.Duration
}

// faultKinds are the faults the schedule cycles through, in order: Redis
// black-holed (every store call hangs until go-redis's 3 s read timeout),
// the provider's token endpoint slowed by 2 s each way (refreshes, code
// exchanges and revocations take 4 s or more), and Redis down (connections
// cut, new ones refused).
var faultKinds = []fault{
	{name: "redis blackhole", proxy: func(e *Env) *toxi.Proxy { return e.redisProxy }, fault: toxi.Blackhole(), len: 3 * time.Second},
	{name: "provider latency 2s", proxy: func(e *Env) *toxi.Proxy { return e.opProxy }, fault: toxi.Latency(2 * time.Second), len: 5 * time.Second},
	{name: "redis down", proxy: func(e *Env) *toxi.Proxy { return e.redisProxy }, fault: toxi.Down(), len: 3 * time.Second},
}

// plannedWindow is a window of the schedule, as offsets from the load's start.
type plannedWindow struct {
	at    time.Duration
	fault fault
}

// schedule plans the windows of a run of length d: a quiet gap of d/7
// (between 4 s and 60 s), a window, a gap, ..., cycling through faultKinds,
// while a full gap remains after the window before d ends, so that every
// window is followed by quiet time in which recovery is checked.
func schedule(d time.Duration) []plannedWindow {
	gap := min(max(d/7, 4*time.Second), time.Minute)
	var plan []plannedWindow
	at := gap
	for i := 0; ; i++ {
		f := faultKinds[i%len(faultKinds)]
		if at+f.len+gap > d {
			return plan
		}
		plan = append(plan, plannedWindow{at: at, fault: f})
		at += f.len + gap
	}
}

// windows records the windows as they happen.
type windows struct {
	mu   sync.Mutex
	list []Window
}

// overlaps reports whether [from, to] meets a window widened by SettleMargin
// (a window still open counts as lasting to now).
func (ws *windows) overlaps(from, to time.Time) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for _, w := range ws.list {
		end := w.End
		if end.IsZero() {
			end = time.Now()
		}
		if !to.Before(w.Start) && !from.After(end.Add(SettleMargin)) {
			return true
		}
	}
	return false
}

func (ws *windows) snapshot() []Window {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return append([]Window(nil), ws.list...)
}

// inject runs plan from start until it is done or ctx ends, healing any
// window still open on return.
func (e *Env) inject(ctx context.Context, start time.Time, plan []plannedWindow) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	wait := func(until time.Time) bool {
		timer.Reset(time.Until(until))
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
			return true
		}
	}
	for _, pw := range plan {
		if !wait(start.Add(pw.at)) {
			return nil
		}
		p := pw.fault.proxy(e)
		// The window opens before the fault is injected and closes after it
		// is healed, so it covers the fault entirely.
		e.windows.mu.Lock()
		e.windows.list = append(e.windows.list, Window{Name: pw.fault.name, Start: time.Now()})
		i := len(e.windows.list) - 1
		e.windows.mu.Unlock()
		if err := p.Inject(pw.fault.fault); err != nil {
			return fmt.Errorf("soak: inject %s: %w", pw.fault.name, err)
		}
		e.logf("fault window %d: %s for %s", i+1, pw.fault.name, pw.fault.len)
		ok := wait(time.Now().Add(pw.fault.len))
		if err := p.Heal(); err != nil {
			return fmt.Errorf("soak: heal %s: %w", pw.fault.name, err)
		}
		e.windows.mu.Lock()
		e.windows.list[i].End = time.Now()
		e.windows.mu.Unlock()
		if !ok {
			return nil
		}
	}
	return nil
}
