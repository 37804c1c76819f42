package storetest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/tokenstore"
)

// runIndexer runs the tokenstore.Indexer cases on stores made by newStore.
func runIndexer(t *testing.T, newStore func(t *testing.T) tokenstore.Store) {
	for _, tc := range []struct {
		name     string
		parallel bool // for the cases that wait for expiry
		test     func(t *testing.T, s tokenstore.Store, x tokenstore.Indexer, ns namespace)
	}{
		{"Missing", false, testIndexMissing},
		{"AddList", false, testIndexAddList},
		{"Remove", false, testIndexRemove},
		{"Bound", false, testIndexBound},
		{"PastExpiry", false, testIndexPastExpiry},
		{"ZeroExpiry", false, testIndexZeroExpiry},
		{"Expiry", true, testIndexExpiry},
		{"Namespaces", false, testIndexNamespaces},
		{"BadArguments", false, testIndexBadArguments},
		{"CancelledContext", false, testIndexCancelledContext},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.parallel {
				t.Parallel()
			}
			s := newStore(t)
			tc.test(t, s, s.(tokenstore.Indexer), newNamespace(t))
		})
	}
	t.Run("TwoInstances", func(t *testing.T) {
		a, b := newStore(t).(tokenstore.Indexer), newStore(t).(tokenstore.Indexer)
		ns := newNamespace(t)
		t.Run("SameMoment", func(t *testing.T) { testIndexSameMoment(t, a, b, ns) })
		t.Run("ConcurrentBound", func(t *testing.T) { testIndexConcurrentBound(t, a, b, ns) })
		t.Run("ConcurrentAddRemove", func(t *testing.T) { testIndexConcurrentAddRemove(t, a, b, ns) })
	})
}

// mustAdd adds member to index, requires the members it evicts to be want,
// in any order, and removes member when the test ends.
func mustAdd(t *testing.T, x tokenstore.Indexer, index, member string, expiry time.Time, limit int, want ...string) {
	t.Helper()
	evicted, err := x.AddToIndex(t.Context(), index, member, expiry, limit)
	require.NoError(t, err, "AddToIndex(%q, %q)", index, member)
	require.ElementsMatch(t, want, evicted, "AddToIndex(%q, %q) evicted", index, member)
	t.Cleanup(func() { _ = x.RemoveFromIndex(context.Background(), index, member) })
}

func requireIndex(t *testing.T, x tokenstore.Indexer, index string, want ...string) {
	t.Helper()
	got, err := x.Index(t.Context(), index)
	require.NoError(t, err, "Index(%q)", index)
	if len(want) == 0 {
		require.Empty(t, got, "Index(%q)", index)
		return
	}
	require.Equal(t, want, got, "Index(%q)", index)
}

func testIndexMissing(t *testing.T, _ tokenstore.Store, x tokenstore.Indexer, ns namespace) {
	got, err := x.Index(t.Context(), ns.key("never-added"))
	require.NoError(t, err)
	require.Empty(t, got)
	require.NoError(t, x.RemoveFromIndex(t.Context(), ns.key("never-added"), "m"))
	mustAdd(t, x, ns.key("index"), "a", time.Now().Add(longTTL), 10)
	require.NoError(t, x.RemoveFromIndex(t.Context(), ns.key("index"), "not-a-member"))
	requireIndex(t, x, ns.key("index"), "a")
}

func testIndexAddList(t *testing.T, _ tokenstore.Store, x tokenstore.Indexer, ns namespace) {
	index := ns.key("index")
	base := time.Now().Add(longTTL)
	mustAdd(t, x, index, "c", base.Add(1*time.Minute), 10)
	mustAdd(t, x, index, "a", base.Add(3*time.Minute), 10)
	mustAdd(t, x, index, "b", base.Add(2*time.Minute), 10)
	requireIndex(t, x, index, "c", "b", "a")

	// A second add sets the expiry: one member, in its new place.
	mustAdd(t, x, index, "c", base.Add(4*time.Minute), 10)
	requireIndex(t, x, index, "b", "a", "c")

	// Equal expiries: the smaller member first, byte by byte.
	mustAdd(t, x, index, "y", base.Add(5*time.Minute), 10)
	mustAdd(t, x, index, "X", base.Add(5*time.Minute), 10)
	mustAdd(t, x, index, "x", base.Add(5*time.Minute), 10)
	requireIndex(t, x, index, "b", "a", "c", "X", "x", "y")
}

