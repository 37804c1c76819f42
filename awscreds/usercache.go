package awscreds

import (
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// DefaultMaxUsers is a UserCache's bound when MaxEntries is zero or less.
const DefaultMaxUsers = 10_000

// UserCache keeps one [aws.CredentialsCache] per signed-in user (or session) for a server
// that makes AWS calls on behalf of many users. It is bounded: past MaxEntries the least
// recently used entry is dropped, and its next use builds a new provider.
//
// It is single-flight per user at both levels: concurrent first Gets of one key build one
// provider (other keys are not held up meanwhile), and each entry's CredentialsCache refreshes
// its credentials once for all concurrent callers. Safe for concurrent use.
//
// Memory: about 150 bytes per user besides the key and the provider, against 100 for a bare
// map of CredentialsCaches; with an IdentityPool per user, about 650 (BenchmarkUserCacheMemory).
type UserCache struct {
	opts UserCacheOptions

	mu       sync.Mutex
	byKey    map[string]*userEntry
	lru      userEntry // sentinel of a ring: lru.next is the most recently used
	building map[string]*pendingEntry

	// waitHook, when set (by tests), runs as a Get starts waiting for another caller's build.
	waitHook func(key string)
}

// UserCacheOptions configures a UserCache.
type UserCacheOptions struct {
	// MaxEntries bounds the number of users cached. Default DefaultMaxUsers.
	MaxEntries int
	// ExpiryWindow and ExpiryWindowJitterFrac are passed to every
	// aws.CredentialsCache: credentials are refreshed between
	// ExpiryWindow×(1−JitterFrac) and ExpiryWindow before they expire.
	// Defaults 1 minute and 0.5.
	ExpiryWindow           time.Duration
	ExpiryWindowJitterFrac float64
}

// userEntry is one user, and a link of the LRU ring (no container/list: one allocation
// less per user).
type userEntry struct {
	key        string
	creds      *aws.CredentialsCache
	prev, next *userEntry
}

// pendingEntry is a provider being built for a key; Gets of the same key wait for it. Its
// pointer is the build's token: Evict removes it from building, so a later Get starts a build
// of its own, and the evicted build, when it ends, neither keeps its result nor removes the
// newer build from building.
type pendingEntry struct {
	done    chan struct{}
	creds   *aws.CredentialsCache // nil if newProvider panicked
	evicted bool                  // Evict ran meanwhile: hand the result to earlier callers only
}

// NewUserCache returns an empty cache.
func NewUserCache(optFns ...func(*UserCacheOptions)) *UserCache {
	o := UserCacheOptions{MaxEntries: DefaultMaxUsers, ExpiryWindow: time.Minute, ExpiryWindowJitterFrac: 0.5}
	for _, f := range optFns {
		f(&o)
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxUsers
	}
	c := &UserCache{opts: o, byKey: map[string]*userEntry{}, building: map[string]*pendingEntry{}}
	c.lru.next, c.lru.prev = &c.lru, &c.lru
	return c
}

// Get returns key's credentials cache, building it from newProvider on first use (or after
// eviction). newProvider runs without the cache's lock, once per key however many callers
// wait for it; it should build the provider, not call AWS.
func (c *UserCache) Get(key string, newProvider func() aws.CredentialsProvider) *aws.CredentialsCache {
	for {
		c.mu.Lock()
		if e, ok := c.byKey[key]; ok {
			c.touch(e)
			c.mu.Unlock()
			return e.creds
		}
		if p, ok := c.building[key]; ok {
			c.mu.Unlock()
			if c.waitHook != nil {
				c.waitHook(key)
			}
			<-p.done
			if p.creds != nil {
				return p.creds
			}
			continue // the builder panicked; try ourselves
		}
		p := &pendingEntry{done: make(chan struct{})}
		c.building[key] = p
		c.mu.Unlock()
		return c.build(key, p, newProvider)
	}
}

func (c *UserCache) build(key string, p *pendingEntry, newProvider func() aws.CredentialsProvider) *aws.CredentialsCache {
	defer func() {
		c.mu.Lock()
		if c.building[key] == p {
			delete(c.building, key)
		}
		if p.creds != nil && !p.evicted {
			e := &userEntry{key: key, creds: p.creds}
			c.byKey[key] = e
			c.pushFront(e)
			for len(c.byKey) > c.opts.MaxEntries {
				oldest := c.lru.prev
				c.unlink(oldest)
				delete(c.byKey, oldest.key)
			}
		}
		c.mu.Unlock()
		close(p.done)
	}()
	p.creds = aws.NewCredentialsCache(newProvider(), func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = c.opts.ExpiryWindow
		o.ExpiryWindowJitterFrac = c.opts.ExpiryWindowJitterFrac
	})
	return p.creds
}

// Evict drops key's entry, for example at logout, so its credentials are not used again. A
// provider being built for key when Evict is called goes only to the Gets that began before
// Evict, and is not kept: a Get that begins after Evict returns builds a new provider (once,
// for all its concurrent callers) and never receives one built for before the Evict.
// Evicting a missing key does nothing.
func (c *UserCache) Evict(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[key]; ok {
		c.unlink(e)
		delete(c.byKey, key)
	}
	if p, ok := c.building[key]; ok {
		p.evicted = true
		delete(c.building, key)
	}
}

// Len returns the number of cached users.
func (c *UserCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byKey)
}

func (c *UserCache) touch(e *userEntry) {
	if c.lru.next != e {
		c.unlink(e)
		c.pushFront(e)
	}
}

func (c *UserCache) pushFront(e *userEntry) {
	e.prev, e.next = &c.lru, c.lru.next
	c.lru.next.prev = e
	c.lru.next = e
}

func (c *UserCache) unlink(e *userEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}
