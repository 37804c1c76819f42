package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pubauth/awsauth/tokenstore"
)

// The scripts read the server's clock (TIME) and keep times as Unix
// microseconds. Lua numbers are doubles: today's microseconds (about 1.8e15)
// are exact, far below 2^53, and %.0f prints them without an exponent.
const luaNow = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local function num(x) return string.format('%.0f', x) end
`

// acquire: KEYS[1] lease; ARGV[1] ttl in µs. Returns {token, expiry} or nil
// while a live lease is held.
const acquireLua = luaNow + `
local ttl = tonumber(ARGV[1])
local h = redis.call('HMGET', KEYS[1], 't', 'x')
local tok = now
if h[1] then
  if tonumber(h[2]) > now then return false end
  local nxt = tonumber(h[1]) + 1
  if nxt > tok then tok = nxt end
end
local exp = now + ttl
redis.call('HSET', KEYS[1], 't', num(tok), 'x', num(exp))
redis.call('PEXPIRE', KEYS[1], math.ceil(ttl / 1000))
return {num(tok), num(exp)}
`

// extend: KEYS[1] lease; ARGV[1] token, ARGV[2] ttl in µs. Returns the new
// expiry, or nil when the lease is not current.
const extendLua = luaNow + `
local h = redis.call('HMGET', KEYS[1], 't', 'x')
if h[1] ~= ARGV[1] or tonumber(h[2]) <= now then return false end
local ttl = tonumber(ARGV[2])
local exp = now + ttl
redis.call('HSET', KEYS[1], 'x', num(exp))
redis.call('PEXPIRE', KEYS[1], math.ceil(ttl / 1000))
return num(exp)
`

// release: KEYS[1] lease; ARGV[1] token. The hash stays until its expiry, so
// the next grant still counts on from its token.
const releaseLua = `
if redis.call('HGET', KEYS[1], 't') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'x', '0')
end
return 1
`

// setFenced: KEYS[1] lease, KEYS[2] entry; ARGV[1] token, ARGV[2] value,
// ARGV[3] expiry in Unix ms ('0' for none). Returns 1 if written (or deleted,
// for an expiry already past), 0 when the lease is not current.
const setFencedLua = luaNow + `
local h = redis.call('HMGET', KEYS[1], 't', 'x')
if h[1] ~= ARGV[1] or tonumber(h[2]) <= now then return 0 end
local at = tonumber(ARGV[3])
if at == 0 then
  redis.call('SET', KEYS[2], ARGV[2])
elseif at * 1000 <= now then
  redis.call('DEL', KEYS[2])
else
  redis.call('SET', KEYS[2], ARGV[2], 'PXAT', ARGV[3])