func testIndexRemove(t *testing.T, _ tokenstore.Store, x tokenstore.Indexer, ns namespace) {
	index := ns.key("index")
	exp := time.Now().Add(longTTL)
	for _, m := range []string{"a", "b", "c"} {
		mustAdd(t, x, index, m, exp, 10)
	}
	require.NoError(t, x.RemoveFromIndex(t.Context(), index, "b"))
	requireIndex(t, x, index, "a", "c")
	require.NoError(t, x.RemoveFromIndex(t.Context(), index, "b"), "second remove")
	require.NoError(t, x.RemoveFromIndex(t.Context(), index, "a"))
	require.NoError(t, x.RemoveFromIndex(t.Context(), index, "c"))
	requireIndex(t, x, index)
	// An emptied index takes members again.
	mustAdd(t, x, index, "d", exp, 10)
	requireIndex(t, x, index, "d")
}

func testIndexBound(t *testing.T, _ tokenstore.Store, x tokenstore.Indexer, ns namespace) {
	index := ns.key("index")
	at := func(minutes int) time.Time { return time.Now().Add(longTTL + time.Duration(minutes)*time.Minute) }
	mustAdd(t, x, index, "m1", at(1), 3)
	mustAdd(t, x, index, "m2", at(2), 3)
	mustAdd(t, x, index, "m3", at(3), 3)
	mustAdd(t, x, index, "m4", at(4), 3, "m1")
	requireIndex(t, x, index, "m2", "m3", "m4")

	// Setting the expiry of a member already there makes no room.
	mustAdd(t, x, index, "m3", at(10), 3)
	requireIndex(t, x, index, "m2", "m4", "m3")

	// The member added is kept even when it expires soonest of all.
	mustAdd(t, x, index, "early", at(0), 3, "m2")
	requireIndex(t, x, index, "early", "m4", "m3")

	// A smaller limit evicts down to it.
	mustAdd(t, x, index, "m5", at(5), 1, "early", "m4", "m3")
	requireIndex(t, x, index, "m5")

	// Another index is bounded on its own.
	other := ns.key("other")
	mustAdd(t, x, other, "o1", at(1), 1)
	requireIndex(t, x, index, "m5")
	requireIndex(t, x, other, "o1")

	// The largest limit holds that many.
	big := ns.key("big")
	for i := range tokenstore.MaxIndexLimit {
		_, err := x.AddToIndex(t.Context(), big, fmt.Sprintf("m%04d", i), at(i), tokenstore.MaxIndexLimit)
		require.NoError(t, err)
	}
	got, err := x.Index(t.Context(), big)
	require.NoError(t, err)
	require.Len(t, got, tokenstore.MaxIndexLimit)
	mustAdd(t, x, big, "m1000", at(1000), tokenstore.MaxIndexLimit, "m0000")
}

func testIndexPastExpiry(t *testing.T, _ tokenstore.Store, x tokenstore.Indexer, ns namespace) {
	index := ns.key("index")
	live := time.Now().Add(longTTL)
	for _, past := range []time.Time{time.Now().Add(-time.Second), time.Unix(1, 0)} {
		mustAdd(t, x, index, "a", live, 2)
		mustAdd(t, x, index, "b", live, 2)
		// A past expiry removes the member, and evicts nothing even
		// from a full index.
		mustAdd(t, x, index, "a", past, 2)
		requireIndex(t, x, index, "b")
		mustAdd(t, x, index, "a", live, 2)
		mustAdd(t, x, index, "new", past, 2)
		requireIndex(t, x, index, "a", "b")
		mustAdd(t, x, ns.key("missing"), "m", past, 2)
		requireIndex(t, x, ns.key("missing"))
		require.NoError(t, x.RemoveFromIndex(t.Context(), index, "a"))
		require.NoError(t, x.RemoveFromIndex(t.Context(), index, "b"))
	}
}

func testIndexZeroExpiry(t *testing.T, _ tokenstore.Store, x tokenstore.Indexer, ns namespace) {
	index := ns.key("index")
	mustAdd(t, x, index, "forever", time.Time{}, 3)
	mustAdd(t, x, index, "later", time.Now().Add(longTTL), 3)
	mustAdd(t, x, index, "also-forever", time.Time{}, 3)
	requireIndex(t, x, index, "later", "also-forever", "forever")
	// Never expiring members are evicted last.
	mustAdd(t, x, index, "fourth", time.Now().Add(longTTL), 3, "later")
}

