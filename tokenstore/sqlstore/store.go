package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pubauth/awsauth/tokenstore"
)

// Dialect is the SQL spoken by the database behind a Store.
type Dialect int

const (
	// Postgres is PostgreSQL (tested on 15), through pgx's stdlib driver.
	Postgres Dialect = iota + 1
	// SQLite is SQLite 3.42 or later (unixepoch('subsec')), through
	// modernc.org/sqlite.
	SQLite
)

// DefaultTable is the entries table when Options.Table is empty.
const DefaultTable = "awsauth_tokens"

// Options configures a Store.
type Options struct {
	// Table is the entries table; empty means DefaultTable. Leases live in
	// Table+"_leases", indexes in Table+"_idx". It must be a plain identifier: letters, digits and
	// underscores, not starting with a digit, at most 48 bytes.
	Table string
}

// purgeEvery is how many Sets pass between opportunistic purges, and
// purgeBatch how many expired rows one of them deletes at most.
const (
	purgeEvery = 64
	purgeBatch = 100
)

// never is expires_at for an entry without expiry.
const never = math.MaxInt64

// Store is a tokenstore.Store, tokenstore.Locker and tokenstore.Indexer on a
// SQL database. It is safe for concurrent use; every call is one statement
// (SetFenced and AddToIndex: one short transaction), bounded by its ctx.
type Store struct {
	db *sql.DB
	q  queries

	sets atomic.Uint64
}

