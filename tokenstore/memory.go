package tokenstore

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"math"
	"sync"
	"time"
)

// DefaultMaxEntries is the capacity of a Memory store whose MaxEntries is zero.
const DefaultMaxEntries = 100_000

// MemoryOptions configures a Memory store.
type MemoryOptions struct {
	// MaxEntries bounds the number of entries; zero or less means
	// DefaultMaxEntries. Leases are not entries and are not counted.
	MaxEntries int

	// Now is the store's clock, for entry and lease expiry; nil means
	// time.Now. Tests set it to control expiry without waiting.
	Now func() time.Time
}

// Memory is a Store, Locker and Indexer held in process memory: the default
// store, suitable for one instance, and for tests.
//
// When a Set of a new key finds the store full, Memory evicts the entry that
// expires soonest: expired entries first, then live ones in order of expiry,
// and entries that never expire (zero expiry) last, oldest write first. Each
// Set also drops a few expired entries, so memory held by dead entries is
// returned without a full sweep. Get and Set cost O(1) and O(log n).
//
// Values are copied in and out. Leases live apart from entries, are not
// counted in MaxEntries, and are forgotten once they lapse or are released;
// fencing tokens come from one counter for the whole store, so they grow with
// every grant of any name and never repeat, even for a name forgotten and
// leased again.
//
// Indexes live apart from entries too. At most MaxEntries indexes are kept:
// when a new one finds that many, after dropping expired members and the
// indexes they leave empty, the index whose last member expires soonest goes.
//
// Memory is safe for concurrent use. Its methods return ctx.Err() when ctx is
// already done and never block on anything but the store's own lock.
type Memory struct {
	now        func() time.Time
	maxEntries int

	mu      sync.RWMutex
	entries map[string]*entry
	byExp   expiryHeap // every entry, soonest expiry at the root
	seq     uint64     // write counter, to order equal expiries by age

	leases     map[string]leaseState
	leaseSweep int    // len(leases) after the last sweep of lapsed leases
	fence      uint64 // last fencing token granted

	indexes    map[string]memIndex // memory_index.go
	indexSweep int                 // len(indexes) after the last sweep
}

var (
	_ Store   = (*Memory)(nil)
	_ Locker  = (*Memory)(nil)
	_ Indexer = (*Memory)(nil)
)

type entry struct {
	key    string
	value  []byte
	expiry int64 // Unix nanoseconds; never for no expiry
	seq    uint64
	index  int // position in byExp
}

type leaseState struct {
	token  uint64
	expiry int64 // Unix nanoseconds
}

// never is the expiry of an entry stored with a zero expiry: it sorts after
// every real time, so such entries are evicted last.
const never = math.MaxInt64

// sweepPerSet bounds the expired entries a Set drops beyond its own eviction:
// more than one, so that dead entries drain faster than Sets add them.
const sweepPerSet = 4

// NewMemory returns an empty Memory store.
func NewMemory(optFns ...func(*MemoryOptions)) *Memory {
	var o MemoryOptions
	for _, fn := range optFns {
		fn(&o)
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Memory{
		now:        o.Now,
		maxEntries: o.MaxEntries,
		entries:    make(map[string]*entry),
		leases:     make(map[string]leaseState),
		indexes:    make(map[string]memIndex),
	}
}

// Get returns a copy of the value stored under key, or ErrNotFound when the key
// is absent or its expiry has passed.
func (m *Memory) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := m.now().UnixNano()
	m.mu.RLock()
	e, ok := m.entries[key]
	if !ok || e.expiry <= now {
		m.mu.RUnlock()
		// An expired entry is left for a Set to drop: removing it here
		// would take the write lock on the read path.
		return nil, ErrNotFound
	}
	v := bytes.Clone(e.value)
	m.mu.RUnlock()
	return v, nil
}

// Set stores a copy of value under key until expiry; a zero expiry means no
// expiry. An expiry that has already passed deletes key.
func (m *Memory) Set(ctx context.Context, key string, value []byte, expiry time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Copy before locking, to keep the critical section short. The copy is
	// never nil, so Get of an empty value returns an empty, non-nil slice.
	v := append(make([]byte, 0, len(value)), value...)
	exp, now := unixNanos(expiry), m.now().UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.set(key, v, exp, now)
	return nil
}

// set stores v, which the store owns, under key; m.mu is held.
func (m *Memory) set(key string, v []byte, exp, now int64) {
	m.sweep(now)
	if exp <= now {
		m.remove(key)
		return
	}
	m.seq++
	if e, ok := m.entries[key]; ok {
		e.value, e.expiry, e.seq = v, exp, m.seq
		heap.Fix(&m.byExp, e.index)
		return
	}
	if len(m.entries) >= m.maxEntries {
		// The root is the best victim by the documented policy: expired if
		// anything is, else the soonest to expire, else the oldest write.
		victim := heap.Pop(&m.byExp).(*entry)
		delete(m.entries, victim.key)
	}
	e := &entry{key: key, value: v, expiry: exp, seq: m.seq}
	m.entries[key] = e
	heap.Push(&m.byExp, e)
}

