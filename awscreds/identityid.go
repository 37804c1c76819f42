package awscreds

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pubauth/awsauth/tokenstore"
)

// DefaultIdentityIDTTL is how long a cached identity id is kept when
// IdentityPoolOptions.IdentityIDTTL is zero. An identity id does not change for a given login;
// the TTL only bounds how long a deleted identity lingers in the store.
const DefaultIdentityIDTTL = 30 * 24 * time.Hour

// identityIDKeyPrefix starts every store key awscreds writes, so the identity ids can share a
// store with authflow's sessions.
const identityIDKeyPrefix = "awscreds/identity-id/"

// validIdentityID is Cognito's IdentityId pattern and length: REGION:GUID, at most 55 bytes.
var validIdentityID = regexp.MustCompile(`^[\w-]+:[0-9a-f-]+$`)

func isIdentityID(s string) bool { return len(s) <= 55 && validIdentityID.MatchString(s) }

// identityKey names one user of one pool: the pool id, then each Logins provider name with
// the user's id at that provider (the token's sub, or a developer user identifier), sorted by
// provider. It is hashed so that no user id appears in the store's keys. ok is false when a
// token yields no sub, or a provider name or user id contains NUL: such a user can't be named,
// and the id is not stored.
func identityKey(poolID string, users map[string]string) (key string, ok bool) {
	if len(users) == 0 {
		return "", false
	}
	for provider, user := range users {
		// NUL separates the parts below, which keeps the encoding injective only while no
		// part contains one. A pool id can't; a JSON sub ("\u0000") and a LoginsFunc's
		// provider name can, and {"p": "a\x00q\x00b"} would otherwise name the user of
		// {"p": "a", "q": "b"}.
		if strings.IndexByte(provider, 0) >= 0 || strings.IndexByte(user, 0) >= 0 {
			return "", false
		}
	}
	h := sha256.New()
	h.Write([]byte(poolID))
	for _, provider := range slices.Sorted(maps.Keys(users)) {
		h.Write([]byte{0})
		h.Write([]byte(provider))
		h.Write([]byte{0})
		h.Write([]byte(users[provider]))
	}
	return identityIDKeyPrefix + base64.RawURLEncoding.EncodeToString(h.Sum(nil)), true
}

// usersOf returns each Logins provider's sub, or ok=false when a token is not a JWT with one
// or a provider name or sub contains NUL (see identityKey).
func usersOf(logins map[string]string) (map[string]string, bool) {
	users := make(map[string]string, len(logins))
	for provider, token := range logins {
		sub, err := subjectFromIDToken(token)
		if err != nil || strings.IndexByte(provider, 0) >= 0 || strings.IndexByte(sub, 0) >= 0 {
			return nil, false
		}
		users[provider] = sub
	}
	return users, true
}

// identityCache keeps one provider's identity id in memory, and in the store under the user's
// key when there is one. A store that fails is logged and bypassed: GetId returns the same id
// for the same login, so a miss costs a call, never a wrong answer.
type identityCache struct {
	store  tokenstore.Store
	ttl    time.Duration
	logger *slog.Logger

	mu  sync.Mutex
	key string // the key id belongs to; "" for a guest or an unnamed user
	id  string
}

// get returns the cached identity id for key, from memory, then the store.
func (c *identityCache) get(ctx context.Context, key string) string {
	c.mu.Lock()
	if c.id != "" && c.key == key {
		id := c.id
		c.mu.Unlock()
		return id
	}
	c.mu.Unlock()
	if key == "" || c.store == nil {
		return ""
	}
	b, err := c.store.Get(ctx, key)
	switch {
	case errors.Is(err, tokenstore.ErrNotFound):
		return ""
	case err != nil:
		c.logger.WarnContext(ctx, "awscreds: identity id store read failed; calling GetId", "error", err)
		return ""
	}
	id := string(b)
	if !isIdentityID(id) {
		c.logger.WarnContext(ctx, "awscreds: ignoring a stored identity id that is not REGION:GUID", "key", key)
		return ""
	}
	c.remember(key, id)
	return id
}

// put records id for key in memory and the store.
func (c *identityCache) put(ctx context.Context, key, id string) {
	c.remember(key, id)
	if key == "" || c.store == nil {
		return
	}
	if err := c.store.Set(ctx, key, []byte(id), time.Now().Add(c.ttl)); err != nil {
		c.logger.WarnContext(ctx, "awscreds: identity id store write failed", "error", err)
	}
}

func (c *identityCache) remember(key, id string) {
	c.mu.Lock()
	c.key, c.id = key, id
	c.mu.Unlock()
}
