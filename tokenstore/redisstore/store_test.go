package redisstore_test

import (
	"context"
	"math"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/internal/testenv"
	"github.com/pubauth/awsauth/tokenstore"
	"github.com/pubauth/awsauth/tokenstore/redisstore"
	"github.com/pubauth/awsauth/tokenstore/storetest"
)

// The tests run a real redis-server (internal/testenv; scripts/deps.d/redis.sh
// installs it). A missing install fails them.

func startRedis(t testing.TB, dir string) *testenv.Redis {
	t.Helper()
	var r *testenv.Redis
	var err error
	if dir == "" {
		r, err = testenv.StartRedis(context.Background())
	} else {
		r, err = testenv.StartRedisAt(context.Background(), dir)
	}
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Stop() })
	return r
}

func newClient(t testing.TB, r *testenv.Redis) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(r.URL)
	require.NoError(t, err)
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

func newStore(t testing.TB, c redis.UniversalClient) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(c)
	require.NoError(t, err)
	return s
}

// alternate returns a storetest newStore that hands out stores in turn, so
// that the suite's two instances are two clients of one server.
func alternate(stores ...tokenstore.Store) func(*testing.T) tokenstore.Store {
	var n atomic.Uint64
	return func(*testing.T) tokenstore.Store { return stores[(n.Add(1)-1)%uint64(len(stores))] }
}

func TestConformance(t *testing.T) {
	r := startRedis(t, "")
	storetest.Run(t, alternate(newStore(t, newClient(t, r)), newStore(t, newClient(t, r))))
}

// Encrypted over Redis: sealed values, and the Locker (SetFenced included)
// and Indexer passed through to the real scripts.
func TestConformanceEncrypted(t *testing.T) {
	r := startRedis(t, "")
	key := tokenstore.EncryptionKey{ID: "k1", Secret: make([]byte, 32)}
	var stores []tokenstore.Store
	for range 2 {
		s, err := tokenstore.NewEncrypted(newStore(t, newClient(t, r)), []tokenstore.EncryptionKey{key})
		require.NoError(t, err)
		stores = append(stores, s)
	}
	storetest.Run(t, alternate(stores...))
}

func TestNewRejectsBadOptions(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	_, err := redisstore.New(c, func(o *redisstore.Options) { o.Prefix = "app{x}:" })
	require.ErrorContains(t, err, "redisstore:")
	_, err = redisstore.New(nil)
	require.ErrorContains(t, err, "redisstore:")
}

// The layout the package doc promises, read back with raw commands, and one
// slot for authflow's lease and session keys.
func TestKeyLayout(t *testing.T) {
	ctx := t.Context()
	c := newClient(t, startRedis(t, ""))
	s, err := redisstore.New(c, func(o *redisstore.Options) { o.Prefix = "app:" })
	require.NoError(t, err)

	for _, tc := range []struct{ key, redisKey string }{
		{"awsauth/session/AbC", "app:{AbC}:e:awsauth/session/AbC"},
		{"{user-1}/tokens", "app:{user-1}:e:{user-1}/tokens"},
		{"plain", "app:{plain}:e:plain"},
		{"dir/", "app:{_}:e:dir/"},
		{"{}/x", "app:{x}:e:{}/x"},
	} {
		require.NoError(t, s.Set(ctx, tc.key, []byte("v"), time.Now().Add(time.Hour)))
		got, err := c.Get(ctx, tc.redisKey).Result()
		require.NoError(t, err, "raw GET %q for key %q", tc.redisKey, tc.key)
		require.Equal(t, "v", got)
		ttl, err := c.PTTL(ctx, tc.redisKey).Result()
		require.NoError(t, err)
		require.InDelta(t, time.Hour.Seconds(), ttl.Seconds(), 60, "entry expiry is the key's PXAT")
	}

	lease, err := s.Acquire(ctx, "awsauth/refresh/awsauth/session/AbC", time.Minute)
	require.NoError(t, err)
	h, err := c.HGetAll(ctx, "app:{AbC}:l:awsauth/refresh/awsauth/session/AbC").Result()
	require.NoError(t, err)
	require.Equal(t, strconv.FormatUint(lease.Token, 10), h["t"])
	require.Equal(t, strconv.FormatInt(lease.Expiry.UnixMicro(), 10), h["x"])
	require.NoError(t, s.SetFenced(ctx, lease, "awsauth/session/AbC", []byte("fenced"), time.Time{}))
	got, err := c.Get(ctx, "app:{AbC}:e:awsauth/session/AbC").Result()
	require.NoError(t, err)
	require.Equal(t, "fenced", got)
	ttl, err := c.PTTL(ctx, "app:{AbC}:e:awsauth/session/AbC").Result()
	require.NoError(t, err)
	require.Less(t, ttl, time.Duration(0), "zero expiry: no PXAT")
}