// sweep drops up to sweepPerSet expired entries; m.mu is held.
func (m *Memory) sweep(now int64) {
	for range sweepPerSet {
		if len(m.byExp) == 0 || m.byExp[0].expiry > now {
			return
		}
		e := heap.Pop(&m.byExp).(*entry)
		delete(m.entries, e.key)
	}
}

// Delete removes key. Deleting a missing key returns nil.
func (m *Memory) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	m.remove(key)
	m.mu.Unlock()
	return nil
}

// remove deletes key if present; m.mu is held.
func (m *Memory) remove(key string) {
	if e, ok := m.entries[key]; ok {
		heap.Remove(&m.byExp, e.index)
		delete(m.entries, key)
	}
}

// Acquire grants a lease on name for ttl, or returns ErrLeaseHeld while an
// earlier lease on name is live. ttl must be positive.
func (m *Memory) Acquire(ctx context.Context, name string, ttl time.Duration) (Lease, error) {
	if err := ctx.Err(); err != nil {
		return Lease{}, err
	}
	if ttl <= 0 {
		return Lease{}, errors.New("tokenstore: lease ttl must be positive")
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.leases[name]; ok && l.expiry > now.UnixNano() {
		return Lease{}, ErrLeaseHeld
	}
	m.sweepLeases(now.UnixNano())
	m.fence++
	lease := Lease{Name: name, Token: m.fence, Expiry: now.Add(ttl)}
	m.leases[name] = leaseState{token: lease.Token, expiry: unixNanos(lease.Expiry)}
	return lease, nil
}

// sweepLeases forgets lapsed leases once the map has doubled since the last
// sweep, so a holder that never releases costs memory only until then, at an
// amortised O(1) per Acquire; m.mu is held.
func (m *Memory) sweepLeases(now int64) {
	if len(m.leases) < 2*m.leaseSweep+64 {
		return
	}
	for name, l := range m.leases {
		if l.expiry <= now {
			delete(m.leases, name)
		}
	}
	m.leaseSweep = len(m.leases)
}

// current reports whether lease is the live lease on its name; m.mu is held.
func (m *Memory) current(lease Lease, now int64) bool {
	l, ok := m.leases[lease.Name]
	return ok && l.token == lease.Token && l.expiry > now
}

// Extend renews lease for ttl from now, or returns ErrLeaseLost when it has
// lapsed or been superseded. ttl must be positive.
func (m *Memory) Extend(ctx context.Context, lease Lease, ttl time.Duration) (Lease, error) {
	if err := ctx.Err(); err != nil {
		return Lease{}, err
	}
	if ttl <= 0 {
		return Lease{}, errors.New("tokenstore: lease ttl must be positive")
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.current(lease, now.UnixNano()) {
		return Lease{}, ErrLeaseLost
	}
	lease.Expiry = now.Add(ttl)
	m.leases[lease.Name] = leaseState{token: lease.Token, expiry: unixNanos(lease.Expiry)}
	return lease, nil
}

// Release ends lease if it is still current; otherwise it does nothing and
// returns nil.
func (m *Memory) Release(ctx context.Context, lease Lease) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.leases[lease.Name]; ok && l.token == lease.Token {
		delete(m.leases, lease.Name)
	}
	return nil
}

// SetFenced is Set, done only while lease is current; otherwise it writes
// nothing and returns ErrLeaseLost.
func (m *Memory) SetFenced(ctx context.Context, lease Lease, key string, value []byte, expiry time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v := append(make([]byte, 0, len(value)), value...)
	exp := unixNanos(expiry)
	m.mu.Lock()
	defer m.mu.Unlock()
	// One clock reading for the check and the write: both happen under the
	// lock, so no newer lease can slip in between.
	now := m.now().UnixNano()
	if !m.current(lease, now) {
		return ErrLeaseLost
	}
	m.set(key, v, exp, now)
	return nil
}

// unixNanos converts an expiry to Unix nanoseconds, clamping times beyond
// UnixNano's range (years 1678 to 2262); zero means never.
func unixNanos(t time.Time) int64 {
	switch {
	case t.IsZero():
		return never
	case inUnixNanoRange(t):
		return t.UnixNano()
	case t.Before(time.Unix(0, 0)):
		return math.MinInt64
	}
	return never
}

// inUnixNanoRange reports whether t is in the range of time.Time that
// UnixNano represents, the years 1678 to 2262.
func inUnixNanoRange(t time.Time) bool {
	return !t.Before(time.Unix(0, math.MinInt64)) && !t.After(time.Unix(0, math.MaxInt64))
}

// expiryHeap orders entries by expiry, then by write order, for eviction.
type expiryHeap []*entry

func (h expiryHeap) Len() int { return len(h) }

func (h expiryHeap) Less(i, j int) bool {
	if h[i].expiry != h[j].expiry {
		return h[i].expiry < h[j].expiry
	}
	return h[i].seq < h[j].seq
}

func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *expiryHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}

func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil // let the entry be collected
	*h = old[:len(old)-1]
	return e
}
