package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/internal/testenv"
	"github.com/pubauth/awsauth/tokenstore"
	"github.com/pubauth/awsauth/tokenstore/storetest"
)

// A real three-master Redis Cluster (internal/testenv): the suite through a
// cluster client, whose keys and scripts land on all three nodes.
func TestConformanceCluster(t *testing.T) {
	c, err := testenv.StartRedisCluster(context.Background(), 3)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Stop() })
	rc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { rc.Close() })
	rc2 := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { rc2.Close() })
	s := newStore(t, rc)
	storetest.Run(t, alternate(s, newStore(t, rc2)))

	// authflow's layout: lease "awsauth/refresh/<session key>" fences the
	// session key; the shared last segment puts both in one slot.
	t.Run("authflow layout", func(t *testing.T) {
		ctx := t.Context()
		for _, id := range []string{"AbC", "xyz", "Q-9_"} { // spread over slots
			key := "awsauth/session/" + id
			lease, err := s.Acquire(ctx, "awsauth/refresh/"+key, time.Minute)
			require.NoError(t, err)
			require.NoError(t, s.SetFenced(ctx, lease, key, []byte("tokens"), time.Now().Add(time.Hour)))
			got, err := s.Get(ctx, key)
			require.NoError(t, err)
			require.Equal(t, "tokens", string(got))
			require.NoError(t, s.Release(ctx, lease))
			require.ErrorIs(t, s.SetFenced(ctx, lease, key, []byte("stale"), time.Time{}), tokenstore.ErrLeaseLost)
		}
	})
	// As documented: a lease and a key without a common tag cannot be
	// fenced on a Cluster; the error says so and nothing is written.
	t.Run("cross-slot pair", func(t *testing.T) {
		ctx := t.Context()
		lease, err := s.Acquire(ctx, "lease/a", time.Minute)
		require.NoError(t, err)
		err = s.SetFenced(ctx, lease, "entry/b", []byte("x"), time.Time{})
		require.ErrorContains(t, err, "CROSSSLOT")
		require.ErrorContains(t, err, "redisstore: set fenced")
		_, err = s.Get(ctx, "entry/b")
		require.ErrorIs(t, err, tokenstore.ErrNotFound)
	})
}

// Through Sentinel: a failover client that finds the master by name.
func TestConformanceSentinel(t *testing.T) {
	s, err := testenv.StartRedisSentinel(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Stop() })
	var stores []tokenstore.Store
	for range 2 {
		fc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: s.MasterName, SentinelAddrs: []string{s.SentinelAddr}})
		t.Cleanup(func() { fc.Close() })
		stores = append(stores, newStore(t, fc))
	}
	storetest.Run(t, alternate(stores...))
}