// testIndexExpiry waits out short-lived members: they leave the listing (not
// early), and they neither count against the limit nor come back as evicted.
func testIndexExpiry(t *testing.T, _ tokenstore.Store, x tokenstore.Indexer, ns namespace) {
	index := ns.key("index")
	short := time.Now().Add(shortTTL)
	long := time.Now().Add(longTTL)
	mustAdd(t, x, index, "s1", short, 3)
	mustAdd(t, x, index, "s2", short, 3)
	mustAdd(t, x, index, "long", long, 3)
	requireIndex(t, x, index, "s1", "s2", "long")

	waitFor(t, shortTTL+expiryBound, "short-lived members to leave the index", func() bool {
		got, err := x.Index(t.Context(), index)
		require.NoError(t, err)
		if slices.Equal(got, []string{"long"}) {
			assert.False(t, time.Now().Before(short.Add(-earlyTolerance)),
				"members expired %v early", time.Until(short))
			return true
		}
		require.Equal(t, []string{"s1", "s2", "long"}, got, "members leave by expiry only")
		return false
	})
	mustAdd(t, x, index, "n1", long.Add(time.Minute), 3)
	mustAdd(t, x, index, "n2", long.Add(2*time.Minute), 3)
	requireIndex(t, x, index, "long", "n1", "n2")
	// An expired member, added again, is a new member.
	mustAdd(t, x, index, "s1", long.Add(3*time.Minute), 3, "long")
	requireIndex(t, x, index, "n1", "n2", "s1")
}

// testIndexNamespaces: indexes are apart from entries and from each other,
// and odd names and members stay distinct.
func testIndexNamespaces(t *testing.T, s tokenstore.Store, x tokenstore.Indexer, ns namespace) {
	exp := time.Now().Add(longTTL)
	name := ns.key("shared-name")
	mustSet(t, s, name, []byte("entry"), exp)
	mustAdd(t, x, name, "member", exp, 10)
	requireValue(t, s, name, []byte("entry"))
	require.NoError(t, s.Delete(t.Context(), name))
	requireIndex(t, x, name, "member")
	mustSet(t, s, name, []byte("again"), exp)
	require.NoError(t, x.RemoveFromIndex(t.Context(), name, "member"))
	requireValue(t, s, name, []byte("again"))

	odd := []string{
		"a:b", "a/b", "a%2Fb", "{tag}", "{", "}", "x{y}z", "Case", "case",
		"space in name", "like%", "glob*", "quote'\"`", "semicolon;--",
		"unicode clé 鍵 🔑", "\u00e9", "e\u0301", "tab\tnewline\n",
	}
	for i, n := range odd {
		mustAdd(t, x, ns.key(n), n, exp, 10)
		mustAdd(t, x, ns.key(n), strconv.Itoa(i), exp.Add(time.Minute), 10)
	}
	long := strings.Repeat("é", tokenstore.MaxIndexMemberLen/2)
	mustAdd(t, x, ns.key("long"), long, exp, 10)
	for i, n := range odd {
		requireIndex(t, x, ns.key(n), n, strconv.Itoa(i))
	}
	requireIndex(t, x, ns.key("long"), long)
}

func testIndexBadArguments(t *testing.T, _ tokenstore.Store, x tokenstore.Indexer, ns namespace) {
	index := ns.key("index")
	exp := time.Now().Add(longTTL)
	for _, tc := range []struct {
		name   string
		member string
		limit  int
	}{
		{"zero limit", "m", 0},
		{"negative limit", "m", -1},
		{"limit above MaxIndexLimit", "m", tokenstore.MaxIndexLimit + 1},
		{"empty member", "", 10},
		{"member too long", strings.Repeat("m", tokenstore.MaxIndexMemberLen+1), 10},
		{"member not UTF-8", "\xff\xfe", 10},
		{"member with NUL", "a\x00b", 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Cleanup(func() { _ = x.RemoveFromIndex(context.Background(), index, tc.member) })
			evicted, err := x.AddToIndex(t.Context(), index, tc.member, exp, tc.limit)
			require.Error(t, err)
			require.Empty(t, evicted)
			requireIndex(t, x, index)
		})
	}
}

func testIndexCancelledContext(t *testing.T, _ tokenstore.Store, x tokenstore.Indexer, ns namespace) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	index := ns.key("index")
	t.Cleanup(func() { _ = x.RemoveFromIndex(context.Background(), index, "not-added") })
	_, err := x.AddToIndex(cancelled, index, "not-added", time.Now().Add(longTTL), 10)
	require.ErrorIs(t, err, context.Canceled)
	requireIndex(t, x, index)

	mustAdd(t, x, index, "kept", time.Now().Add(longTTL), 10)
	require.ErrorIs(t, x.RemoveFromIndex(cancelled, index, "kept"), context.Canceled)
	requireIndex(t, x, index, "kept")
	_, err = x.Index(cancelled, index)
	require.ErrorIs(t, err, context.Canceled)
}

