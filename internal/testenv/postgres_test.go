package testenv

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// These tests run Debian's PostgreSQL 15 (scripts/deps.d/postgres.sh installs
// it); a missing install fails them.

func startPostgres(t *testing.T, dir string) *Postgres {
	t.Helper()
	var p *Postgres
	var err error
	if dir == "" {
		p, err = StartPostgres(t.Context())
	} else {
		p, err = StartPostgresAt(t.Context(), dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("stop postgres: %v", err)
		}
	})
	return p
}

func pgConnect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func TestPostgres(t *testing.T) {
	ctx := t.Context()
	p := startPostgres(t, "")
	if !strings.HasPrefix(p.URL, "postgres://postgres@127.0.0.1:") {
		t.Errorf("URL = %q", p.URL)
	}
	c := pgConnect(t, p.URL)
	var version string
	if err := c.QueryRow(ctx, "SHOW server_version_num").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(version, strconv.Itoa(PostgresMajor)) {
		t.Errorf("server_version_num = %s, want PostgreSQL %d", version, PostgresMajor)
	}
	var listen string
	if err := c.QueryRow(ctx, "SHOW listen_addresses").Scan(&listen); err != nil || listen != "127.0.0.1" {
		t.Errorf("listen_addresses = %q, %v", listen, err)
	}
	c.Close(ctx)
	dir := p.Dir
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := pgx.Connect(ctx, p.URL); err == nil {
		t.Error("postgres still accepts connections after Stop")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary dir %s left after Stop: %v", dir, err)
	}
}

// A server restarted on its dir keeps its port and its rows.
func TestPostgresRestartKeepsData(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	first := startPostgres(t, dir)
	c := pgConnect(t, first.URL)
	if _, err := c.Exec(ctx, "CREATE TABLE t (k text PRIMARY KEY); INSERT INTO t VALUES ('kept')"); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	second := startPostgres(t, dir)
	if second.URL != first.URL {
		t.Errorf("restarted at %s, want %s", second.URL, first.URL)
	}
	var k string
	if err := pgConnect(t, second.URL).QueryRow(ctx, "SELECT k FROM t").Scan(&k); err != nil || k != "kept" {
		t.Errorf("row after a restart = %q, %v\n%s", k, err, second.Logs())
	}
}

func TestPostgresMissingInstall(t *testing.T) {
	t.Setenv("AWSAUTH_PGBIN", t.TempDir())
	_, err := StartPostgres(t.Context())
	if err == nil || !strings.Contains(err.Error(), "run scripts/deps.sh") {
		t.Errorf("StartPostgres without PostgreSQL: %v, want a hint to run scripts/deps.sh", err)
	}
}

func TestDepsScriptPinsPostgresMajor(t *testing.T) {
	b, err := os.ReadFile("../../scripts/deps.d/postgres.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\nPG_MAJOR="+strconv.Itoa(PostgresMajor)+"\n") {
		t.Errorf("scripts/deps.d/postgres.sh does not pin PG_MAJOR=%d", PostgresMajor)
	}
}
