package tokenstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/tokenstore"
	"github.com/pubauth/awsauth/tokenstore/storetest"
)

func TestMemoryConformance(t *testing.T) {
	m := tokenstore.NewMemory()
	storetest.Run(t, func(t *testing.T) tokenstore.Store { return m })
}

// clock is a settable MemoryOptions.Now.
type clock struct{ nanos atomic.Int64 }

func newClock() *clock {
	c := new(clock)
	c.nanos.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) Now() time.Time               { return time.Unix(0, c.nanos.Load()) }
func (c *clock) Advance(d time.Duration)      { c.nanos.Add(int64(d)) }
func (c *clock) In(d time.Duration) time.Time { return c.Now().Add(d) }

func newMemory(c *clock, max int) *tokenstore.Memory {
	return tokenstore.NewMemory(func(o *tokenstore.MemoryOptions) {
		o.Now = c.Now
		o.MaxEntries = max
	})
}

// present returns which of keys Get finds.
func present(t *testing.T, m *tokenstore.Memory, keys ...string) []string {
	t.Helper()
	var found []string
	for _, k := range keys {
		if _, err := m.Get(t.Context(), k); err == nil {
			found = append(found, k)
		} else {
			require.ErrorIs(t, err, tokenstore.ErrNotFound)
		}
	}
	return found
}

func TestMemoryExpiryAtInstant(t *testing.T) {
	c := newClock()
	m := newMemory(c, 0)
	require.NoError(t, m.Set(t.Context(), "k", []byte("v"), c.In(time.Minute)))
	c.Advance(time.Minute - 1)
	assert.Equal(t, []string{"k"}, present(t, m, "k"))
	c.Advance(1) // "until expiry": gone at the instant itself
	assert.Empty(t, present(t, m, "k"))
}

func TestMemoryEviction(t *testing.T) {
	ctx := context.Background()
	all := []string{"a", "b", "c", "d", "e", "f"}

	t.Run("expired first", func(t *testing.T) {
		c := newClock()
		m := newMemory(c, 3)
		require.NoError(t, m.Set(ctx, "a", nil, c.In(time.Hour)))
		require.NoError(t, m.Set(ctx, "b", nil, c.In(time.Second)))
		require.NoError(t, m.Set(ctx, "c", nil, time.Time{}))
		c.Advance(2 * time.Second) // b expires
		require.NoError(t, m.Set(ctx, "d", nil, c.In(time.Hour)))
		assert.Equal(t, []string{"a", "c", "d"}, present(t, m, all...))
	})
	t.Run("then soonest expiry", func(t *testing.T) {
		c := newClock()
		m := newMemory(c, 3)
		require.NoError(t, m.Set(ctx, "a", nil, c.In(3*time.Hour)))
		require.NoError(t, m.Set(ctx, "b", nil, c.In(time.Hour)))
		require.NoError(t, m.Set(ctx, "c", nil, time.Time{}))
		require.NoError(t, m.Set(ctx, "d", nil, c.In(2*time.Hour)))
		assert.Equal(t, []string{"a", "c", "d"}, present(t, m, all...))
		require.NoError(t, m.Set(ctx, "e", nil, c.In(4*time.Hour)))
		assert.Equal(t, []string{"a", "c", "e"}, present(t, m, all...))
	})
	t.Run("no expiry last, oldest write first", func(t *testing.T) {
		c := newClock()
		m := newMemory(c, 3)
		require.NoError(t, m.Set(ctx, "a", nil, time.Time{}))
		require.NoError(t, m.Set(ctx, "b", nil, time.Time{}))
		require.NoError(t, m.Set(ctx, "c", nil, time.Time{}))
		require.NoError(t, m.Set(ctx, "a", nil, time.Time{})) // rewrite: a is now the newest
		require.NoError(t, m.Set(ctx, "d", nil, c.In(time.Hour)))
		assert.Equal(t, []string{"a", "c", "d"}, present(t, m, all...))
		require.NoError(t, m.Set(ctx, "e", nil, time.Time{}))
		assert.Equal(t, []string{"a", "c", "e"}, present(t, m, all...))
	})
	t.Run("overwrite and delete make no eviction", func(t *testing.T) {
		c := newClock()
		m := newMemory(c, 2)
		require.NoError(t, m.Set(ctx, "a", nil, c.In(time.Hour)))
		require.NoError(t, m.Set(ctx, "b", nil, c.In(2*time.Hour)))
		require.NoError(t, m.Set(ctx, "a", []byte("new"), c.In(time.Hour)))
		require.NoError(t, m.Delete(ctx, "b"))
		require.NoError(t, m.Set(ctx, "c", nil, c.In(time.Minute)))
		assert.Equal(t, []string{"a", "c"}, present(t, m, all...))
	})
}

