package tokenstore

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/pubauth/awsauth/internal/telemetry"
)

// Instrument returns store with the latency of each of its operations recorded in mp's
// histogram awsauth.store.operation.duration (seconds), with the attribute
// awsauth.store.operation (get, set, delete; acquire, extend, release, set_fenced for a
// Locker) and, when the operation failed, error.type (not_found, lease_held, lease_lost or
// _OTHER), and add_to_index, remove_from_index and index for an Indexer. Keys, values, index
// names and members are never recorded. The result implements Locker and Indexer exactly when
// store does.
// A nil mp returns store itself. authflow.Config.MeterProvider instruments the login flow's
// store this way; wrap a store only once.
func Instrument(store Store, mp metric.MeterProvider) Store {
	if mp == nil || store == nil {
		return store
	}
	m := telemetry.Meter(mp, "tokenstore")
	t := &storeTelemetry{
		duration: telemetry.Duration(m, "awsauth.store.operation.duration", "Duration of one token store operation."),
		opts:     map[storeOpKey]metric.MeasurementOption{},
	}
	for _, op := range []string{"get", "set", "delete", "acquire", "extend", "release", "set_fenced", "add_to_index", "remove_from_index", "index"} {
		for _, typ := range []string{"", "not_found", "lease_held", "lease_lost", telemetry.OtherError} {
			attrs := []attribute.KeyValue{storeOperation.String(op)}
			if typ != "" {
				attrs = append(attrs, telemetry.ErrorType.String(typ))
			}
			t.opts[storeOpKey{op, typ}] = telemetry.Attrs(attrs...)
		}
	}
	s := &instrumented{Store: store, t: t}
	x, indexer := store.(Indexer)
	if l, ok := store.(Locker); ok {
		sl := &instrumentedLocker{instrumented: s, locker: l}
		if indexer {
			return instrumentedLockerIndexer{instrumentedLocker: sl, timedIndexer: &timedIndexer{x: x, t: t}}
		}
		return sl
	}
	if indexer {
		return instrumentedIndexer{instrumented: s, timedIndexer: &timedIndexer{x: x, t: t}}
	}
	return s
}

const storeOperation = attribute.Key("awsauth.store.operation")

type storeOpKey struct{ op, typ string }

type storeTelemetry struct {
	duration metric.Float64Histogram
	opts     map[storeOpKey]metric.MeasurementOption // built once: recording allocates nothing
}

func (t *storeTelemetry) record(ctx context.Context, op string, start time.Time, err error) {
	typ := ""
	switch {
	case err == nil:
	case errors.Is(err, ErrNotFound):
		typ = "not_found"
	case errors.Is(err, ErrLeaseHeld):
		typ = "lease_held"
	case errors.Is(err, ErrLeaseLost):
		typ = "lease_lost"
	default:
		typ = telemetry.OtherError
	}
	t.duration.Record(ctx, telemetry.Since(start), t.opts[storeOpKey{op, typ}])
}

type instrumented struct {
	Store
	t *storeTelemetry
}

func (s *instrumented) Get(ctx context.Context, key string) ([]byte, error) {
	start := time.Now()
	b, err := s.Store.Get(ctx, key)
	s.t.record(ctx, "get", start, err)
	return b, err
}

func (s *instrumented) Set(ctx context.Context, key string, value []byte, expiry time.Time) error {
	start := time.Now()
	err := s.Store.Set(ctx, key, value, expiry)
	s.t.record(ctx, "set", start, err)
	return err
}

func (s *instrumented) Delete(ctx context.Context, key string) error {
	start := time.Now()
	err := s.Store.Delete(ctx, key)
	s.t.record(ctx, "delete", start, err)
	return err
}

type instrumentedLocker struct {
	*instrumented
	locker Locker
}

var _ Locker = (*instrumentedLocker)(nil)

func (s *instrumentedLocker) Acquire(ctx context.Context, name string, ttl time.Duration) (Lease, error) {
	start := time.Now()
	l, err := s.locker.Acquire(ctx, name, ttl)
	s.t.record(ctx, "acquire", start, err)
	return l, err
}

func (s *instrumentedLocker) Extend(ctx context.Context, lease Lease, ttl time.Duration) (Lease, error) {
	start := time.Now()
	l, err := s.locker.Extend(ctx, lease, ttl)
	s.t.record(ctx, "extend", start, err)
	return l, err
}

func (s *instrumentedLocker) Release(ctx context.Context, lease Lease) error {
	start := time.Now()
	err := s.locker.Release(ctx, lease)
	s.t.record(ctx, "release", start, err)
	return err
}

func (s *instrumentedLocker) SetFenced(ctx context.Context, lease Lease, key string, value []byte, expiry time.Time) error {
	start := time.Now()
	err := s.locker.SetFenced(ctx, lease, key, value, expiry)
	s.t.record(ctx, "set_fenced", start, err)
	return err
}

// timedIndexer times an Indexer's operations (add_to_index, remove_from_index, index).
type timedIndexer struct {
	x Indexer
	t *storeTelemetry
}

func (i *timedIndexer) AddToIndex(ctx context.Context, index, member string, expiry time.Time, limit int) ([]string, error) {
	start := time.Now()
	evicted, err := i.x.AddToIndex(ctx, index, member, expiry, limit)
	i.t.record(ctx, "add_to_index", start, err)
	return evicted, err
}

func (i *timedIndexer) RemoveFromIndex(ctx context.Context, index, member string) error {
	start := time.Now()
	err := i.x.RemoveFromIndex(ctx, index, member)
	i.t.record(ctx, "remove_from_index", start, err)
	return err
}

func (i *timedIndexer) Index(ctx context.Context, index string) ([]string, error) {
	start := time.Now()
	members, err := i.x.Index(ctx, index)
	i.t.record(ctx, "index", start, err)
	return members, err
}

// The instrumented store is an Indexer exactly when the inner store is one.
type (
	instrumentedIndexer struct {
		*instrumented
		*timedIndexer
	}
	instrumentedLockerIndexer struct {
		*instrumentedLocker
		*timedIndexer
	}
)

var (
	_ Indexer = instrumentedIndexer{}
	_ Indexer = instrumentedLockerIndexer{}
	_ Locker  = instrumentedLockerIndexer{}
)
