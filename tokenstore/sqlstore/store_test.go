package sqlstore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/pubauth/awsauth/internal/testenv"
	"github.com/pubauth/awsauth/tokenstore"
	"github.com/pubauth/awsauth/tokenstore/sqlstore"
	"github.com/pubauth/awsauth/tokenstore/storetest"
)

// The PostgreSQL tests run a real PostgreSQL 15 (internal/testenv;
// scripts/deps.d/postgres.sh installs it): a missing install fails them.
// SQLite is modernc.org/sqlite, in process, on a file in the test's dir.

func startPostgres(t testing.TB, dir string) *testenv.Postgres {
	t.Helper()
	var p *testenv.Postgres
	var err error
	if dir == "" {
		p, err = testenv.StartPostgres(context.Background())
	} else {
		p, err = testenv.StartPostgresAt(context.Background(), dir)
	}
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Stop() })
	return p
}

func openDB(t testing.TB, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func sqliteDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
}

func newStore(t testing.TB, db *sql.DB, d sqlstore.Dialect, optFns ...func(*sqlstore.Options)) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.New(db, d, optFns...)
	require.NoError(t, err)
	require.NoError(t, s.CreateSchema(context.Background()))
	return s
}

// alternate returns a storetest newStore that hands out stores in turn, so
// that the suite's two instances are two connection pools on one database.
func alternate(stores ...tokenstore.Store) func(*testing.T) tokenstore.Store {
	var n atomic.Uint64
	return func(*testing.T) tokenstore.Store { return stores[(n.Add(1)-1)%uint64(len(stores))] }
}

func TestConformancePostgres(t *testing.T) {
	url := startPostgres(t, "").URL
	storetest.Run(t, alternate(
		newStore(t, openDB(t, "pgx", url), sqlstore.Postgres),
		newStore(t, openDB(t, "pgx", url), sqlstore.Postgres)))
}

func TestConformanceSQLite(t *testing.T) {
	dsn := sqliteDSN(filepath.Join(t.TempDir(), "tokens.db"))
	storetest.Run(t, alternate(
		newStore(t, openDB(t, "sqlite", dsn), sqlstore.SQLite),
		newStore(t, openDB(t, "sqlite", dsn), sqlstore.SQLite)))
}

func TestNewRejectsBadOptions(t *testing.T) {
	db := openDB(t, "sqlite", sqliteDSN(filepath.Join(t.TempDir(), "x.db")))
	for _, table := range []string{`t"; DROP TABLE x; --`, "1abc", "a-b", "with space"} {
		_, err := sqlstore.New(db, sqlstore.SQLite, func(o *sqlstore.Options) { o.Table = table })
		assert.ErrorContains(t, err, "sqlstore: table name", "table %q", table)
	}
	_, err := sqlstore.New(db, sqlstore.Dialect(9))
	assert.ErrorContains(t, err, "sqlstore: unknown dialect")
	_, err = sqlstore.New(nil, sqlstore.SQLite)
	assert.ErrorContains(t, err, "sqlstore:")
}

// CreateSchema is idempotent and safe to run from many instances at once, and
// makes the tables the package doc shows.
func TestCreateSchema(t *testing.T) {
	p := startPostgres(t, "")
	for _, tc := range []struct {
		name    string
		dialect sqlstore.Dialect
		db      *sql.DB
		columns string
	}{
		{"postgres", sqlstore.Postgres, openDB(t, "pgx", p.URL),
			`SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position)
			 FROM information_schema.columns WHERE table_name = 'custom'`},
		{"sqlite", sqlstore.SQLite, openDB(t, "sqlite", sqliteDSN(filepath.Join(t.TempDir(), "s.db"))),
			`SELECT group_concat(name || ' ' || lower(type), ', ') FROM pragma_table_info('custom')`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sqlstore.New(tc.db, tc.dialect, func(o *sqlstore.Options) { o.Table = "custom" })
			require.NoError(t, err)
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() { assert.NoError(t, s.CreateSchema(t.Context())) })
			}
			wg.Wait()
			require.NoError(t, s.CreateSchema(t.Context()))
			var cols string
			require.NoError(t, tc.db.QueryRowContext(t.Context(), tc.columns).Scan(&cols))
			want := map[sqlstore.Dialect]string{
				sqlstore.Postgres: "key text, value bytea, expires_at bigint",
				sqlstore.SQLite:   "key text, value blob, expires_at integer",
			}[tc.dialect]
			assert.Equal(t, want, cols)
			require.NoError(t, s.Set(t.Context(), "k", []byte("v"), time.Time{}))
			var n int
			require.NoError(t, tc.db.QueryRowContext(t.Context(), `SELECT count(*) FROM custom_leases`).Scan(&n))
		})
	}
}