func TestMemoryBoundedUnderConcurrency(t *testing.T) {
	const max = 64
	c := newClock()
	m := newMemory(c, max)
	ctx := t.Context()
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 500 {
				k := strconv.Itoa(g*1000 + i%200)
				assert.NoError(t, m.Set(ctx, k, []byte(k), c.In(time.Duration(i%7)*time.Second)))
				if v, err := m.Get(ctx, k); err == nil {
					assert.Equal(t, k, string(v))
				}
				if i%50 == 0 {
					c.Advance(time.Second)
				}
			}
		})
	}
	wg.Wait()
	var keys []string
	for g := range 16 {
		for i := range 200 {
			keys = append(keys, strconv.Itoa(g*1000+i))
		}
	}
	assert.LessOrEqual(t, len(present(t, m, keys...)), max)
}

func TestMemoryLeaseClock(t *testing.T) {
	ctx := t.Context()
	c := newClock()
	m := newMemory(c, 0)

	first, err := m.Acquire(ctx, "n", 10*time.Second)
	require.NoError(t, err)
	assert.Equal(t, c.In(10*time.Second), first.Expiry)

	c.Advance(9 * time.Second)
	first, err = m.Extend(ctx, first, 10*time.Second)
	require.NoError(t, err)
	c.Advance(9 * time.Second)
	_, err = m.Acquire(ctx, "n", time.Second)
	require.ErrorIs(t, err, tokenstore.ErrLeaseHeld, "extended lease still held")

	c.Advance(time.Second) // lapses at its expiry instant
	require.ErrorIs(t, m.SetFenced(ctx, first, "k", []byte("v"), time.Time{}), tokenstore.ErrLeaseLost)
	_, err = m.Get(ctx, "k")
	require.ErrorIs(t, err, tokenstore.ErrNotFound)
	second, err := m.Acquire(ctx, "n", time.Second)
	require.NoError(t, err)
	assert.Greater(t, second.Token, first.Token)
}

func TestMemoryLeaseTTL(t *testing.T) {
	m := tokenstore.NewMemory()
	for _, ttl := range []time.Duration{0, -time.Second} {
		_, err := m.Acquire(t.Context(), "n", ttl)
		require.Error(t, err)
		assert.NotErrorIs(t, err, tokenstore.ErrLeaseHeld)
	}
	lease, err := m.Acquire(t.Context(), "n", time.Minute)
	require.NoError(t, err)
	_, err = m.Extend(t.Context(), lease, 0)
	require.Error(t, err)
}

func TestMemoryManyLapsedLeases(t *testing.T) {
	// Leases never released must not pile up: holders crash. Granting more
	// names after they lapse has to keep working, and cheaply.
	ctx := t.Context()
	c := newClock()
	m := newMemory(c, 0)
	var last uint64
	for round := range 3 {
		for i := range 10_000 {
			l, err := m.Acquire(ctx, fmt.Sprintf("r%d-%d", round, i), time.Second)
			require.NoError(t, err)
			require.Greater(t, l.Token, last)
			last = l.Token
		}
		c.Advance(2 * time.Second)
	}
}

// sessionKey has the shape authflow uses: a prefix and 32 random bytes.
func sessionKey(i int) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "session:" + base64.RawURLEncoding.EncodeToString(b) + strconv.Itoa(i%10)
}

const (
	benchEntries   = 100_000
	benchValueSize = 1024
)

// baseline is the floor Memory is measured against in the same run: a map
// under an RWMutex, copying values in and out, with no expiry or bound.
type baseline struct {
	mu sync.RWMutex
	m  map[string][]byte
}

