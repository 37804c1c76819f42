package awscreds

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type countingProvider struct{ calls atomic.Int64 }

func (p *countingProvider) Retrieve(context.Context) (aws.Credentials, error) {
	p.calls.Add(1)
	return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "s", CanExpire: true, Expires: time.Now().Add(time.Hour)}, nil
}

func TestUserCacheOneRetrieveForConcurrentCallers(t *testing.T) {
	c := NewUserCache()
	p := &countingProvider{}
	var built atomic.Int64
	newP := func() aws.CredentialsProvider { built.Add(1); return p }
	var wg sync.WaitGroup
	for range 1000 {
		wg.Go(func() {
			_, err := c.Get("alice", newP).Retrieve(context.Background())
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	assert.Equal(t, int64(1), built.Load())
	assert.Equal(t, int64(1), p.calls.Load())
}

func TestUserCacheBoundAndEviction(t *testing.T) {
	c := NewUserCache(func(o *UserCacheOptions) { o.MaxEntries = 3 })
	providers := map[string]*countingProvider{}
	get := func(k string) *aws.CredentialsCache {
		return c.Get(k, func() aws.CredentialsProvider {
			p := &countingProvider{}
			providers[k] = p
			return p
		})
	}
	for i := range 5 {
		get(fmt.Sprint("u", i))
	}
	assert.Equal(t, 3, c.Len())
	first := get("u4")
	assert.Same(t, first, get("u4"), "a cached user keeps its cache")
	get("u0") // was evicted: rebuilt
	assert.Equal(t, 3, c.Len())
	c.Evict("u0")
	c.Evict("missing")
	assert.Equal(t, 2, c.Len())
	_, err := get("u0").Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int64(1), providers["u0"].calls.Load())
}
