// Package storetest is the conformance suite for tokenstore.Store
// implementations, and for their optional tokenstore.Locker and
// tokenstore.Indexer. Every backend runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) tokenstore.Store { return newTestStore(t) })
//	}
//
// The suite talks to the store only through its interfaces and the wall clock,
// so it serves network stores as well as in-process ones: expiry is tested with
// real, short expiries (about 1.5 s) and bounded polling, never with a fake
// clock, and each run takes a few seconds.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/tokenstore"
)

const (
	// shortTTL is the life of entries and leases that the suite waits out.
	shortTTL = 1500 * time.Millisecond
	// expiryBound is how long after its expiry an entry or lease may still
	// be seen before the suite calls the store wrong.
	expiryBound = 10 * time.Second
	// earlyTolerance is how much earlier than its expiry an entry or lease
	// may lapse: stores with coarse clocks (whole seconds) round.
	earlyTolerance = time.Second
	// longTTL outlives any test, for entries and leases that must not lapse.
	longTTL = time.Hour
)

// Run runs the conformance suite against stores made by newStore, and the
// Locker and Indexer cases too when those stores implement tokenstore.Locker
// or tokenstore.Indexer.
//
// Run calls newStore once or twice per subtest, which may register cleanups
// with t.Cleanup. The stores it returns must share one backend (a database, a
// Redis server; for an in-process store, return the same store each time), as
// the instances of one application do: the Indexer cases use two of them at
// once, as two instances, and are the stronger for two clients of the backend
// (two connection pools, two API clients). Some subtests run in parallel with
// others, and newStore must not reset the backend: the suite writes only
// under keys, lease names and index names of its own, which in each subtest
// begin with a random Redis Cluster hash tag ("{storetest-…}") so that a lease
// and the keys it fences land in one slot. Keys are valid UTF-8 without NUL
// bytes, at most 250 bytes long.
func Run(t *testing.T, newStore func(t *testing.T) tokenstore.Store) {
	t.Helper()
	for _, tc := range []struct {
		name     string
		parallel bool // for the cases that wait for expiry
		test     func(t *testing.T, s tokenstore.Store, ns namespace)
	}{
		{"GetMissing", false, testGetMissing},
		{"RoundTrip", false, testRoundTrip},
		{"Overwrite", false, testOverwrite},
		{"Delete", false, testDelete},
		{"DeleteMissing", false, testDeleteMissing},
		{"PastExpiry", false, testPastExpiry},
		{"ZeroExpiry", false, testZeroExpiry},
		{"Expiry", true, testExpiry},
		{"NoAliasing", false, testNoAliasing},
		{"Concurrent", false, testConcurrent},
		{"CancelledContext", false, testCancelledContext},
		{"OddKeys", false, testOddKeys},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.parallel {
				t.Parallel()
			}
			tc.test(t, newStore(t), newNamespace(t))
		})
	}

	t.Run("Locker", func(t *testing.T) {
		if _, ok := newStore(t).(tokenstore.Locker); !ok {
			t.Skip("store does not implement tokenstore.Locker")
		}
		// Parallel with Expiry: both spend most of their time waiting.
		t.Parallel()
		for _, tc := range []struct {
			name string
			test func(t *testing.T, s tokenstore.Store, l tokenstore.Locker, ns namespace)
		}{
			{"Acquire", testAcquire},
			{"FencingTokensIncrease", testFencingTokensIncrease},
			{"ReleaseReacquire", testReleaseReacquire},
			{"ReleaseStale", testReleaseStale},
			{"Extend", testExtend},
			{"SetFenced", testSetFenced},
			{"LeaseExpiry", testLeaseExpiry},
			{"CancelledContext", testLockerCancelledContext},
			{"AcquireRace", testAcquireRace},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := newStore(t)
				tc.test(t, s, s.(tokenstore.Locker), newNamespace(t))
			})
		}
	})

	t.Run("Indexer", func(t *testing.T) {
		if _, ok := newStore(t).(tokenstore.Indexer); !ok {
			t.Skip("store does not implement tokenstore.Indexer")
		}
		t.Parallel()
		runIndexer(t, newStore)
	})
}

