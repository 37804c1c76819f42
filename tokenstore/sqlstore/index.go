package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pubauth/awsauth/tokenstore/internal/indexrule"
)

// AddToIndex adds member to index until expiry, evicting the members that
// expire soonest beyond limit, as tokenstore.Indexer documents: one
// transaction, which on PostgreSQL first takes a transaction-level advisory
// lock on the index (pg_advisory_xact_lock) and on SQLite begins with a write
// (SQLite has one writer at a time), so that concurrent adds to one index run
// one after the other and the limit holds.
func (s *Store) AddToIndex(ctx context.Context, index, member string, expiry time.Time, limit int) (evicted []string, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := indexrule.Check(member, limit); err != nil {
		return nil, fmt.Errorf("sqlstore: add to index: %w", err)
	}
	if !expiry.IsZero() && !expiry.After(time.Now()) {
		// A past expiry removes the member, as Indexer documents.
		return nil, s.RemoveFromIndex(ctx, index, member)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: add to index: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
			evicted = nil
		}
	}()
	if s.q.lockIndex != "" {
		if _, err := tx.ExecContext(ctx, s.q.lockIndex, index); err != nil {
			return nil, fmt.Errorf("sqlstore: add to index: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.q.indexDropExpired, index); err != nil {
		return nil, fmt.Errorf("sqlstore: add to index: %w", err)
	}
	var others int
	if err := tx.QueryRowContext(ctx, s.q.indexCountOthers, index, member).Scan(&others); err != nil {
		return nil, fmt.Errorf("sqlstore: add to index: %w", err)
	}
	if n := others - (limit - 1); n > 0 {
		rows, err := tx.QueryContext(ctx, s.q.indexEvict, index, member, n)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: add to index: %w", err)
		}
		for rows.Next() {
			var m string
			if err := rows.Scan(&m); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlstore: add to index: %w", err)
			}
			evicted = append(evicted, m)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, fmt.Errorf("sqlstore: add to index: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.q.indexUpsert, index, member, micros(expiry)); err != nil {
		return nil, fmt.Errorf("sqlstore: add to index: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sqlstore: add to index: commit: %w", err)
	}
	return evicted, nil
}

// RemoveFromIndex removes member from index. Removing a member that is not
// there returns nil.
func (s *Store) RemoveFromIndex(ctx context.Context, index, member string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, s.q.indexRemove, index, member); err != nil {
		return fmt.Errorf("sqlstore: remove from index: %w", err)
	}
	return nil
}

// Index returns the live members of index, soonest expiry first.
func (s *Store) Index(ctx context.Context, index string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.q.indexList, index)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: index: %w", err)
	}
	defer rows.Close()
	var members []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return nil, fmt.Errorf("sqlstore: index: %w", err)
		}
		members = append(members, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: index: %w", err)
	}
	return members, nil
}
