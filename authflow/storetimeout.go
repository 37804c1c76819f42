package authflow

import (
	"context"
	"fmt"
	"time"

	"github.com/pubauth/awsauth/tokenstore"
)

// boundStore returns store with every operation bounded by d
// (Config.StoreTimeout): the one place the bound is applied. The result
// implements tokenstore.Locker and tokenstore.Indexer exactly when store
// does.
func boundStore(store tokenstore.Store, d time.Duration) tokenstore.Store {
	b := &bounded{Store: store, d: d}
	l, locker := store.(tokenstore.Locker)
	x, indexer := store.(tokenstore.Indexer)
	switch {
	case locker && indexer:
		return boundedLockerIndexer{&boundedLocker{b, l}, &boundedIndexer{x, d}}
	case locker:
		return &boundedLocker{b, l}
	case indexer:
		return boundedStoreIndexer{b, &boundedIndexer{x, d}}
	}
	return b
}

// within runs op with ctx bounded by d and returns at the bound even when op
// does not: a client that ignores its context (go-redis by default) can't
// hold the caller. The abandoned op sees its context cancelled and ends when
// its client gives up; its result is dropped.
func within[T any](parent context.Context, d time.Duration, name string, op func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(parent, d)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := op(ctx)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		if err := parent.Err(); err != nil { // the caller's own deadline or cancellation
			return zero, fmt.Errorf("authflow: store %s: %w", name, err)
		}
		return zero, fmt.Errorf("authflow: store %s: no answer within StoreTimeout (%v): %w", name, d, ctx.Err())
	}
}

type bounded struct {
	tokenstore.Store
	d time.Duration
}

func (s *bounded) Get(ctx context.Context, key string) ([]byte, error) {
	return within(ctx, s.d, "get", func(ctx context.Context) ([]byte, error) { return s.Store.Get(ctx, key) })
}

func (s *bounded) Set(ctx context.Context, key string, value []byte, expiry time.Time) error {
	_, err := within(ctx, s.d, "set", func(ctx context.Context) (struct{}, error) {
		return struct{}{}, s.Store.Set(ctx, key, value, expiry)
	})
	return err
}

func (s *bounded) Delete(ctx context.Context, key string) error {
	_, err := within(ctx, s.d, "delete", func(ctx context.Context) (struct{}, error) {
		return struct{}{}, s.Store.Delete(ctx, key)
	})
	return err
}

type boundedLocker struct {
	*bounded
	l tokenstore.Locker
}

func (s *boundedLocker) Acquire(ctx context.Context, name string, ttl time.Duration) (tokenstore.Lease, error) {
	return within(ctx, s.d, "acquire", func(ctx context.Context) (tokenstore.Lease, error) { return s.l.Acquire(ctx, name, ttl) })
}

func (s *boundedLocker) Extend(ctx context.Context, lease tokenstore.Lease, ttl time.Duration) (tokenstore.Lease, error) {
	return within(ctx, s.d, "extend", func(ctx context.Context) (tokenstore.Lease, error) { return s.l.Extend(ctx, lease, ttl) })
}

func (s *boundedLocker) Release(ctx context.Context, lease tokenstore.Lease) error {
	_, err := within(ctx, s.d, "release", func(ctx context.Context) (struct{}, error) {
		return struct{}{}, s.l.Release(ctx, lease)
	})
	return err
}

func (s *boundedLocker) SetFenced(ctx context.Context, lease tokenstore.Lease, key string, value []byte, expiry time.Time) error {
	_, err := within(ctx, s.d, "set fenced", func(ctx context.Context) (struct{}, error) {
		return struct{}{}, s.l.SetFenced(ctx, lease, key, value, expiry)
	})
	return err
}

type boundedIndexer struct {
	x tokenstore.Indexer
	d time.Duration
}

func (s *boundedIndexer) AddToIndex(ctx context.Context, index, member string, expiry time.Time, limit int) ([]string, error) {
	return within(ctx, s.d, "add to index", func(ctx context.Context) ([]string, error) {
		return s.x.AddToIndex(ctx, index, member, expiry, limit)
	})
}

func (s *boundedIndexer) RemoveFromIndex(ctx context.Context, index, member string) error {
	_, err := within(ctx, s.d, "remove from index", func(ctx context.Context) (struct{}, error) {
		return struct{}{}, s.x.RemoveFromIndex(ctx, index, member)
	})
	return err
}

func (s *boundedIndexer) Index(ctx context.Context, index string) ([]string, error) {
	return within(ctx, s.d, "index", func(ctx context.Context) ([]string, error) { return s.x.Index(ctx, index) })
}

// The bounded store is a Locker and an Indexer exactly when the inner one is.
type (
	boundedStoreIndexer struct {
		*bounded
		*boundedIndexer
	}
	boundedLockerIndexer struct {
		*boundedLocker
		*boundedIndexer
	}
)

var (
	_ tokenstore.Locker  = boundedLockerIndexer{}
	_ tokenstore.Indexer = boundedLockerIndexer{}
	_ tokenstore.Indexer = boundedStoreIndexer{}
)
