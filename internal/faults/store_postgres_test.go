package faults

import (
	"database/sql"
	"net"
	"net/url"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/internal/testenv"
	"github.com/pubauth/awsauth/tokenstore"
	"github.com/pubauth/awsauth/tokenstore/sqlstore"
)

// postgresKit: PostgreSQL on a kept data directory, and sqlstore on
// database/sql with pgx's stdlib driver at its defaults.
func postgresKit(t *testing.T) *storeKit {
	dir := t.TempDir()
	p, err := testenv.StartPostgresAt(t.Context(), dir)
	require.NoError(t, err)
	t.Cleanup(func() { p.Stop() })
	db, err := sql.Open("pgx", p.URL)
	require.NoError(t, err)
	s, err := sqlstore.New(db, sqlstore.Postgres)
	require.NoError(t, err)
	require.NoError(t, s.CreateSchema(t.Context()))
	db.Close()
	return &storeKit{
		name:     "postgres",
		upstream: func() string { return p.Addr },
		open: func(t *testing.T, addr string) (tokenstore.Store, func()) {
			u, err := url.Parse(p.URL)
			require.NoError(t, err)
			_, port, _ := net.SplitHostPort(addr)
			u.Host = net.JoinHostPort("127.0.0.1", port)
			db, err := sql.Open("pgx", u.String())
			require.NoError(t, err)
			s, err := sqlstore.New(db, sqlstore.Postgres)
			require.NoError(t, err)
			return s, func() { db.Close() }
		},
		stop: func(t *testing.T) { require.NoError(t, p.Stop()) },
		start: func(t *testing.T) {
			p, err = testenv.StartPostgresAt(t.Context(), dir)
			require.NoError(t, err)
		},
	}
}