// namespace makes the keys and lease names of one subtest.
type namespace string

func newNamespace(t *testing.T) namespace {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails since Go 1.24
	return namespace("{storetest-" + hex.EncodeToString(b) + "}/")
}

func (ns namespace) key(name string) string { return string(ns) + name }

// waitFor polls cond until it returns true, failing t if that takes more than
// timeout. cond may fail t itself.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if t.Failed() {
			t.FailNow()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func requireValue(t *testing.T, s tokenstore.Store, key string, want []byte) {
	t.Helper()
	got, err := s.Get(t.Context(), key)
	require.NoError(t, err, "Get(%q)", key)
	require.Equal(t, want, got, "Get(%q)", key)
}

func requireNotFound(t *testing.T, s tokenstore.Store, key string) {
	t.Helper()
	_, err := s.Get(t.Context(), key)
	require.ErrorIs(t, err, tokenstore.ErrNotFound, "Get(%q)", key)
}

func mustSet(t *testing.T, s tokenstore.Store, key string, value []byte, expiry time.Time) {
	t.Helper()
	require.NoError(t, s.Set(t.Context(), key, value, expiry), "Set(%q)", key)
	// Entries without expiry would outlive the test in a shared backend.
	t.Cleanup(func() { _ = s.Delete(context.Background(), key) })
}

func testGetMissing(t *testing.T, s tokenstore.Store, ns namespace) {
	v, err := s.Get(t.Context(), ns.key("missing"))
	require.ErrorIs(t, err, tokenstore.ErrNotFound)
	assert.Nil(t, v)
}

func testRoundTrip(t *testing.T, s tokenstore.Store, ns namespace) {
	binary := []byte{0, 0, 0}
	for i := range 512 {
		binary = append(binary, byte(i))
	}
	large := make([]byte, 64<<10)
	_, _ = rand.Read(large)

	for _, tc := range []struct {
		name  string
		value []byte
		want  []byte
	}{
		{"binary with zero bytes", binary, binary},
		{"invalid UTF-8", []byte("\xff\xfe\xc3("), []byte("\xff\xfe\xc3(")},
		{"empty", []byte{}, []byte{}},
		{"nil is empty", nil, []byte{}},
		{"64 KiB", large, large},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := ns.key(tc.name)
			mustSet(t, s, key, tc.value, time.Now().Add(longTTL))
			got, err := s.Get(t.Context(), key)
			require.NoError(t, err)
			// Stores may return nil or an empty slice for an empty value.
			require.Equal(t, len(tc.want), len(got))
			if len(tc.want) > 0 {
				require.Equal(t, tc.want, got)
			}
		})
	}
}

func testOverwrite(t *testing.T, s tokenstore.Store, ns namespace) {
	key := ns.key("k")
	mustSet(t, s, key, []byte("a longer first value"), time.Now().Add(longTTL))
	// A shorter second value catches stores that write over in place.
	mustSet(t, s, key, []byte("second"), time.Now().Add(longTTL))
	requireValue(t, s, key, []byte("second"))
	mustSet(t, s, key, []byte{}, time.Now().Add(longTTL))
	got, err := s.Get(t.Context(), key)
	require.NoError(t, err)
	require.Empty(t, got)
}

func testDelete(t *testing.T, s tokenstore.Store, ns namespace) {
	key, other := ns.key("k"), ns.key("other")
	mustSet(t, s, key, []byte("v"), time.Now().Add(longTTL))
	mustSet(t, s, other, []byte("o"), time.Now().Add(longTTL))
	require.NoError(t, s.Delete(t.Context(), key))
	requireNotFound(t, s, key)
	requireValue(t, s, other, []byte("o"))
	require.NoError(t, s.Delete(t.Context(), key), "second Delete")
}

