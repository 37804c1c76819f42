package storeurl_test

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/internal/testenv"
	"github.com/pubauth/awsauth/tokenstore"
	"github.com/pubauth/awsauth/tokenstore/dynamostore"
	"github.com/pubauth/awsauth/tokenstore/redisstore"
	"github.com/pubauth/awsauth/tokenstore/sqlstore"
	"github.com/pubauth/awsauth/tokenstore/storeurl"
)

// The tests open every backend on its real server (internal/testenv: Redis,
// PostgreSQL, dynalite; SQLite in process); a missing install fails them.

func open(t *testing.T, rawURL string) tokenstore.Store {
	t.Helper()
	s, closeFn, err := storeurl.Open(t.Context(), rawURL)
	require.NoError(t, err, "Open(%s)", rawURL)
	t.Cleanup(func() { assert.NoError(t, closeFn()) })
	return s
}

func roundTrip(t *testing.T, s tokenstore.Store) {
	t.Helper()
	require.NoError(t, s.Set(t.Context(), "awsauth/session/x", []byte("v"), time.Now().Add(time.Hour)))
	got, err := s.Get(t.Context(), "awsauth/session/x")
	require.NoError(t, err)
	assert.Equal(t, "v", string(got))
	_, ok := s.(tokenstore.Locker)
	assert.True(t, ok, "every backend is a Locker")
}

func TestOpen(t *testing.T) {
	ctx := t.Context()
	t.Run("memory", func(t *testing.T) {
		s := open(t, "memory://")
		assert.IsType(t, &tokenstore.Memory{}, s)
		roundTrip(t, s)
	})
	t.Run("redis", func(t *testing.T) {
		r, err := testenv.StartRedis(ctx)
		require.NoError(t, err)
		t.Cleanup(func() { r.Stop() })
		s := open(t, r.URL+"?prefix=myapp:&dial_timeout=2s")
		assert.IsType(t, &redisstore.Store{}, s)
		roundTrip(t, s)
		// prefix= reached the store and no other option reached go-redis.
		raw := redis.NewClient(&redis.Options{Addr: r.Addr})
		defer raw.Close()
		v, err := raw.Get(ctx, "myapp:{x}:e:awsauth/session/x").Result()
		require.NoError(t, err)
		assert.Equal(t, "v", v)
	})
	t.Run("redis cluster", func(t *testing.T) {
		c, err := testenv.StartRedisCluster(ctx, 3)
		require.NoError(t, err)
		t.Cleanup(func() { c.Stop() })
		s := open(t, "redis://"+c.Addrs[0]+"?cluster=true&addr="+c.Addrs[1]+"&addr="+c.Addrs[2])
		assert.IsType(t, &redisstore.Store{}, s)
		roundTrip(t, s)
		for i := range 20 { // keys on every node, through one client
			k := "awsauth/session/" + strings.Repeat("k", i+1)
			require.NoError(t, s.Set(ctx, k, []byte("v"), time.Time{}))
			_, err := s.Get(ctx, k)
			require.NoError(t, err)
		}
	})
	t.Run("redis sentinel", func(t *testing.T) {
		rs, err := testenv.StartRedisSentinel(ctx)
		require.NoError(t, err)
		t.Cleanup(func() { rs.Stop() })
		s := open(t, "redis://"+rs.SentinelAddr+"?master_name="+rs.MasterName+"&prefix=s:")
		assert.IsType(t, &redisstore.Store{}, s)
		roundTrip(t, s)
		raw := redis.NewClient(&redis.Options{Addr: rs.Master.Addr})
		defer raw.Close()
		v, err := raw.Get(ctx, "s:{x}:e:awsauth/session/x").Result()
		require.NoError(t, err, "written on the master the Sentinel names")
		assert.Equal(t, "v", v)
	})
	t.Run("postgres", func(t *testing.T) {
		p, err := testenv.StartPostgres(ctx)
		require.NoError(t, err)
		t.Cleanup(func() { p.Stop() })
		s := open(t, p.URL+"&table=custom_tokens")
		assert.IsType(t, &sqlstore.Store{}, s)
		roundTrip(t, s)
		// Opening again finds the schema in place.
		roundTrip(t, open(t, strings.Replace(p.URL, "postgres://", "postgresql://", 1)+"&table=custom_tokens"))
	})
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "tokens.db")
		s := open(t, "sqlite://"+path+"?max_conns=4")
		assert.IsType(t, &sqlstore.Store{}, s)
		roundTrip(t, s)
		got, err := open(t, "sqlite://"+path+"?table=awsauth_tokens").Get(ctx, "awsauth/session/x")
		require.NoError(t, err, "the same file, opened again")
		assert.Equal(t, "v", string(got))
	})
	t.Run("dynamodb", func(t *testing.T) {
		d, err := testenv.StartDynamoDB(ctx)
		require.NoError(t, err)
		t.Cleanup(func() { d.Stop() })
		require.NoError(t, d.CreateTable(ctx, dynamostore.TableDefinition("tokens", "")))
		t.Setenv("AWS_ACCESS_KEY_ID", "test")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
		t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
		s := open(t, "dynamodb://tokens?region="+d.Region+"&endpoint="+url.QueryEscape(d.Endpoint))
		assert.IsType(t, &dynamostore.Store{}, s)
		roundTrip(t, s)

		_, _, err = storeurl.Open(ctx, "dynamodb://missing?region="+d.Region+"&endpoint="+url.QueryEscape(d.Endpoint))
		assert.ErrorContains(t, err, `storeurl: dynamodb table "missing"`)
	})
}

func TestOpenRejects(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name, url, want string
	}{
		{"no scheme", "localhost:6379", "not a store URL"},
		{"unknown scheme", "mongodb://x", "unsupported store URL scheme"},
		{"sqlite without path", "sqlite://", "needs a path"},
		{"sqlite unknown option", "sqlite://x.db?mode=ro", `unknown option "mode"`},
		{"dynamodb without table", "dynamodb://?region=us-east-1", "dynamodb://TABLE"},
		{"dynamodb with a path", "dynamodb://t/x", "dynamodb://TABLE"},
		{"dynamodb unknown option", "dynamodb://t?profile=x", `unknown option "profile"`},
		{"redis unknown option", "redis://127.0.0.1:1/0?bogus=1", "storeurl: redis URL"},
		{"redis down", "redis://:hunter2@127.0.0.1:1/0?dial_timeout=200ms&max_retries=-1", "does not answer"},
		{"bad max_conns", "sqlite://x.db?max_conns=0", "max_conns"},
		{"postgres down", "postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=1", "does not answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, closeFn, err := storeurl.Open(ctx, tc.url)
			require.ErrorContains(t, err, tc.want)
			assert.Nil(t, s)
			assert.Nil(t, closeFn)
			assert.True(t, strings.HasPrefix(err.Error(), "storeurl: "), err.Error())
			assert.NotContains(t, err.Error(), "hunter2", "password in an error")
		})
	}
	_, _, err := storeurl.Open(ctx, "mongodb://x")
	assert.ErrorIs(t, err, storeurl.ErrUnsupported)
}
