package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pubauth/awsauth/tokenstore/internal/indexrule"
)

// An index is a sorted set whose scores are the members' expiries in Unix
// milliseconds ("+inf": never). The scripts read the server's clock, as the
// lease scripts do, and Redis orders equal scores by member, byte by byte.
const luaNowMillis = luaNow + `
local nowms = num(math.floor(now / 1000))
`

// addToIndex: KEYS[1] index; ARGV[1] member, ARGV[2] expiry in Unix ms
// ('0' for none), ARGV[3] limit. Returns the evicted members.
const addToIndexLua = luaNowMillis + `
local member, limit = ARGV[1], tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', nowms)
local score = ARGV[2]
if score == '0' then
  score = '+inf'
elseif tonumber(score) <= tonumber(nowms) then
  redis.call('ZREM', KEYS[1], member)
  return {}
end
local others = redis.call('ZCARD', KEYS[1])
if redis.call('ZSCORE', KEYS[1], member) then others = others - 1 end
local n = others - (limit - 1)
local evicted = {}
if n > 0 then
  for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, n)) do
    if m ~= member and #evicted < n then evicted[#evicted + 1] = m end
  end
  redis.call('ZREM', KEYS[1], unpack(evicted))
end
redis.call('ZADD', KEYS[1], score, member)
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]
if last == 'inf' then
  redis.call('PERSIST', KEYS[1])
else
  redis.call('PEXPIREAT', KEYS[1], last)
end
return evicted
`

// index: KEYS[1] index. Returns the live members, soonest expiry first.
const indexLua = luaNowMillis + `
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. nowms, '+inf')
`

func (s *Store) indexKey(index string) string {
	return s.prefix + "{" + hashTag(index) + "}:i:" + index
}

// AddToIndex adds member to index until expiry, evicting the members that
// expire soonest beyond limit, as tokenstore.Indexer documents: one script,
// atomic on the server and timed by its clock.
func (s *Store) AddToIndex(ctx context.Context, index, member string, expiry time.Time, limit int) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := indexrule.Check(member, limit); err != nil {
		return nil, fmt.Errorf("redisstore: add to index: %w", err)
	}
	var at int64
	if !expiry.IsZero() {
		at = max(expiry.UnixMilli(), 1) // 0 means none; 1 ms after 1970 is long past
	}
	cmd, werr := s.script(ctx, s.scripts.addToIndex, []string{s.indexKey(index)}, member, at, limit)
	evicted, err := cmd.StringSlice()
	if err := cmp(err, werr); err != nil {
		return nil, fmt.Errorf("redisstore: add to index: %w", err)
	}
	if len(evicted) == 0 {
		return nil, nil
	}
	return evicted, nil
}

// RemoveFromIndex removes member from index (ZREM). Removing a member that is
// not there returns nil.
func (s *Store) RemoveFromIndex(ctx context.Context, index, member string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k := s.indexKey(index)
	cmd, werr := s.run(ctx, k, func(c commander, _ bool) redis.Cmder { return c.ZRem(ctx, k, member) })
	if err := cmp(cmd.Err(), werr); err != nil {
		return fmt.Errorf("redisstore: remove from index: %w", err)
	}
	return nil
}

// Index returns the live members of index, soonest expiry first.
func (s *Store) Index(ctx context.Context, index string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	members, err := s.scripts.index.Run(ctx, s.client, []string{s.indexKey(index)}).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("redisstore: index: %w", err)
	}
	return members, nil
}
