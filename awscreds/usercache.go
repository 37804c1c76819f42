package awscreds

import (
	"container/list"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// UserCache keeps one [aws.CredentialsCache] per signed-in user (or session)
// for a server that makes AWS calls on behalf of many users. It is bounded:
// past MaxEntries the least recently used entry is dropped, and its next use
// builds a new provider. Each entry refreshes its credentials once for all
// concurrent callers (the CredentialsCache's own single flight). Safe for
// concurrent use.
type UserCache struct {
	opts UserCacheOptions

	mu    sync.Mutex
	lru   *list.List // front = most recently used; values are *userEntry
	byKey map[string]*list.Element
}

// UserCacheOptions configures a UserCache.
type UserCacheOptions struct {
	// MaxEntries bounds the number of users cached. Default 10,000.
	MaxEntries int
	// ExpiryWindow and ExpiryWindowJitterFrac are passed to every
	// aws.CredentialsCache: credentials are refreshed between
	// ExpiryWindow×(1−JitterFrac) and ExpiryWindow before they expire.
	// Defaults 1 minute and 0.5.
	ExpiryWindow           time.Duration
	ExpiryWindowJitterFrac float64
}

type userEntry struct {
	key   string
	creds *aws.CredentialsCache
}

// NewUserCache returns an empty cache.
func NewUserCache(optFns ...func(*UserCacheOptions)) *UserCache {
	o := UserCacheOptions{MaxEntries: 10_000, ExpiryWindow: time.Minute, ExpiryWindowJitterFrac: 0.5}
	for _, f := range optFns {
		f(&o)
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = 10_000
	}
	return &UserCache{opts: o, lru: list.New(), byKey: map[string]*list.Element{}}
}

// Get returns key's credentials cache, building it from newProvider on first
// use (or after eviction). newProvider is called with the cache's lock held
// and must not block: build the provider, don't call AWS.
func (c *UserCache) Get(key string, newProvider func() aws.CredentialsProvider) *aws.CredentialsCache {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		c.lru.MoveToFront(el)
		return el.Value.(*userEntry).creds
	}
	e := &userEntry{key: key, creds: aws.NewCredentialsCache(newProvider(), func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = c.opts.ExpiryWindow
		o.ExpiryWindowJitterFrac = c.opts.ExpiryWindowJitterFrac
	})}
	c.byKey[key] = c.lru.PushFront(e)
	for c.lru.Len() > c.opts.MaxEntries {
		oldest := c.lru.Back()
		c.lru.Remove(oldest)
		delete(c.byKey, oldest.Value.(*userEntry).key)
	}
	return e.creds
}

// Evict drops key's entry, for example at logout, so its credentials are not
// used again. Evicting a missing key does nothing.
func (c *UserCache) Evict(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		c.lru.Remove(el)
		delete(c.byKey, key)
	}
}

// Len returns the number of cached users.
func (c *UserCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