var (
	_ tokenstore.Store   = (*Store)(nil)
	_ tokenstore.Locker  = (*Store)(nil)
	_ tokenstore.Indexer = (*Store)(nil)
)

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,47}$`)

// New returns a Store on db, which the caller keeps and closes. New does no
// I/O: call CreateSchema once, or create the tables as the package doc shows.
// It returns an error for an unknown dialect or a bad table name.
func New(db *sql.DB, dialect Dialect, optFns ...func(*Options)) (*Store, error) {
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	if o.Table == "" {
		o.Table = DefaultTable
	}
	if !identifier.MatchString(o.Table) {
		return nil, fmt.Errorf("sqlstore: table name %q is not a plain identifier", o.Table)
	}
	if db == nil {
		return nil, errors.New("sqlstore: nil *sql.DB")
	}
	if dialect != Postgres && dialect != SQLite {
		return nil, fmt.Errorf("sqlstore: unknown dialect %d", dialect)
	}
	return &Store{db: db, q: newQueries(dialect, o.Table)}, nil
}

// CreateSchema creates the tables and index of the package doc if they do not
// exist. It is safe to run on every start, and concurrently.
//
// On PostgreSQL the statements run in one transaction under an advisory lock
// (pg_advisory_xact_lock), because concurrent CREATE TABLE IF NOT EXISTS of
// one table can fail there with a unique violation in pg_type.
func (s *Store) CreateSchema(ctx context.Context) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: create schema: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	for _, stmt := range s.q.schema {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("sqlstore: create schema: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: create schema: %w", err)
	}
	return nil
}

// micros converts an expiry to expires_at; zero means never.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return never
	}
	return t.UnixMicro()
}

// Get returns the value stored under key, or tokenstore.ErrNotFound when the
// key is absent or its expiry has passed.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var v []byte
	err := s.db.QueryRowContext(ctx, s.q.get, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, tokenstore.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get: %w", err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// Set stores value under key until expiry; a zero expiry means none, and an
// expiry already past deletes key.
func (s *Store) Set(ctx context.Context, key string, value []byte, expiry time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.write(ctx, s.db, key, value, expiry, "set"); err != nil {
		return err
	}
	if s.sets.Add(1)%purgeEvery == 0 {
		_, _ = s.db.ExecContext(ctx, s.q.purgeSome, purgeBatch)
		_, _ = s.db.ExecContext(ctx, s.q.purgeIndexSome, purgeBatch)
	}
	return nil
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (s *Store) write(ctx context.Context, db execer, key string, value []byte, expiry time.Time, op string) error {
	var err error
	if !expiry.IsZero() && !expiry.After(time.Now()) {
		_, err = db.ExecContext(ctx, s.q.del, key)
	} else {
		if value == nil {
			value = []byte{} // NULL is not a value: the column is NOT NULL
		}
		_, err = db.ExecContext(ctx, s.q.upsert, key, value, micros(expiry))
	}
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	return nil
}

// Delete removes key. Deleting a missing key returns nil.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, s.q.del, key); err != nil {
		return fmt.Errorf("sqlstore: delete: %w", err)
	}
	return nil
}

// Purge deletes every expired entry and index member, and lease rows lapsed
// and granted over a minute ago. It returns the number of entries deleted.
func (s *Store) Purge(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.q.purgeAll)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: purge: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlstore: purge: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, s.q.purgeLeases); err != nil {
		return n, fmt.Errorf("sqlstore: purge leases: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, s.q.purgeIndex); err != nil {
		return n, fmt.Errorf("sqlstore: purge indexes: %w", err)
	}
	return n, nil
}

// queries are a Store's statements, in its dialect, on its tables.
type queries struct {
	schema                                []string
	get, upsert, del                      string
	purgeSome, purgeAll, purgeLeases      string
	acquire, extend, release, lockCurrent string

	// index.go; lockIndex is empty for SQLite.
	lockIndex, indexDropExpired, indexCountOthers, indexEvict string
	indexUpsert, indexRemove, indexList                       string
	purgeIndexSome, purgeIndex                                string
}

func newQueries(d Dialect, table string) queries {
	leases, idx := table+"_leases", table+"_idx"
	var now, greatest, text, blob, integer string
	switch d {
	case Postgres:
		now = `(extract(epoch from now()) * 1000000)::bigint`
		greatest, text, blob, integer = "GREATEST", `text COLLATE "C"`, "bytea", "bigint"
	case SQLite:
		now = `CAST(unixepoch('subsec') * 1000000 AS INTEGER)`
		greatest, text, blob, integer = "max", "TEXT", "BLOB", "INTEGER"
	}
	r := strings.NewReplacer("{T}", `"`+table+`"`, "{L}", `"`+leases+`"`, "{I}", `"`+table+`_expires_at"`,
		"{X}", `"`+idx+`"`, "{XI}", `"`+idx+`_exp"`, "{XNAME}", `'`+idx+`'`,
		"{NOW}", now, "{GREATEST}", greatest, "{TEXT}", text, "{BLOB}", blob, "{INT}", integer)
	f := func(q string) string {
		q = r.Replace(q)
		if d == SQLite {
			// SQLite's $1 is a named parameter; ?1 is numbered.
			q = strings.ReplaceAll(q, "$", "?")
		}
		return q
	}
	var schema []string
	var lockIndex string
	if d == Postgres {
		schema = append(schema, `SELECT pg_advisory_xact_lock(hashtext('awsauth/sqlstore/schema'))`)
		// The two-key form: a key space apart from the schema lock's.
		lockIndex = f(`SELECT pg_advisory_xact_lock(hashtext({XNAME}), hashtext($1))`)
	}
	return queries{
		schema: append(schema,
			f(`CREATE TABLE IF NOT EXISTS {T} (key {TEXT} PRIMARY KEY, value {BLOB} NOT NULL, expires_at {INT} NOT NULL)`),
			f(`CREATE INDEX IF NOT EXISTS {I} ON {T} (expires_at)`),
			f(`CREATE TABLE IF NOT EXISTS {L} (name {TEXT} PRIMARY KEY, token {INT} NOT NULL, expires_at {INT} NOT NULL)`),
			f(`CREATE TABLE IF NOT EXISTS {X} (name {TEXT} NOT NULL, member {TEXT} NOT NULL, expires_at {INT} NOT NULL,
				PRIMARY KEY (name, member))`),
			f(`CREATE INDEX IF NOT EXISTS {XI} ON {X} (expires_at)`),
		),
		get: f(`SELECT value FROM {T} WHERE key = $1 AND expires_at > {NOW}`),
		upsert: f(`INSERT INTO {T} (key, value, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`),
		del:         f(`DELETE FROM {T} WHERE key = $1`),
		purgeSome:   f(`DELETE FROM {T} WHERE key IN (SELECT key FROM {T} WHERE expires_at <= {NOW} LIMIT $1)`),
		purgeAll:    f(`DELETE FROM {T} WHERE expires_at <= {NOW}`),
		purgeLeases: f(`DELETE FROM {L} WHERE expires_at <= {NOW} AND token < {NOW} - 60000000`),
		// excluded.token is the server's now: the row is taken over only
		// when its lease has lapsed (or was released: expires_at 0).
		acquire: f(`INSERT INTO {L} AS l (name, token, expires_at) VALUES ($1, {NOW}, {NOW} + $2)
			ON CONFLICT (name) DO UPDATE
			SET token = {GREATEST}(l.token + 1, excluded.token), expires_at = excluded.expires_at
			WHERE l.expires_at <= excluded.token
			RETURNING token, expires_at`),
		extend: f(`UPDATE {L} SET expires_at = {NOW} + $3
			WHERE name = $1 AND token = $2 AND expires_at > {NOW} RETURNING expires_at`),
		release: f(`UPDATE {L} SET expires_at = 0 WHERE name = $1 AND token = $2`),
		// A no-op write, to lock the current lease row for the transaction.
		lockCurrent: f(`UPDATE {L} SET token = token WHERE name = $1 AND token = $2 AND expires_at > {NOW}`),

		lockIndex:        lockIndex,
		indexDropExpired: f(`DELETE FROM {X} WHERE name = $1 AND expires_at <= {NOW}`),
		indexCountOthers: f(`SELECT count(*) FROM {X} WHERE name = $1 AND member <> $2`),
		indexEvict: f(`DELETE FROM {X} WHERE name = $1 AND member IN (
			SELECT member FROM {X} WHERE name = $1 AND member <> $2 ORDER BY expires_at, member LIMIT $3)
			RETURNING member`),
		indexUpsert: f(`INSERT INTO {X} (name, member, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (name, member) DO UPDATE SET expires_at = excluded.expires_at`),
		indexRemove:    f(`DELETE FROM {X} WHERE name = $1 AND member = $2`),
		indexList:      f(`SELECT member FROM {X} WHERE name = $1 AND expires_at > {NOW} ORDER BY expires_at, member`),
		purgeIndexSome: f(`DELETE FROM {X} WHERE (name, member) IN (SELECT name, member FROM {X} WHERE expires_at <= {NOW} LIMIT $1)`),
		purgeIndex:     f(`DELETE FROM {X} WHERE expires_at <= {NOW}`),
	}
}
