package bearer

import (
	"hash/maphash"
	"sync"
	"time"
)

// DefaultCacheSize is Config.CacheSize's default: at about 3 KB
// per entry (token, claims), about 12 MB when full.
const DefaultCacheSize = 4096

// tokenCache remembers a value per token until a time no later than the
// token's exp: the claims of verified tokens (the Verifier's cache), the
// answers of online revocation checks (RevocationCheck's). It is indexed by
// a keyed hash (hash/maphash, a random seed per cache, so a client can't aim
// collisions) and compares the whole token, so a collision only costs a
// miss. An entry is never served at or after its expiry, and the cache holds
// at most max entries.
type tokenCache[V any] struct {
	seed maphash.Seed
	max  int

	mu sync.RWMutex
	m  map[uint64]cacheEntry[V]
}

type cacheEntry[V any] struct {
	token string
	val   V
	exp   time.Time
}

func newTokenCache[V any](max int) *tokenCache[V] {
	return &tokenCache[V]{seed: maphash.MakeSeed(), max: max, m: make(map[uint64]cacheEntry[V], min(max, 1024))}
}

// get returns the value cached for token, and false when there is none
// or it expired by now.
func (c *tokenCache[V]) get(token string, now time.Time) (V, bool) {
	h := maphash.String(c.seed, token)
	c.mu.RLock()
	e, ok := c.m[h]
	c.mu.RUnlock()
	if !ok || e.token != token || !now.Before(e.exp) {
		var zero V
		return zero, false
	}
	return e.val, true
}

// evictScan bounds the work of one put on a full cache.
const evictScan = 8

// put caches v for token until exp (the caller bounds exp by the token's
// own); an exp not after now stores nothing.
func (c *tokenCache[V]) put(token string, v V, exp, now time.Time) {
	if !now.Before(exp) {
		return
	}
	h := maphash.String(c.seed, token)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[h]; !ok && len(c.m) >= c.max {
		// Drop expired entries among a few, else the first seen: map order
		// is unspecified and varies, which makes this a cheap random eviction.
		n, victim, found := 0, uint64(0), false
		for k, e := range c.m {
			if !now.Before(e.exp) {
				delete(c.m, k)
			} else if !found {
				victim, found = k, true
			}
			if n++; n >= evictScan {
				break
			}
		}
		if len(c.m) >= c.max && found {
			delete(c.m, victim)
		}
	}
	c.m[h] = cacheEntry[V]{token: token, val: v, exp: exp}
}

func (c *tokenCache[V]) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