// testIndexSameMoment: two logins of one user at the same moment on two
// instances are both indexed, again and again.
func testIndexSameMoment(t *testing.T, a, b tokenstore.Indexer, ns namespace) {
	exp := time.Now().Add(longTTL)
	for round := range 20 {
		index := ns.key("same-moment-" + strconv.Itoa(round))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, x := range []tokenstore.Indexer{a, b} {
			member := "instance-" + strconv.Itoa(i)
			t.Cleanup(func() { _ = x.RemoveFromIndex(context.Background(), index, member) })
			wg.Go(func() {
				<-start
				evicted, err := x.AddToIndex(t.Context(), index, member, exp, 10)
				assert.NoError(t, err)
				assert.Empty(t, evicted)
			})
		}
		close(start)
		wg.Wait()
		for _, x := range []tokenstore.Indexer{a, b} {
			got, err := x.Index(t.Context(), index)
			require.NoError(t, err)
			require.ElementsMatch(t, []string{"instance-0", "instance-1"}, got,
				"round %d: a login lost (do newStore's stores share one backend?)", round)
		}
	}
}

// testIndexConcurrentBound: many adds at once on two instances to one bounded
// index: it never holds more than the limit, ends exactly full, and every
// member added is either in it or was reported evicted by exactly one call.
func testIndexConcurrentBound(t *testing.T, a, b tokenstore.Indexer, ns namespace) {
	const (
		perInstance = 8
		perWorker   = 3
		limit       = 10
	)
	index := ns.key("bound")
	base := time.Now().Add(longTTL)
	var (
		mu      sync.Mutex
		evicted []string
		added   []string
		wg      sync.WaitGroup
		start   = make(chan struct{})
	)
	for i, x := range []tokenstore.Indexer{a, b} {
		for w := range perInstance {
			wg.Go(func() {
				<-start
				for k := range perWorker {
					member := fmt.Sprintf("i%d-w%d-%d", i, w, k)
					mu.Lock()
					added = append(added, member)
					mu.Unlock()
					t.Cleanup(func() { _ = x.RemoveFromIndex(context.Background(), index, member) })
					n := (i*perInstance+w)*perWorker + k
					ev, err := x.AddToIndex(t.Context(), index, member, base.Add(time.Duration(n)*time.Second), limit)
					if !assert.NoError(t, err) {
						return
					}
					mu.Lock()
					evicted = append(evicted, ev...)
					mu.Unlock()
				}
			})
		}
	}
	// Meanwhile, the index never holds more than limit members.
	done := make(chan struct{})
	observed := make(chan int)
	go func() {
		most := 0
		defer func() { observed <- most }()
		<-start
		for {
			select {
			case <-done:
				return
			default:
			}
			got, err := b.Index(context.Background(), index)
			if err == nil {
				most = max(most, len(got))
			}
		}
	}()
	close(start)
	wg.Wait()
	close(done)
	assert.LessOrEqual(t, <-observed, limit, "the index held more than limit members")
	if t.Failed() {
		return
	}
	got, err := a.Index(t.Context(), index)
	require.NoError(t, err)
	require.Len(t, got, limit, "bound kept under concurrent adds")
	require.ElementsMatch(t, added, append(slices.Clone(got), evicted...),
		"each member is listed or was evicted, exactly once")
}

// testIndexConcurrentAddRemove: removes on one instance and adds on the
// other, at once, to one index: the removed are gone, the added are there.
func testIndexConcurrentAddRemove(t *testing.T, a, b tokenstore.Indexer, ns namespace) {
	const n = 16
	index := ns.key("add-remove")
	exp := time.Now().Add(longTTL)
	var kept []string
	for i := range n {
		mustAdd(t, a, index, "old-"+strconv.Itoa(i), exp, tokenstore.MaxIndexLimit)
		if i%2 == 1 {
			kept = append(kept, "old-"+strconv.Itoa(i))
		}
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		if i%2 == 0 {
			wg.Go(func() {
				<-start
				assert.NoError(t, a.RemoveFromIndex(t.Context(), index, "old-"+strconv.Itoa(i)))
			})
		}
		member := "new-" + strconv.Itoa(i)
		kept = append(kept, member)
		t.Cleanup(func() { _ = b.RemoveFromIndex(context.Background(), index, member) })
		wg.Go(func() {
			<-start
			_, err := b.AddToIndex(t.Context(), index, member, exp, tokenstore.MaxIndexLimit)
			assert.NoError(t, err)
		})
	}
	close(start)
	wg.Wait()
	got, err := b.Index(t.Context(), index)
	require.NoError(t, err)
	require.ElementsMatch(t, kept, got)
}
