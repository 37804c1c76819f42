package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pubauth/awsauth/tokenstore"
)

// DefaultPrefix is the prefix of every Redis key when Options.Prefix is empty.
const DefaultPrefix = "awsauth:"

// Options configures a Store.
type Options struct {
	// Prefix starts every Redis key the store writes; empty means
	// DefaultPrefix. It must not contain "{" or "}": the hash tag follows it.
	Prefix string

	// WaitReplicas, when above 0, makes every write (Set, Delete, Acquire,
	// Extend, Release, SetFenced, AddToIndex, RemoveFromIndex) wait until
	// that many replicas have acknowledged it: Redis's WAIT numreplicas
	// timeout, sent right after the write on its connection. A write that
	// fewer replicas acknowledge within WaitTimeout returns an error wrapping
	// ErrNotReplicated (it stays on the master). Reads do not wait.
	//
	// Redis replicates asynchronously: without WAIT, a master killed right
	// after a write is replaced (Sentinel, Cluster) by a replica that may
	// never have seen it. For authflow that loses a login, undoes a logout,
	// and, worst, loses a session record carrying a rotated refresh token or
	// the refresh lease guarding its redeem: the new master then offers the
	// spent refresh token, whose reuse makes a rotating provider revoke the
	// whole grant (RFC 9700 §4.14.2), and the user is signed out. With
	// WaitReplicas 1 a write that returned nil is on a replica too, so a
	// failover to that replica keeps it.
	//
	// The cost is the replica's acknowledgement per write: on loopback
	// (BenchmarkSetWaitReplicas, one replica, 2 cores) a 3 kB Set took 120 µs
	// instead of 53 µs and a SetFenced 188 µs instead of 113 µs; across a
	// network add a round trip to the replica. authflow writes on a login, a
	// logout, a refresh (once per access token lifetime per session) and an
	// idle-timeout touch, never on a plain signed-in read.
	//
	// 0, the default, sends no WAIT: a single server or one without replicas
	// would refuse every write otherwise. Set it to 1 (at most the number of
	// replicas minus one, so that writes continue after a failover leaves one
	// fewer) under Sentinel or Cluster with a provider that rotates refresh
	// tokens. Not supported with a redis.Ring (New returns an error).
	WaitReplicas int
	// WaitTimeout bounds each WAIT, in milliseconds on the wire; zero means
	// DefaultWaitTimeout. Keep it below the client's ReadTimeout (go-redis
	// reads a pipeline's replies within ReadTimeout, 3 s by default).
	WaitTimeout time.Duration
}

// Store is a tokenstore.Store, tokenstore.Locker and tokenstore.Indexer on
// Redis. It is safe for concurrent use; every call is one round trip (GET,
// SET, DEL, ZREM or one script), bounded by its ctx.
type Store struct {
	client       redis.UniversalClient
	prefix       string
	scripts      scripts
	waitReplicas int
	waitTimeout  time.Duration
}

var (
	_ tokenstore.Store   = (*Store)(nil)
	_ tokenstore.Locker  = (*Store)(nil)
	_ tokenstore.Indexer = (*Store)(nil)
)

// New returns a Store on client. The caller keeps ownership of client and
// closes it. New does no I/O. It returns an error when Prefix holds a brace,
// or for a negative WaitReplicas or WaitTimeout.
func New(client redis.UniversalClient, optFns ...func(*Options)) (*Store, error) {
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(o.Prefix, "{}") {
		return nil, errors.New("redisstore: Prefix must not contain { or }")
	}
	if client == nil {
		return nil, errors.New("redisstore: nil client")
	}
	if o.WaitReplicas < 0 || o.WaitTimeout < 0 {
		return nil, errors.New("redisstore: WaitReplicas and WaitTimeout must not be negative")
	}
	if _, ok := client.(*redis.Ring); ok && o.WaitReplicas > 0 {
		return nil, errors.New("redisstore: WaitReplicas is not supported with a redis.Ring")
	}
	if o.WaitTimeout == 0 {
		o.WaitTimeout = DefaultWaitTimeout
	}
	return &Store{client: client, prefix: o.Prefix, scripts: newScripts(),
		waitReplicas: o.WaitReplicas, waitTimeout: o.WaitTimeout}, nil
}

// hashTag returns the slot tag of key, as the package doc lays out.
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	seg := key[strings.LastIndexByte(key, '/')+1:]
	if seg == "" {
		return "_"
	}
	return seg
}

func (s *Store) entryKey(key string) string {
	return s.prefix + "{" + hashTag(key) + "}:e:" + key
}

func (s *Store) leaseKey(name string) string {
	return s.prefix + "{" + hashTag(name) + "}:l:" + name
}

// Get returns the value stored under key, or tokenstore.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v, err := s.client.Get(ctx, s.entryKey(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, tokenstore.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("redisstore: get: %w", err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// Set stores value under key until expiry (SET with PXAT; none for a zero
// expiry). An expiry already past deletes key.
func (s *Store) Set(ctx context.Context, key string, value []byte, expiry time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k := s.entryKey(key)
	cmd, werr := s.run(ctx, k, func(c commander, _ bool) redis.Cmder {
		switch {
		case expiry.IsZero():
			return c.Set(ctx, k, value, 0)
		case !expiry.After(time.Now()):
			return c.Del(ctx, k)
		default:
			// go-redis's SetArgs.ExpireAt sends EXAT, whole seconds: PXAT
			// keeps milliseconds.
			return c.Do(ctx, "SET", k, value, "PXAT", expiry.UnixMilli())
		}
	})
	if err := cmp(cmd.Err(), werr); err != nil {
		return fmt.Errorf("redisstore: set: %w", err)
	}
	return nil
}

// Delete removes key. Deleting a missing key returns nil.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k := s.entryKey(key)
	cmd, werr := s.run(ctx, k, func(c commander, _ bool) redis.Cmder { return c.Del(ctx, k) })
	if err := cmp(cmd.Err(), werr); err != nil {
		return fmt.Errorf("redisstore: delete: %w", err)
	}
	return nil
}

// cmp returns a write's error, else its WAIT's.
func cmp(err, werr error) error {
	if err != nil {
		return err
	}
	return werr
}
