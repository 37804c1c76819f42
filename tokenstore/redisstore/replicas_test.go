package redisstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/internal/testenv"
	"github.com/pubauth/awsauth/tokenstore"
	"github.com/pubauth/awsauth/tokenstore/redisstore"
	"github.com/pubauth/awsauth/tokenstore/storetest"
)

func startReplicated(t testing.TB) *testenv.RedisSentinel {
	t.Helper()
	s, err := testenv.StartRedisReplicated(context.Background(), 1)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

func waitStore(t testing.TB, c redis.UniversalClient, n int, timeout time.Duration) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(c, func(o *redisstore.Options) { o.WaitReplicas, o.WaitTimeout = n, timeout })
	require.NoError(t, err)
	return s
}

// With WaitReplicas 1 against a master and a replica, the whole suite passes
// and what a write stored is on the replica when the write returns.
func TestConformanceWaitReplicas(t *testing.T) {
	rs := startReplicated(t)
	var stores []tokenstore.Store
	for range 2 {
		fc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: rs.MasterName, SentinelAddrs: []string{rs.SentinelAddr}})
		t.Cleanup(func() { fc.Close() })
		stores = append(stores, waitStore(t, fc, 1, time.Second))
	}
	storetest.Run(t, alternate(stores...))

	t.Run("on the replica on return", func(t *testing.T) {
		ctx := t.Context()
		s := stores[0].(*redisstore.Store)
		replica := newClient(t, rs.Replicas[0])
		// Replication is fast on loopback; a write that did not wait may or
		// may not be there yet, one that waited is, every time.
		for i := range 50 {
			key := fmt.Sprintf("awsauth/session/r%d", i)
			lease, err := s.Acquire(ctx, "awsauth/refresh/"+key, time.Minute)
			require.NoError(t, err)
			require.NoError(t, s.SetFenced(ctx, lease, key, []byte("v"), time.Now().Add(time.Hour)))
			n, err := replica.Exists(ctx, "awsauth:{r"+fmt.Sprint(i)+"}:e:"+key).Result()
			require.NoError(t, err)
			require.EqualValues(t, 1, n, "fenced write %d not on the replica on return", i)
		}
	})
}

// Without a replica WAIT times out: the write stays on the master and
// returns ErrNotReplicated; a lease granted that way is released.
func TestWaitReplicasWithoutReplica(t *testing.T) {
	ctx := t.Context()
	c := newClient(t, startRedis(t, ""))
	s := waitStore(t, c, 1, 50*time.Millisecond)
	plain := newStore(t, c)

	start := time.Now()
	err := s.Set(ctx, "k", []byte("v"), time.Time{})
	require.ErrorIs(t, err, redisstore.ErrNotReplicated)
	require.ErrorContains(t, err, "redisstore: set: ")
	require.ErrorContains(t, err, "0 of 1 within 50ms")
	require.Less(t, time.Since(start), 2*time.Second)
	got, err := plain.Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, "v", string(got), "the write stays on the master")

	_, err = s.Acquire(ctx, "lease", time.Minute)
	require.ErrorIs(t, err, redisstore.ErrNotReplicated)
	l, err := plain.Acquire(ctx, "lease", time.Minute)
	require.NoError(t, err, "the unreplicated lease was released")

	// Not written: the answer is the lease's, not the WAIT's.
	_, err = s.Acquire(ctx, "lease", time.Minute)
	require.ErrorIs(t, err, tokenstore.ErrLeaseHeld)
	require.ErrorIs(t, s.SetFenced(ctx, tokenstore.Lease{Name: "lease", Token: l.Token + 1}, "k", []byte("x"), time.Time{}), tokenstore.ErrLeaseLost)
	require.ErrorIs(t, s.SetFenced(ctx, l, "k", []byte("x"), time.Time{}), redisstore.ErrNotReplicated)
	require.ErrorIs(t, s.Delete(ctx, "k"), redisstore.ErrNotReplicated)
	_, err = s.AddToIndex(ctx, "i", "m", time.Time{}, 10)
	require.ErrorIs(t, err, redisstore.ErrNotReplicated)
	require.ErrorIs(t, s.RemoveFromIndex(ctx, "i", "m"), redisstore.ErrNotReplicated)
	_, err = s.Get(ctx, "k") // reads do not wait
	require.ErrorIs(t, err, tokenstore.ErrNotFound)

	// A new master (or SCRIPT FLUSH) lacks the scripts: EVAL takes over,
	// WAIT still follows.
	require.NoError(t, c.ScriptFlush(ctx).Err())
	_, err = s.Acquire(ctx, "other", time.Minute)
	require.ErrorIs(t, err, redisstore.ErrNotReplicated)
}

// On a Cluster the WAIT goes to the master of the key's slot, on the write's
// connection (the cluster has no replicas: 0 acknowledgements, no MOVED).
func TestWaitReplicasCluster(t *testing.T) {
	ctx := t.Context()
	c, err := testenv.StartRedisCluster(ctx, 3)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Stop() })
	rc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { rc.Close() })
	s := waitStore(t, rc, 1, 20*time.Millisecond)
	for _, k := range []string{"a/x", "b/y", "c/z", "d/w"} {
		require.ErrorIs(t, s.Set(ctx, k, []byte(k), time.Time{}), redisstore.ErrNotReplicated)
		got, err := s.Get(ctx, k)
		require.NoError(t, err)
		require.Equal(t, k, string(got))
	}
}

func TestWaitReplicasOptions(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	_, err := redisstore.New(c, func(o *redisstore.Options) { o.WaitReplicas = -1 })
	require.ErrorContains(t, err, "must not be negative")
	_, err = redisstore.New(c, func(o *redisstore.Options) { o.WaitTimeout = -time.Second })
	require.ErrorContains(t, err, "must not be negative")
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	defer ring.Close()
	_, err = redisstore.New(ring, func(o *redisstore.Options) { o.WaitReplicas = 1 })
	require.ErrorContains(t, err, "redis.Ring")
	_, err = redisstore.New(ring)
	require.NoError(t, err)
}

// BenchmarkSetWaitReplicas measures what WaitReplicas costs: a session-sized
// Set and a fenced Set (authflow's refresh write) against a real master with
// one replica, without (wait=0) and with (wait=1) WAIT. Compare with
//
//	go test -run '^$' -bench SetWaitReplicas -count 10 ./tokenstore/redisstore/ |
//		benchstat -col /wait -
func BenchmarkSetWaitReplicas(b *testing.B) {
	rs := startReplicated(b)
	fc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: rs.MasterName, SentinelAddrs: []string{rs.SentinelAddr}})
	b.Cleanup(func() { fc.Close() })
	value := make([]byte, 3000) // a session record with its tokens
	ctx := context.Background()
	for _, n := range []int{0, 1} {
		s := waitStore(b, fc, n, time.Second)
		b.Run(fmt.Sprintf("op=set/wait=%d", n), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if err := s.Set(ctx, fmt.Sprintf("awsauth/session/b%d", i%1000), value, time.Now().Add(time.Hour)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("op=setfenced/wait=%d", n), func(b *testing.B) {
			lease, err := s.Acquire(ctx, "awsauth/refresh/awsauth/session/f", time.Hour)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if err := s.SetFenced(ctx, lease, "awsauth/session/f", value, time.Now().Add(time.Hour)); err != nil {
					b.Fatal(err)
				}
			}
			_ = s.Release(ctx, lease)
		})
	}
}