func TestLeaseTTLTooShort(t *testing.T) {
	s := newStore(t, newClient(t, startRedis(t, "")))
	_, err := s.Acquire(t.Context(), "n", time.Microsecond)
	require.ErrorContains(t, err, "redisstore: lease ttl")
}

// Faults: with the server stopped every call fails with an error (no panic,
// no partial write); started again on its data, the entries written before
// are there and the same client's calls succeed.
func TestServerStoppedAndRestarted(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	r := startRedis(t, dir)
	opt, err := redis.ParseURL(r.URL)
	require.NoError(t, err)
	opt.MaxRetries = -1
	opt.DialTimeout = 200 * time.Millisecond
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	s := newStore(t, c)

	require.NoError(t, s.Set(ctx, "kept", []byte("before"), time.Now().Add(time.Hour)))
	lease, err := s.Acquire(ctx, "lease/kept", time.Hour)
	require.NoError(t, err)
	require.NoError(t, r.Stop())

	_, err = s.Get(ctx, "kept")
	require.Error(t, err)
	require.NotErrorIs(t, err, tokenstore.ErrNotFound)
	require.ErrorContains(t, err, "redisstore: get")
	require.ErrorContains(t, s.Set(ctx, "written-while-down", []byte("x"), time.Time{}), "redisstore: set")
	require.ErrorContains(t, s.Delete(ctx, "kept"), "redisstore: delete")
	require.ErrorContains(t, s.SetFenced(ctx, lease, "kept", []byte("x"), time.Time{}), "redisstore: set fenced")
	_, err = s.Acquire(ctx, "other", time.Minute)
	require.ErrorContains(t, err, "redisstore: acquire")

	startRedis(t, dir)
	got, err := s.Get(ctx, "kept")
	require.NoError(t, err)
	require.Equal(t, "before", string(got))
	_, err = s.Get(ctx, "written-while-down")
	require.ErrorIs(t, err, tokenstore.ErrNotFound)
	// The lease survived too: its holder still writes, a newcomer waits.
	_, err = s.Acquire(ctx, "lease/kept", time.Minute)
	require.ErrorIs(t, err, tokenstore.ErrLeaseHeld)
	require.NoError(t, s.SetFenced(ctx, lease, "kept", []byte("after"), time.Time{}))
	got, err = s.Get(ctx, "kept")
	require.NoError(t, err)
	require.Equal(t, "after", string(got))
}

// An index is the sorted set the package doc shows: members scored by expiry
// in milliseconds, +inf for none, the key expiring with its last member.
func TestIndexLayout(t *testing.T) {
	ctx := t.Context()
	c := newClient(t, startRedis(t, ""))
	s, err := redisstore.New(c, func(o *redisstore.Options) { o.Prefix = "app:" })
	require.NoError(t, err)
	exp := time.Now().Add(time.Hour)
	_, err = s.AddToIndex(ctx, "awsauth/user/U1", "m1", exp, 10)
	require.NoError(t, err)
	zs, err := c.ZRangeWithScores(ctx, "app:{U1}:i:awsauth/user/U1", 0, -1).Result()
	require.NoError(t, err)
	require.Equal(t, []redis.Z{{Score: float64(exp.UnixMilli()), Member: "m1"}}, zs)
	at, err := c.PExpireTime(ctx, "app:{U1}:i:awsauth/user/U1").Result()
	require.NoError(t, err)
	require.Equal(t, exp.UnixMilli(), at.Milliseconds())

	_, err = s.AddToIndex(ctx, "awsauth/user/U1", "m2", time.Time{}, 10)
	require.NoError(t, err)
	score, err := c.ZScore(ctx, "app:{U1}:i:awsauth/user/U1", "m2").Result()
	require.NoError(t, err)
	require.True(t, math.IsInf(score, 1))
	ttl, err := c.PTTL(ctx, "app:{U1}:i:awsauth/user/U1").Result()
	require.NoError(t, err)
	require.Less(t, ttl, time.Duration(0), "a member without expiry: no PXAT")
}
