package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/pubauth/awsauth/tokenstore"
)

// token converts a fencing token to the bigint column; tokens above
// MaxInt64 were never granted, so they match no row.
func token(t uint64) int64 {
	if t > math.MaxInt64 {
		return -1
	}
	return int64(t)
}

// Acquire grants a lease on name for ttl (at least a microsecond), or returns
// tokenstore.ErrLeaseHeld while a live lease on name exists. Expiry is in the
// database server's clock.
func (s *Store) Acquire(ctx context.Context, name string, ttl time.Duration) (tokenstore.Lease, error) {
	if err := ctx.Err(); err != nil {
		return tokenstore.Lease{}, err
	}
	if ttl < time.Microsecond {
		return tokenstore.Lease{}, errors.New("sqlstore: lease ttl must be at least 1µs")
	}
	var tok, exp int64
	err := s.db.QueryRowContext(ctx, s.q.acquire, name, ttl.Microseconds()).Scan(&tok, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return tokenstore.Lease{}, tokenstore.ErrLeaseHeld
	}
	if err != nil {
		return tokenstore.Lease{}, fmt.Errorf("sqlstore: acquire: %w", err)
	}
	return tokenstore.Lease{Name: name, Token: uint64(tok), Expiry: time.UnixMicro(exp)}, nil
}

// Extend renews lease for ttl from now, or returns tokenstore.ErrLeaseLost
// when it has lapsed, been released or been superseded.
func (s *Store) Extend(ctx context.Context, lease tokenstore.Lease, ttl time.Duration) (tokenstore.Lease, error) {
	if err := ctx.Err(); err != nil {
		return tokenstore.Lease{}, err
	}
	if ttl < time.Microsecond {
		return tokenstore.Lease{}, errors.New("sqlstore: lease ttl must be at least 1µs")
	}
	var exp int64
	err := s.db.QueryRowContext(ctx, s.q.extend, lease.Name, token(lease.Token), ttl.Microseconds()).Scan(&exp)
	if errors.Is(err, sql.ErrNoRows) {
		return tokenstore.Lease{}, tokenstore.ErrLeaseLost
	}
	if err != nil {
		return tokenstore.Lease{}, fmt.Errorf("sqlstore: extend: %w", err)
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
	if _, err := s.db.ExecContext(ctx, s.q.release, lease.Name, token(lease.Token)); err != nil {
		return fmt.Errorf("sqlstore: release: %w", err)
	}
	return nil
}

// SetFenced is Set, in one transaction with a lock on lease's row that holds
// only while lease is current; otherwise it writes nothing and returns
// tokenstore.ErrLeaseLost.
func (s *Store) SetFenced(ctx context.Context, lease tokenstore.Lease, key string, value []byte, expiry time.Time) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: set fenced: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	res, err := tx.ExecContext(ctx, s.q.lockCurrent, lease.Name, token(lease.Token))
	if err != nil {
		return fmt.Errorf("sqlstore: set fenced: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlstore: set fenced: %w", err)
	}
	if n != 1 {
		return tokenstore.ErrLeaseLost
	}
	if err := s.write(ctx, tx, key, value, expiry, "set fenced"); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: set fenced: commit: %w", err)
	}
	return nil
}