end
return 1
`

type scripts struct {
	acquire, extend, release, setFenced *redis.Script
	addToIndex, index                   *redis.Script // index.go
}

func newScripts() scripts {
	return scripts{
		acquire:    redis.NewScript(acquireLua),
		extend:     redis.NewScript(extendLua),
		release:    redis.NewScript(releaseLua),
		setFenced:  redis.NewScript(setFencedLua),
		addToIndex: redis.NewScript(addToIndexLua),
		index:      redis.NewScript(indexLua),
	}
}

// ttlMicros checks a lease ttl: at least a millisecond, Redis's expiry unit.
func ttlMicros(ttl time.Duration) (int64, error) {
	if ttl < time.Millisecond {
		return 0, errors.New("redisstore: lease ttl must be at least 1ms")
	}
	return ttl.Microseconds(), nil
}

// Acquire grants a lease on name for ttl (at least 1 ms), or returns
// tokenstore.ErrLeaseHeld while a live lease on name exists. Expiry is in
// the server's clock.
func (s *Store) Acquire(ctx context.Context, name string, ttl time.Duration) (tokenstore.Lease, error) {
	if err := ctx.Err(); err != nil {
		return tokenstore.Lease{}, err
	}
	us, err := ttlMicros(ttl)
	if err != nil {
		return tokenstore.Lease{}, err
	}
	cmd, werr := s.script(ctx, s.scripts.acquire, []string{s.leaseKey(name)}, us)
	res, err := cmd.StringSlice()
	if errors.Is(err, redis.Nil) {
		return tokenstore.Lease{}, tokenstore.ErrLeaseHeld
	}
	if err == nil && werr != nil && len(res) == 2 {
		// Granted on the master only: a failover could hand the name to
		// someone else, so give it back rather than act under it.
		_, _ = s.script(context.WithoutCancel(ctx), s.scripts.release, []string{s.leaseKey(name)}, res[0])
		err = werr
	}
	if err != nil {
		return tokenstore.Lease{}, fmt.Errorf("redisstore: acquire: %w", err)
	}
	if len(res) != 2 {
		return tokenstore.Lease{}, fmt.Errorf("redisstore: acquire: unexpected reply %q", res)
	}
	tok, err1 := strconv.ParseUint(res[0], 10, 64)
	exp, err2 := strconv.ParseInt(res[1], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return tokenstore.Lease{}, fmt.Errorf("redisstore: acquire: %w", err)
	}
	return tokenstore.Lease{Name: name, Token: tok, Expiry: time.UnixMicro(exp)}, nil
}

// Extend renews lease for ttl from now, or returns tokenstore.ErrLeaseLost
// when it has lapsed, been released or been superseded.
func (s *Store) Extend(ctx context.Context, lease tokenstore.Lease, ttl time.Duration) (tokenstore.Lease, error) {
	if err := ctx.Err(); err != nil {
		return tokenstore.Lease{}, err
	}
	us, err := ttlMicros(ttl)
	if err != nil {
		return tokenstore.Lease{}, err
	}
	cmd, werr := s.script(ctx, s.scripts.extend, []string{s.leaseKey(lease.Name)},
		strconv.FormatUint(lease.Token, 10), us)
	res, err := cmd.Text()
	if errors.Is(err, redis.Nil) {
		return tokenstore.Lease{}, tokenstore.ErrLeaseLost
	}
	if err := cmp(err, werr); err != nil {
		return tokenstore.Lease{}, fmt.Errorf("redisstore: extend: %w", err)
	}
	exp, err := strconv.ParseInt(res, 10, 64)
	if err != nil {
		return tokenstore.Lease{}, fmt.Errorf("redisstore: extend: %w", err)
	}
	lease.Expiry = time.UnixMicro(exp)
	return lease, nil
}

// Release ends lease if it is still current; otherwise it does nothing and
// returns nil.
func (s *Store) Release(ctx context.Context, lease tokenstore.Lease) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cmd, werr := s.script(ctx, s.scripts.release, []string{s.leaseKey(lease.Name)},
		strconv.FormatUint(lease.Token, 10))
	if err := cmp(cmd.Err(), werr); err != nil {
		return fmt.Errorf("redisstore: release: %w", err)
	}
	return nil
}

// SetFenced is Set, done atomically with the check that lease is current;
// otherwise it writes nothing and returns tokenstore.ErrLeaseLost. On a Redis
// Cluster the lease name and key must share a hash tag (see the package doc).
func (s *Store) SetFenced(ctx context.Context, lease tokenstore.Lease, key string, value []byte, expiry time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var at int64
	if !expiry.IsZero() {
		at = max(expiry.UnixMilli(), 1) // 0 means none; 1 ms after 1970 is long past
	}
	cmd, werr := s.script(ctx, s.scripts.setFenced,
		[]string{s.leaseKey(lease.Name), s.entryKey(key)},
		strconv.FormatUint(lease.Token, 10), value, at)
	n, err := cmd.Int()
	if err != nil {
		return fmt.Errorf("redisstore: set fenced: %w", err)
	}
	if n != 1 {
		return tokenstore.ErrLeaseLost
	}
	if werr != nil {
		return fmt.Errorf("redisstore: set fenced: %w", werr)
	}
	return nil
}