func (s *baseline) Get(ctx context.Context, key string) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.m[key]
	if !ok {
		return nil, tokenstore.ErrNotFound
	}
	return bytes.Clone(v), nil
}

func (s *baseline) Set(ctx context.Context, key string, value []byte, _ time.Time) error {
	v := bytes.Clone(value)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = v
	return nil
}

func (s *baseline) Delete(ctx context.Context, key string) error { return nil }

// benchStores are the stores each benchmark compares.
var benchStores = []struct {
	name string
	new  func() tokenstore.Store
}{
	{"Memory", func() tokenstore.Store { return tokenstore.NewMemory() }},
	{"baseline", func() tokenstore.Store { return &baseline{m: make(map[string][]byte)} }},
}

func fill(b *testing.B, s tokenstore.Store, n int) []string {
	b.Helper()
	keys := make([]string, n)
	exp := time.Now().Add(time.Hour)
	for i := range keys {
		keys[i] = sessionKey(i)
		if err := s.Set(context.Background(), keys[i], make([]byte, benchValueSize), exp); err != nil {
			b.Fatal(err)
		}
	}
	return keys
}

// BenchmarkGet reads 1 KiB values at random from 100,000 entries.
func BenchmarkGet(b *testing.B) {
	for _, st := range benchStores {
		b.Run(st.name, func(b *testing.B) {
			s := st.new()
			keys := fill(b, s, benchEntries)
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := s.Get(ctx, keys[i%len(keys)]); err != nil {
					b.Fatal(err)
				}
				i += 7919 // a prime stride: no cache-friendly order
			}
		})
	}
}

func BenchmarkGetParallel(b *testing.B) {
	for _, st := range benchStores {
		b.Run(st.name, func(b *testing.B) {
			s := st.new()
			keys := fill(b, s, benchEntries)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer() // RunParallel, unlike b.Loop, does not exclude the fill
			var next atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(104729))
				for pb.Next() {
					if _, err := s.Get(ctx, keys[i%len(keys)]); err != nil {
						b.Error(err)
						return
					}
					i += 7919
				}
			})
		})
	}
}

// BenchmarkSet writes 1 KiB values to a store of 100,000 entries: "overwrite"
// replaces existing keys; "new" adds keys, so Memory, being full, evicts one
// entry per Set (the baseline just grows).
func BenchmarkSet(b *testing.B) {
	value := make([]byte, benchValueSize)
	ctx := context.Background()
	for _, st := range benchStores {
		b.Run("overwrite/"+st.name, func(b *testing.B) {
			s := st.new()
			keys := fill(b, s, benchEntries)
			exp := time.Now().Add(2 * time.Hour)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := s.Set(ctx, keys[i%len(keys)], value, exp.Add(time.Duration(i%1000)*time.Second)); err != nil {
					b.Fatal(err)
				}
				i += 7919
			}
		})
	}
	for _, st := range benchStores {
		b.Run("new/"+st.name, func(b *testing.B) {
			s := st.new()
			fill(b, s, benchEntries)
			keys := make([]string, 1<<16)
			for i := range keys {
				keys[i] = sessionKey(i)
			}
			exp := time.Now().Add(2 * time.Hour)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := s.Set(ctx, keys[i%len(keys)], value, exp.Add(time.Duration(i)*time.Millisecond)); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkFootprint fills a store with 100,000 entries of 1 KiB and reports
// the heap they take, and what the store adds beyond the key and value bytes.
func BenchmarkFootprint(b *testing.B) {
	var keyBytes int
	for i := range benchEntries {
		keyBytes += len(sessionKey(i))
	}
	for _, st := range benchStores {
		b.Run(st.name, func(b *testing.B) {
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				s := st.new()
				fill(b, s, benchEntries)
				runtime.GC()
				runtime.ReadMemStats(&after)
				runtime.KeepAlive(s)
				perEntry := float64(after.HeapAlloc-before.HeapAlloc) / benchEntries
				b.ReportMetric(perEntry, "heap-B/entry")
				b.ReportMetric(perEntry-benchValueSize-float64(keyBytes)/benchEntries, "overhead-B/entry")
			}
		})
	}
}
