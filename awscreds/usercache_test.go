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

// Single flight per key, without holding up other keys: while alice's provider is being
// built, bob's Get completes, and alice's concurrent Gets all wait for the one build.
func TestUserCacheSingleFlightPerKey(t *testing.T) {
	c := NewUserCache()
	building, release := make(chan struct{}), make(chan struct{})
	var aliceBuilt atomic.Int64
	slowAlice := func() aws.CredentialsProvider {
		if aliceBuilt.Add(1) == 1 {
			close(building)
		}
		<-release
		return &countingProvider{}
	}
	var wg sync.WaitGroup
	results := make(chan *aws.CredentialsCache, 50)
	for range 50 {
		wg.Go(func() { results <- c.Get("alice", slowAlice) })
	}
	<-building // alice's provider is being built from here until release
	bob := c.Get("bob", func() aws.CredentialsProvider { return &countingProvider{} })
	require.NotNil(t, bob, "bob's Get completed while alice's provider was being built")
	assert.Equal(t, 1, c.Len())
	close(release)
	wg.Wait()
	close(results)
	first := <-results
	for r := range results {
		assert.Same(t, first, r)
	}
	assert.Equal(t, int64(1), aliceBuilt.Load())
	assert.Equal(t, 2, c.Len())
}

// A logout while the user's provider is being built: the waiting callers get it, the cache
// does not keep it.
func TestUserCacheEvictDuringBuild(t *testing.T) {
	c := NewUserCache()
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan *aws.CredentialsCache)
	go func() {
		done <- c.Get("alice", func() aws.CredentialsProvider {
			close(started)
			<-release
			return &countingProvider{}
		})
	}()
	<-started
	c.Evict("alice")
	close(release)
	assert.NotNil(t, <-done)
	assert.Equal(t, 0, c.Len())
	var built atomic.Int64
	c.Get("alice", func() aws.CredentialsProvider { built.Add(1); return &countingProvider{} })
	assert.Equal(t, int64(1), built.Load(), "the next Get builds a new provider")
}

func TestUserCacheBuilderPanics(t *testing.T) {
	c := NewUserCache()
	assert.Panics(t, func() { c.Get("alice", func() aws.CredentialsProvider { panic("boom") }) })
	assert.Equal(t, 0, c.Len())
	got := c.Get("alice", func() aws.CredentialsProvider { return &countingProvider{} })
	assert.NotNil(t, got)
	assert.Equal(t, 1, c.Len())
}

// 100,000 users through a cache bounded at 10,000: the bound holds, the most recently used
// stay, and an entry in use is not the one dropped.
func TestUserCacheBoundHolds(t *testing.T) {
	const bound, users = 10_000, 100_000
	c := NewUserCache(func(o *UserCacheOptions) { o.MaxEntries = bound })
	p := &countingProvider{}
	newP := func() aws.CredentialsProvider { return p }
	hot := c.Get("hot", newP)
	for i := range users {
		c.Get(fmt.Sprint("user-", i), newP)
		if i%1000 == 0 {
			assert.Same(t, hot, c.Get("hot", newP))
		}
		if n := c.Len(); n > bound {
			t.Fatalf("Len = %d after %d users, bound %d", n, i+1, bound)
		}
	}
	assert.Equal(t, bound, c.Len())
	var rebuilt atomic.Int64
	c.Get(fmt.Sprint("user-", users-1), func() aws.CredentialsProvider { rebuilt.Add(1); return p })
	c.Get("user-0", func() aws.CredentialsProvider { rebuilt.Add(1); return p })
	assert.Equal(t, int64(1), rebuilt.Load(), "the newest user is cached, the oldest was dropped")
}