// Expired rows are deleted: by Purge, and a few at a time by Sets.
func TestPurge(t *testing.T) {
	db := openDB(t, "sqlite", sqliteDSN(filepath.Join(t.TempDir(), "p.db")))
	s := newStore(t, db, sqlstore.SQLite)
	ctx := t.Context()
	count := func() int {
		var n int
		require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM awsauth_tokens`).Scan(&n))
		return n
	}
	// Rows that expire in a few milliseconds; their Set lands before.
	soon := time.Now().Add(50 * time.Millisecond)
	for i := range 10 {
		require.NoError(t, s.Set(ctx, "dead/"+string(rune('a'+i)), []byte("v"), soon))
	}
	require.NoError(t, s.Set(ctx, "live", []byte("v"), time.Now().Add(time.Hour)))
	require.Equal(t, 11, count())
	for time.Now().Before(soon.Add(10 * time.Millisecond)) {
		time.Sleep(10 * time.Millisecond) // waiting out a real expiry, not synchronisation
	}
	n, err := s.Purge(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(10), n)
	assert.Equal(t, 1, count())

	// 64 Sets purge on their own.
	soon = time.Now().Add(50 * time.Millisecond)
	for i := range 5 {
		require.NoError(t, s.Set(ctx, "dead2/"+string(rune('a'+i)), []byte("v"), soon))
	}
	for time.Now().Before(soon.Add(10 * time.Millisecond)) {
		time.Sleep(10 * time.Millisecond)
	}
	for range 64 {
		require.NoError(t, s.Set(ctx, "live", []byte("v"), time.Now().Add(time.Hour)))
	}
	assert.Equal(t, 1, count())
}

// Faults: with PostgreSQL stopped, every call fails with an error (no panic,
// no partial write); started again on its data, the same *sql.DB reconnects,
// the entries and the lease written before are there.
func TestPostgresStoppedAndRestarted(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	p := startPostgres(t, dir)
	db := openDB(t, "pgx", p.URL)
	s := newStore(t, db, sqlstore.Postgres)

	require.NoError(t, s.Set(ctx, "kept", []byte("before"), time.Now().Add(time.Hour)))
	lease, err := s.Acquire(ctx, "lease/kept", time.Hour)
	require.NoError(t, err)
	require.NoError(t, p.Stop())

	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = s.Get(short, "kept")
	require.Error(t, err)
	require.NotErrorIs(t, err, tokenstore.ErrNotFound)
	require.ErrorContains(t, err, "sqlstore: get")
	require.ErrorContains(t, s.Set(short, "written-while-down", []byte("x"), time.Time{}), "sqlstore: set")
	require.ErrorContains(t, s.Delete(short, "kept"), "sqlstore: delete")
	require.ErrorContains(t, s.SetFenced(short, lease, "kept", []byte("x"), time.Time{}), "sqlstore: set fenced")
	_, err = s.Acquire(short, "other", time.Minute)
	require.ErrorContains(t, err, "sqlstore: acquire")

	startPostgres(t, dir)
	got, err := s.Get(ctx, "kept")
	require.NoError(t, err)
	require.Equal(t, "before", string(got))
	_, err = s.Get(ctx, "written-while-down")
	require.ErrorIs(t, err, tokenstore.ErrNotFound)
	_, err = s.Acquire(ctx, "lease/kept", time.Minute)
	require.ErrorIs(t, err, tokenstore.ErrLeaseHeld)
	require.NoError(t, s.SetFenced(ctx, lease, "kept", []byte("after"), time.Time{}))
	got, err = s.Get(ctx, "kept")
	require.NoError(t, err)
	require.Equal(t, "after", string(got))
}
