// Package redisstore is a tokenstore.Store, tokenstore.Locker and
// tokenstore.Indexer on Redis,
// through go-redis v9's redis.UniversalClient: a single server, Sentinel
// (redis.NewFailoverClient) or Cluster (redis.NewClusterClient).
//
// # Key layout
//
// Every Redis key is Prefix (default "awsauth:"), a hash tag, a kind and the
// store key or lease name, unescaped:
//
//	awsauth:{TAG}:e:KEY    an entry: a Redis string holding the value, with
//	                       the entry's expiry as the key's PXAT (none for a
//	                       zero expiry)
//	awsauth:{TAG}:l:NAME   a lease: a hash with t (the fencing token) and
//	                       x (the lease's expiry, Unix microseconds in the
//	                       server's clock; 0 once released)
//	awsauth:{TAG}:i:INDEX  an index: a sorted set of the members, each scored
//	                       by its expiry in Unix milliseconds (+inf: never),
//	                       with the key's PEXPIREAT at the last of them
//
// TAG is the key's own Redis Cluster hash tag when it has one (the text
// between its first "{" and the next "}", if not empty), and otherwise its
// last "/"-separated segment ("_" if that is empty). Redis Cluster hashes only
// the tag, so a lease and the keys it fences land in one slot, as the atomic
// SetFenced needs, whenever they share a tag: authflow's lease
// "awsauth/refresh/awsauth/session/ID" and session "awsauth/session/ID" share
// their last segment. A SetFenced whose lease and key hash to different slots
// fails on a Cluster with Redis's CROSSSLOT error; on a single server or under
// Sentinel any pair works.
//
// # Leases and fencing tokens
//
// Acquire, Extend, Release and SetFenced are Lua scripts (redis.NewScript), so
// each is one atomic step on the server, timed by the server's clock (TIME).
// A fencing token is the grant's time in microseconds, or the previous token
// plus one when that is larger: while a lease's key lives (until its expiry,
// even after Release) the next token is at least the last plus one, and once
// it is gone the server's clock has passed the last grant. Tokens therefore
// grow per name as long as the server's clock (after a failover, the new
// primary's) does not step back by more than a lease's ttl.
//
// # Indexes
//
// AddToIndex is one script: it drops the index's expired members, evicts the
// soonest to expire beyond the limit, adds the member and sets the key's
// expiry; Index is a script that lists the members scored after the server's
// now; RemoveFromIndex is a ZREM. Each touches one key, so an index works on
// a Cluster whatever its name.
//
// # Replication
//
// Redis replicates asynchronously: a write acknowledged by a master that is
// then killed may be missing on the replica Sentinel or Cluster promotes.
// Options.WaitReplicas makes every write wait for replicas (WAIT) and fail
// with ErrNotReplicated when too few acknowledge; it is off by default. Give
// the client retries that span a failover (go-redis FailoverOptions
// MaxRetries and MaxRetryBackoff; each call stays bounded by its ctx), so
// that a write begun just before the master died lands on the new one.
//
// Entries expire by Redis's own key expiry (millisecond resolution); Redis
// frees expired keys itself, so nothing needs purging.
package redisstore
