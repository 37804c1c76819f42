package tokenstore

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkHeap verifies the heap's order and that it indexes exactly the entries.
func checkHeap(t *testing.T, m *Memory) {
	t.Helper()
	require.Len(t, m.byExp, len(m.entries))
	for i, e := range m.byExp {
		require.Equal(t, i, e.index)
		require.Same(t, e, m.entries[e.key])
		if i > 0 {
			require.False(t, m.byExp.Less(i, (i-1)/2), "heap order broken at %d", i)
		}
	}
}

func TestMemorySweepsExpiredEntries(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_900_000_000, 0)
	m := NewMemory(func(o *MemoryOptions) { o.Now = func() time.Time { return now } })
	for i := range 1000 {
		require.NoError(t, m.Set(ctx, "dead"+strconv.Itoa(i), []byte("x"), now.Add(time.Second)))
	}
	checkHeap(t, m)
	now = now.Add(time.Minute)
	// Each Set drops up to sweepPerSet dead entries, so dead entries drain
	// while live ones are written, without one Set paying for all of them.
	for i := range 1000 / (sweepPerSet - 1) {
		require.NoError(t, m.Set(ctx, "live"+strconv.Itoa(i), []byte("x"), time.Time{}))
		checkHeap(t, m)
	}
	assert.Len(t, m.entries, 1000/(sweepPerSet-1))
}

func TestMemoryHeapStaysConsistent(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_900_000_000, 0)
	m := NewMemory(func(o *MemoryOptions) {
		o.Now = func() time.Time { return now }
		o.MaxEntries = 50
	})
	for i := range 5000 {
		k := strconv.Itoa(i * 7919 % 137)
		switch i % 5 {
		case 0:
			require.NoError(t, m.Delete(ctx, k))
		case 1:
			require.NoError(t, m.Set(ctx, k, nil, time.Time{}))
		case 2:
			require.NoError(t, m.Set(ctx, k, nil, now.Add(-time.Second)))
		default:
			require.NoError(t, m.Set(ctx, k, nil, now.Add(time.Duration(i%13)*time.Second)))
		}
		if i%100 == 0 {
			now = now.Add(3 * time.Second)
		}
		checkHeap(t, m)
		require.LessOrEqual(t, len(m.entries), 50)
	}
}

func TestMemoryForgetsLapsedLeases(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_900_000_000, 0)
	m := NewMemory(func(o *MemoryOptions) { o.Now = func() time.Time { return now } })
	peak := 0
	for round := range 20 {
		for i := range 1000 {
			_, err := m.Acquire(ctx, strconv.Itoa(round)+"-"+strconv.Itoa(i), time.Second)
			require.NoError(t, err)
			peak = max(peak, len(m.leases))
		}
		now = now.Add(2 * time.Second)
	}
	// Lapsed leases are forgotten once the map doubles: never more than
	// about twice the live ones (1000) plus the sweep's slack.
	assert.LessOrEqual(t, peak, 2*1000+64+1)
}

// Indexes emptied by expiry are dropped by a later sweep, and at most
// MaxEntries indexes are kept: the one whose last member expires soonest goes.
func TestMemoryBoundsIndexes(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_900_000_000, 0)
	m := NewMemory(func(o *MemoryOptions) {
		o.Now = func() time.Time { return now }
		o.MaxEntries = 3
	})
	add := func(index string, exp time.Time) {
		t.Helper()
		_, err := m.AddToIndex(ctx, index, "m", exp, 10)
		require.NoError(t, err)
	}
	add("dead", now.Add(time.Second))
	add("soon", now.Add(time.Hour))
	add("late", now.Add(2*time.Hour))
	now = now.Add(time.Minute)
	add("new1", now.Add(3*time.Hour)) // sweeps "dead"
	require.Len(t, m.indexes, 3)
	assert.NotContains(t, m.indexes, "dead")
	add("new2", now.Add(3*time.Hour)) // full of live ones: "soon" goes
	require.Len(t, m.indexes, 3)
	assert.NotContains(t, m.indexes, "soon")
	for _, name := range []string{"late", "new1", "new2"} {
		got, err := m.Index(ctx, name)
		require.NoError(t, err)
		assert.Equal(t, []string{"m"}, got, name)
	}
	// Removing the last member drops the index.
	require.NoError(t, m.RemoveFromIndex(ctx, "late", "m"))
	assert.NotContains(t, m.indexes, "late")
}