func testDeleteMissing(t *testing.T, s tokenstore.Store, ns namespace) {
	require.NoError(t, s.Delete(t.Context(), ns.key("never-set")))
}

func testPastExpiry(t *testing.T, s tokenstore.Store, ns namespace) {
	for _, tc := range []struct {
		name   string
		expiry time.Time
	}{
		{"one second ago", time.Now().Add(-time.Second)},
		{"1970", time.Unix(1, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := ns.key("new " + tc.name)
			mustSet(t, s, key, []byte("v"), tc.expiry)
			requireNotFound(t, s, key)

			// An expired write replaces a live value: the key is gone.
			key = ns.key("existing " + tc.name)
			mustSet(t, s, key, []byte("live"), time.Now().Add(longTTL))
			mustSet(t, s, key, []byte("dead"), tc.expiry)
			requireNotFound(t, s, key)
		})
	}
}

func testZeroExpiry(t *testing.T, s tokenstore.Store, ns namespace) {
	key := ns.key("k")
	mustSet(t, s, key, []byte("forever"), time.Time{})
	requireValue(t, s, key, []byte("forever"))
	// Testing "forever" for real is Expiry's job: there, an entry whose
	// expiry is overwritten with zero outlives its short-lived neighbours.
}

func testExpiry(t *testing.T, s tokenstore.Store, ns namespace) {
	short := time.Now().Add(shortTTL)
	var (
		expires    = ns.key("expires")
		shortened  = ns.key("shortened") // no expiry, then a short one
		lengthened = ns.key("lengthened")
		unexpiring = ns.key("unexpiring") // a short expiry, then none
	)
	mustSet(t, s, expires, []byte("e"), short)
	mustSet(t, s, shortened, []byte("s0"), time.Time{})
	mustSet(t, s, shortened, []byte("s"), short)
	mustSet(t, s, lengthened, []byte("l0"), short)
	mustSet(t, s, lengthened, []byte("l"), time.Now().Add(longTTL))
	mustSet(t, s, unexpiring, []byte("u0"), short)
	mustSet(t, s, unexpiring, []byte("u"), time.Time{})

	requireValue(t, s, expires, []byte("e"))
	requireValue(t, s, shortened, []byte("s"))

	for _, key := range []string{expires, shortened} {
		waitFor(t, shortTTL+expiryBound, "entry "+key+" to expire", func() bool {
			_, err := s.Get(t.Context(), key)
			if errors.Is(err, tokenstore.ErrNotFound) {
				assert.False(t, time.Now().Before(short.Add(-earlyTolerance)),
					"entry %q expired %v early", key, time.Until(short))
				return true
			}
			require.NoError(t, err)
			return false
		})
	}
	requireValue(t, s, lengthened, []byte("l"))
	requireValue(t, s, unexpiring, []byte("u"))
}

func testNoAliasing(t *testing.T, s tokenstore.Store, ns namespace) {
	key := ns.key("k")
	in := []byte("original")
	mustSet(t, s, key, in, time.Now().Add(longTTL))
	in[0] = 'X'
	requireValue(t, s, key, []byte("original"))

	out, err := s.Get(t.Context(), key)
	require.NoError(t, err)
	out[0] = 'Y'
	grown := append(out[:1], "verwritten"...) // writes into spare capacity, if any
	require.Equal(t, "Yverwritten", string(grown))
	requireValue(t, s, key, []byte("original"))
}

