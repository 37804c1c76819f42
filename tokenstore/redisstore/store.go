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
}

// Store is a tokenstore.Store, tokenstore.Locker and tokenstore.Indexer on
// Redis. It is safe for concurrent use; every call is one round trip (GET,
// SET, DEL, ZREM or one script), bounded by its ctx.
type Store struct {
	client  redis.UniversalClient
	prefix  string
	scripts scripts
}

var (
	_ tokenstore.Store   = (*Store)(nil)
	_ tokenstore.Locker  = (*Store)(nil)
	_ tokenstore.Indexer = (*Store)(nil)
)

// New returns a Store on client. The caller keeps ownership of client and
// closes it. New does no I/O. It returns an error when Prefix holds a brace.
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
	return &Store{client: client, prefix: o.Prefix, scripts: newScripts()}, nil
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
	var err error
	switch {
	case expiry.IsZero():
		err = s.client.Set(ctx, k, value, 0).Err()
	case !expiry.After(time.Now()):
		err = s.client.Del(ctx, k).Err()
	default:
		// go-redis's SetArgs.ExpireAt sends EXAT, whole seconds: PXAT keeps
		// milliseconds.
		err = s.client.Do(ctx, "SET", k, value, "PXAT", expiry.UnixMilli()).Err()
	}
	if err != nil {
		return fmt.Errorf("redisstore: set: %w", err)
	}
	return nil
}

// Delete removes key. Deleting a missing key returns nil.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.client.Del(ctx, s.entryKey(key)).Err(); err != nil {
		return fmt.Errorf("redisstore: delete: %w", err)
	}
	return nil
}
