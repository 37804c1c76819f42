package faults

import (
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/internal/testenv"
	"github.com/pubauth/awsauth/tokenstore"
	"github.com/pubauth/awsauth/tokenstore/redisstore"
)

// redisKit: redis-server with an append-only file, and go-redis with its
// default options, as an app would open it.
func redisKit(t *testing.T) *storeKit {
	dir := t.TempDir()
	r, err := testenv.StartRedisAt(t.Context(), dir)
	require.NoError(t, err)
	t.Cleanup(func() { r.Stop() })
	return &storeKit{
		name:     "redis",
		upstream: func() string { return r.Addr },
		open: func(t *testing.T, addr string) (tokenstore.Store, func()) {
			c := redis.NewClient(&redis.Options{Addr: addr})
			s, err := redisstore.New(c)
			require.NoError(t, err)
			return s, func() { c.Close() }
		},
		stop: func(t *testing.T) { require.NoError(t, r.Stop()) },
		start: func(t *testing.T) {
			r, err = testenv.StartRedisAt(t.Context(), dir)
			require.NoError(t, err)
		},
	}
}