// testConcurrent runs Set, Get and Delete from many goroutines on a few shared
// keys. Values carry their key and a self-check, so a torn or misdirected value
// is caught; each goroutine also reads its own writes on a private key.
func testConcurrent(t *testing.T, s tokenstore.Store, ns namespace) {
	const (
		goroutines = 32
		sharedKeys = 8
		iterations = 100
	)
	ctx := t.Context()
	shared := make([]string, sharedKeys)
	for i := range shared {
		shared[i] = ns.key("shared-" + strconv.Itoa(i))
		t.Cleanup(func() { _ = s.Delete(context.Background(), shared[i]) })
	}
	value := func(key string, g, i int) []byte {
		n := (g*7 + i) % 300
		return append(fmt.Appendf(nil, "%s|%d|%d|%d|", key, g, i, n), bytes.Repeat([]byte{byte('a' + g%26)}, n)...)
	}
	check := func(key string, v []byte) {
		parts := strings.SplitN(string(v), "|", 5)
		if !assert.Len(t, parts, 5, "malformed value under %q", key) {
			return
		}
		assert.Equal(t, key, parts[0], "value under %q belongs to another key", key)
		g, _ := strconv.Atoi(parts[1])
		n, _ := strconv.Atoi(parts[3])
		assert.Equal(t, strings.Repeat(string(rune('a'+g%26)), n), parts[4], "torn value under %q", key)
	}

	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			private := ns.key("private-" + strconv.Itoa(g))
			defer func() { _ = s.Delete(context.Background(), private) }()
			for i := range iterations {
				key := shared[(g+i)%sharedKeys]
				switch (g + i) % 4 {
				case 0, 1:
					assert.NoError(t, s.Set(ctx, key, value(key, g, i), time.Now().Add(longTTL)))
				case 2:
					v, err := s.Get(ctx, key)
					if err == nil {
						check(key, v)
					} else {
						assert.ErrorIs(t, err, tokenstore.ErrNotFound)
					}
				case 3:
					assert.NoError(t, s.Delete(ctx, key))
				}
				want := value(private, g, i)
				if assert.NoError(t, s.Set(ctx, private, want, time.Now().Add(longTTL))) {
					got, err := s.Get(ctx, private)
					if assert.NoError(t, err) {
						assert.Equal(t, want, got, "read of own write")
					}
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for i, key := range shared {
		want := value(key, goroutines, i)
		require.NoError(t, s.Set(ctx, key, want, time.Now().Add(longTTL)))
		requireValue(t, s, key, want)
	}
}

func testCancelledContext(t *testing.T, s tokenstore.Store, ns namespace) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	key := ns.key("not-written")
	t.Cleanup(func() { _ = s.Delete(context.Background(), key) })
	require.ErrorIs(t, s.Set(cancelled, key, []byte("v"), time.Now().Add(longTTL)), context.Canceled)
	requireNotFound(t, s, key)

	key = ns.key("not-deleted")
	mustSet(t, s, key, []byte("v"), time.Now().Add(longTTL))
	require.ErrorIs(t, s.Delete(cancelled, key), context.Canceled)
	requireValue(t, s, key, []byte("v"))

	_, err := s.Get(cancelled, key)
	require.ErrorIs(t, err, context.Canceled)

	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err = s.Get(expired, key)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func testOddKeys(t *testing.T, s tokenstore.Store, ns namespace) {
	// Pairs here must stay distinct: stores that escape, normalise, fold
	// case or match patterns tend to merge some of them.
	names := []string{
		"a:b", "a/b", "a%2Fb", "a\\b", "a", "a:",
		"{tag}", "{", "}", "x{y}z",
		"Case", "case",
		"space in key", "trailing ",
		"like%", "like_", "likeX", "glob*", "glob?", "glob[x]",
		"quote'\"`", "semicolon;--",
		"unicode clé ключ 鍵 🔑",
		"\u00e9",  // é, precomposed
		"e\u0301", // é, decomposed
		"tab\tnewline\n",
	}
	keys := make([]string, 0, len(names)+2)
	for _, n := range names {
		keys = append(keys, ns.key(n))
	}
	// 250 bytes long, in ASCII and in two-byte runes.
	keys = append(keys, ns.key(strings.Repeat("k", 250-len(ns))))
	long := ns.key(strings.Repeat("é", (250-len(ns))/2))
	keys = append(keys, long+strings.Repeat("k", 250-len(long)))

	for i, key := range keys {
		require.NotContains(t, key, "\x00")
		require.LessOrEqual(t, len(key), 250)
		mustSet(t, s, key, []byte(strconv.Itoa(i)), time.Now().Add(longTTL))
	}
	for i, key := range keys {
		requireValue(t, s, key, []byte(strconv.Itoa(i)))
	}
	for _, key := range keys[:len(keys)/2] {
		require.NoError(t, s.Delete(t.Context(), key))
	}
	for i, key := range keys {
		if i < len(keys)/2 {
			requireNotFound(t, s, key)
		} else {
			requireValue(t, s, key, []byte(strconv.Itoa(i)))
		}
	}
}

// mustAcquire acquires a lease and releases it when the test ends.
func mustAcquire(t *testing.T, l tokenstore.Locker, name string, ttl time.Duration) tokenstore.Lease {
	t.Helper()
	lease, err := l.Acquire(t.Context(), name, ttl)
	require.NoError(t, err, "Acquire(%q)", name)
	t.Cleanup(func() { _ = l.Release(context.Background(), lease) })
	return lease
}

func testAcquire(t *testing.T, _ tokenstore.Store, l tokenstore.Locker, ns namespace) {
	name := ns.key("lease")
	before := time.Now()
	lease := mustAcquire(t, l, name, longTTL)
	assert.Equal(t, name, lease.Name)
	assert.NotZero(t, lease.Token)
	assert.WithinRange(t, lease.Expiry, before.Add(longTTL-time.Minute), time.Now().Add(longTTL+time.Minute),
		"Expiry is about now + ttl")

	_, err := l.Acquire(t.Context(), name, longTTL)
	require.ErrorIs(t, err, tokenstore.ErrLeaseHeld)

	// Names are independent. (Tokens need only grow per name, so the two
	// leases may carry equal tokens.)
	mustAcquire(t, l, ns.key("other"), longTTL)
}

func testFencingTokensIncrease(t *testing.T, _ tokenstore.Store, l tokenstore.Locker, ns namespace) {
	name := ns.key("lease")
	var prev uint64
	for i := range 5 {
		lease, err := l.Acquire(t.Context(), name, longTTL)
		require.NoError(t, err, "grant %d", i)
		require.Greater(t, lease.Token, prev, "grant %d", i)
		prev = lease.Token
		require.NoError(t, l.Release(t.Context(), lease))
	}
}

func testReleaseReacquire(t *testing.T, _ tokenstore.Store, l tokenstore.Locker, ns namespace) {
	name := ns.key("lease")
	first, err := l.Acquire(t.Context(), name, longTTL)
	require.NoError(t, err)
	require.NoError(t, l.Release(t.Context(), first))
	second := mustAcquire(t, l, name, longTTL)
	assert.Greater(t, second.Token, first.Token)
	require.NoError(t, l.Release(t.Context(), first), "second release of a released lease")
}

func testReleaseStale(t *testing.T, _ tokenstore.Store, l tokenstore.Locker, ns namespace) {
	name := ns.key("lease")
	stale, err := l.Acquire(t.Context(), name, longTTL)
	require.NoError(t, err)
	require.NoError(t, l.Release(t.Context(), stale))
	holder := mustAcquire(t, l, name, longTTL)

	require.NoError(t, l.Release(t.Context(), stale))
	forged := holder
	forged.Token++
	require.NoError(t, l.Release(t.Context(), forged))

	// The holder keeps its lease.
	_, err = l.Acquire(t.Context(), name, longTTL)
	require.ErrorIs(t, err, tokenstore.ErrLeaseHeld)
	_, err = l.Extend(t.Context(), holder, longTTL)
	require.NoError(t, err)
}

func testExtend(t *testing.T, _ tokenstore.Store, l tokenstore.Locker, ns namespace) {
	name := ns.key("lease")
	lease, err := l.Acquire(t.Context(), name, time.Minute)
	require.NoError(t, err)
	extended, err := l.Extend(t.Context(), lease, longTTL)
	require.NoError(t, err)
	assert.Equal(t, lease.Name, extended.Name)
	assert.Equal(t, lease.Token, extended.Token, "Extend keeps the fencing token")
	assert.True(t, extended.Expiry.After(lease.Expiry), "Extend moves Expiry later")

	// Superseded: released, then granted to another holder.
	require.NoError(t, l.Release(t.Context(), extended))
	holder := mustAcquire(t, l, name, longTTL)
	_, err = l.Extend(t.Context(), lease, longTTL)
	require.ErrorIs(t, err, tokenstore.ErrLeaseLost)
	_, err = l.Extend(t.Context(), holder, longTTL)
	require.NoError(t, err)

	// Never granted.
	_, err = l.Extend(t.Context(), tokenstore.Lease{Name: ns.key("never"), Token: holder.Token}, longTTL)
	require.ErrorIs(t, err, tokenstore.ErrLeaseLost)
}

func testSetFenced(t *testing.T, s tokenstore.Store, l tokenstore.Locker, ns namespace) {
	name, key := ns.key("lease"), ns.key("session")
	t.Cleanup(func() { _ = s.Delete(context.Background(), key) })
	old, err := l.Acquire(t.Context(), name, longTTL)
	require.NoError(t, err)
	require.NoError(t, l.SetFenced(t.Context(), old, key, []byte("v1"), time.Now().Add(longTTL)))
	requireValue(t, s, key, []byte("v1"))

	require.NoError(t, l.Release(t.Context(), old))
	current := mustAcquire(t, l, name, longTTL)
	err = l.SetFenced(t.Context(), old, key, []byte("stale"), time.Now().Add(longTTL))
	require.ErrorIs(t, err, tokenstore.ErrLeaseLost)
	requireValue(t, s, key, []byte("v1"))

	require.NoError(t, l.SetFenced(t.Context(), current, key, []byte("v2"), time.Now().Add(longTTL)))
	requireValue(t, s, key, []byte("v2"))

	// A lease on a name never granted, and one on the right name with another
	// holder's token, write nothing.
	other := ns.key("other")
	t.Cleanup(func() { _ = s.Delete(context.Background(), other) })
	err = l.SetFenced(t.Context(), tokenstore.Lease{Name: ns.key("never"), Token: current.Token}, other, []byte("x"), time.Time{})
	require.ErrorIs(t, err, tokenstore.ErrLeaseLost)
	err = l.SetFenced(t.Context(), tokenstore.Lease{Name: name, Token: current.Token + 1}, other, []byte("x"), time.Time{})
	require.ErrorIs(t, err, tokenstore.ErrLeaseLost)
	requireNotFound(t, s, other)
}

// testLeaseExpiry waits out short leases: a lapsed lease can be granted again
// with a higher token, its holder can no longer write, and an extended lease
// outlives its original ttl.
func testLeaseExpiry(t *testing.T, s tokenstore.Store, l tokenstore.Locker, ns namespace) {
	lapsing, extended, regranted := ns.key("lapsing"), ns.key("extended"), ns.key("regranted")
	key := ns.key("session")
	t.Cleanup(func() { _ = s.Delete(context.Background(), key) })

	start := time.Now()
	lapsed := mustAcquire(t, l, lapsing, shortTTL)
	ext := mustAcquire(t, l, extended, shortTTL)
	first := mustAcquire(t, l, regranted, shortTTL)
	_, err := l.Extend(t.Context(), ext, longTTL)
	require.NoError(t, err)

	// Write under the lapsing lease until the store refuses; the refused
	// write must leave no trace.
	var last []byte
	for i := 0; ; i++ {
		v := []byte("write " + strconv.Itoa(i))
		err := l.SetFenced(t.Context(), lapsed, key, v, time.Now().Add(longTTL))
		if err != nil {
			require.ErrorIs(t, err, tokenstore.ErrLeaseLost)
			break
		}
		last = v
		require.Less(t, time.Since(start), shortTTL+expiryBound, "lease not lapsed in time")
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
	assert.False(t, time.Now().Before(start.Add(shortTTL-earlyTolerance)), "lease lapsed early")
	if last == nil {
		requireNotFound(t, s, key)
	} else {
		requireValue(t, s, key, last)
	}
	_, err = l.Extend(t.Context(), lapsed, longTTL)
	require.ErrorIs(t, err, tokenstore.ErrLeaseLost, "Extend of a lapsed lease")
	require.NoError(t, l.Release(t.Context(), lapsed), "Release of a lapsed lease")

	// Poll until the other short lease can be granted again.
	var second tokenstore.Lease
	waitFor(t, shortTTL+expiryBound, "lapsed lease to be granted again", func() bool {
		lease, err := l.Acquire(t.Context(), regranted, longTTL)
		if errors.Is(err, tokenstore.ErrLeaseHeld) {
			return false
		}
		require.NoError(t, err)
		second = lease
		return true
	})
	t.Cleanup(func() { _ = l.Release(context.Background(), second) })
	assert.Greater(t, second.Token, first.Token)

	// A lapsed, then superseded, lease still writes nothing.
	successor := mustAcquire(t, l, lapsing, longTTL)
	assert.Greater(t, successor.Token, lapsed.Token)
	err = l.SetFenced(t.Context(), lapsed, key, []byte("stale"), time.Now().Add(longTTL))
	require.ErrorIs(t, err, tokenstore.ErrLeaseLost)
	if last == nil {
		requireNotFound(t, s, key)
	} else {
		requireValue(t, s, key, last)
	}

	// The extended lease outlived its first ttl.
	_, err = l.Acquire(t.Context(), extended, longTTL)
	require.ErrorIs(t, err, tokenstore.ErrLeaseHeld, "extended lease lapsed at its original expiry")
}

func testLockerCancelledContext(t *testing.T, s tokenstore.Store, l tokenstore.Locker, ns namespace) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	name, key := ns.key("lease"), ns.key("session")
	t.Cleanup(func() { _ = s.Delete(context.Background(), key) })

	_, err := l.Acquire(cancelled, name, longTTL)
	require.ErrorIs(t, err, context.Canceled)
	lease := mustAcquire(t, l, name, longTTL) // nothing was granted above

	_, err = l.Extend(cancelled, lease, longTTL)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, l.SetFenced(cancelled, lease, key, []byte("v"), time.Now().Add(longTTL)), context.Canceled)
	requireNotFound(t, s, key)
	require.ErrorIs(t, l.Release(cancelled, lease), context.Canceled)
	_, err = l.Acquire(t.Context(), name, longTTL)
	require.ErrorIs(t, err, tokenstore.ErrLeaseHeld, "lease released by a cancelled call")
}

func testAcquireRace(t *testing.T, _ tokenstore.Store, l tokenstore.Locker, ns namespace) {
	const contenders = 16
	name := ns.key("lease")
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		mu      sync.Mutex
		winners []tokenstore.Lease
		held    int
	)
	for range contenders {
		wg.Go(func() {
			<-start
			lease, err := l.Acquire(t.Context(), name, longTTL)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				winners = append(winners, lease)
			case errors.Is(err, tokenstore.ErrLeaseHeld):
				held++
			default:
				assert.NoError(t, err)
			}
		})
	}
	close(start)
	wg.Wait()
	for _, lease := range winners {
		t.Cleanup(func() { _ = l.Release(context.Background(), lease) })
	}
	require.Len(t, winners, 1, "exactly one contender wins")
	require.Equal(t, contenders-1, held)
}
