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

// A logout racing a sign-in: a Get that comes after Evict, while the provider of a Get from
// before the Evict is still being built, must not receive that provider. It builds its own
// (it does not wait for the old build), and the old build, when it ends, neither replaces the
// new entry nor removes the new build's place.
func TestUserCacheGetAfterEvictDuringBuild(t *testing.T) {
	c := NewUserCache()
	waiting := make(chan string, 10)
	c.waitHook = func(key string) { waiting <- key }
	started, release := make(chan struct{}), make(chan struct{})
	oldP := &countingProvider{}
	oldDone := make(chan *aws.CredentialsCache, 1)
	go func() {
		oldDone <- c.Get("alice", func() aws.CredentialsProvider {
			close(started)
			<-release
			return oldP
		})
	}()
	<-started
	c.Evict("alice")

	newP := &countingProvider{}
	newStarted, newRelease := make(chan struct{}), make(chan struct{})
	newDone := make(chan *aws.CredentialsCache, 1)
	go func() {
		newDone <- c.Get("alice", func() aws.CredentialsProvider {
			close(newStarted)
			<-newRelease
			return newP
		})
	}()
	select {
	case <-newStarted:
	case <-waiting:
		close(release)
		<-oldDone
		close(newRelease)
		<-newDone
		t.Fatal("a Get after Evict waited for the provider being built before the Evict")
	}
	// The new build is in flight; a later Get waits for it (single flight), not for the old one.
	laterDone := make(chan *aws.CredentialsCache, 1)
	go func() {
		laterDone <- c.Get("alice", func() aws.CredentialsProvider {
			t.Error("a third build while the second was in flight")
			return &countingProvider{}
		})
	}()
	assert.Equal(t, "alice", <-waiting)

	// The old build ends first: its callers get it, the cache does not keep it, and the new
	// build stays the one in flight.
	close(release)
	old := <-oldDone
	require.NotNil(t, old)
	assert.Equal(t, 0, c.Len())

	close(newRelease)
	fresh, later := <-newDone, <-laterDone
	require.NotNil(t, fresh)
	assert.NotSame(t, old, fresh)
	assert.Same(t, fresh, later)
	assert.Same(t, fresh, c.Get("alice", func() aws.CredentialsProvider {
		t.Error("rebuilt a cached entry")
		return &countingProvider{}
	}))
	assert.Equal(t, 1, c.Len())
	_, err := fresh.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int64(1), newP.calls.Load())
	assert.Equal(t, int64(0), oldP.calls.Load(), "nothing retrieved through the logged-out provider")
}

// The old build may also end after the new one: the new entry stays.
func TestUserCacheEvictedBuildEndingLastKeepsNewEntry(t *testing.T) {
	c := NewUserCache()
	started, release := make(chan struct{}), make(chan struct{})
	oldDone := make(chan *aws.CredentialsCache, 1)
	go func() {
		oldDone <- c.Get("alice", func() aws.CredentialsProvider {
			close(started)
			<-release
			return &countingProvider{}
		})
	}()
	<-started
	c.Evict("alice")
	c.waitHook = func(string) {
		t.Error("a Get after Evict waited for the build from before it")
		close(release)
	}
	fresh := c.Get("alice", func() aws.CredentialsProvider { return &countingProvider{} })
	if c.waitHook = nil; !t.Failed() {
		close(release)
	}
	old := <-oldDone
	assert.NotSame(t, old, fresh)
	assert.Same(t, fresh, c.Get("alice", func() aws.CredentialsProvider {
		t.Error("the evicted build replaced or removed the new entry")
		return &countingProvider{}
	}))
	assert.Equal(t, 1, c.Len())
}
