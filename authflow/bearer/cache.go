package bearer

import (
	"hash/maphash"
	"sync"
	"time"
)

// DefaultCacheSize is Config.CacheSize's default: at about 3 KB
// per entry (token, claims), about 12 MB when full.
const DefaultCacheSize = 4096

// tokenCache remembers tokens that passed every check but the per-request
// Requirements, so a repeated token skips the signature. It is indexed by a
// keyed hash (hash/maphash, a random seed per cache, so a client can't aim
// collisions) and compares the whole token, so a collision only costs a
// verification. An entry is never served at or after its token's exp.
type tokenCache struct {
	seed maphash.Seed
	max  int

	mu sync.RWMutex
	m  map[uint64]cacheEntry
}

type cacheEntry struct {
	token  string
	claims *Claims
	exp    time.Time
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{seed: maphash.MakeSeed(), max: max, m: make(map[uint64]cacheEntry, min(max, 1024))}
}

func (c *tokenCache) get(token string, now time.Time) *Claims {
	h := maphash.String(c.seed, token)
	c.mu.RLock()
	e, ok := c.m[h]
	c.mu.RUnlock()
	if !ok || e.token != token || !now.Before(e.exp) {
		return nil
	}
	return e.claims
}

// evictScan bounds the work of one put on a full cache.
const evictScan = 8

func (c *tokenCache) put(token string, claims *Claims, now time.Time) {
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
	c.m[h] = cacheEntry{token: token, claims: claims, exp: claims.Expiry}
}

func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
