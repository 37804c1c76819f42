package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pubauth/awsauth/internal/testenv/internal/peer"
)

// PostgresMajor is the PostgreSQL major version that
// scripts/deps.d/postgres.sh installs (Debian 12's postgresql-15).
const PostgresMajor = 15

// Postgres is a running PostgreSQL server on loopback, with one superuser,
// postgres, that needs no password (trust authentication, loopback only).
type Postgres struct {
	// URL is postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable,
	// for pgx or database/sql with pgx's stdlib driver.
	URL string
	// Addr is 127.0.0.1:PORT.
	Addr string
	// Dir holds the cluster: data/ (PGDATA), sock/ (its Unix socket) and port.
	Dir string

	proc *peer.Process
}

// StartPostgres initialises a new cluster in a temporary directory, removed by
// Stop, starts it on a free loopback port and returns once it accepts a
// connection. ctx bounds the start only.
//
// PostgreSQL refuses to run as root: when the test runs as root, initdb and
// postgres run as the postgres user (Debian's package creates it) through
// setpriv, or runuser where setpriv is missing.
func StartPostgres(ctx context.Context) (*Postgres, error) {
	dir, err := os.MkdirTemp("", "awsauth-postgres-")
	if err != nil {
		return nil, err
	}
	p, err := runPostgres(ctx, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p.proc.Cleanup = func() error { return os.RemoveAll(dir) }
	return p, nil
}

// StartPostgresAt is StartPostgres with the cluster in dir, which it creates
// (and initialises) if needed and which Stop keeps. A server started again on
// the same dir (after Stop) finds the data of the last and listens on the same
// port, so the connection pools of the last reconnect to it. When running as
// root, dir and its parents are made searchable by the postgres user.
func StartPostgresAt(ctx context.Context, dir string) (*Postgres, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("testenv: PostgreSQL data dir: %w", err)
	}
	return runPostgres(ctx, dir)
}

// pgBinary finds one of the server's programs: $AWSAUTH_PGBIN/NAME, else
// Debian's /usr/lib/postgresql/MAJOR/bin/NAME.
func pgBinary(name string) (string, error) {
	dir := os.Getenv("AWSAUTH_PGBIN")
	if dir == "" {
		dir = filepath.Join("/usr/lib/postgresql", strconv.Itoa(PostgresMajor), "bin")
	}
	p := filepath.Join(dir, name)
	if !peer.IsExecutable(p) {
		return "", fmt.Errorf("testenv: PostgreSQL %d's %s not found at %s: run scripts/deps.sh", PostgresMajor, name, p)
	}
	return p, nil
}

// asPostgres returns the command line that runs argv as the postgres user
// when this process is root, and argv itself otherwise, with the user's ids.
func asPostgres(argv ...string) ([]string, *user.User, error) {
	if os.Geteuid() != 0 {
		return argv, nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, nil, fmt.Errorf("testenv: PostgreSQL refuses to run as root and there is no postgres user: %w (run scripts/deps.sh)", err)
	}
	// setpriv execs the server in place, so Stop's signal reaches it
	// directly; runuser stays as its parent and forwards signals.
	if p, err := exec.LookPath("setpriv"); err == nil {
		return append([]string{p, "--reuid=postgres", "--regid=postgres", "--init-groups", "--"}, argv...), u, nil
	}
	p, err := exec.LookPath("runuser")
	if err != nil {
		return nil, nil, fmt.Errorf("testenv: neither setpriv nor runuser found to drop root for PostgreSQL")
	}
	return append([]string{p, "-u", "postgres", "--"}, argv...), u, nil
}

func runPostgres(ctx context.Context, dir string) (*Postgres, error) {
	initdb, err := pgBinary("initdb")
	if err != nil {
		return nil, err
	}
	server, err := pgBinary("postgres")
	if err != nil {
		return nil, err
	}
	port, err := dirPort(dir)
	if err != nil {
		return nil, err
	}
	data, sock := filepath.Join(dir, "data"), filepath.Join(dir, "sock")
	if err := os.MkdirAll(sock, 0o755); err != nil {
		return nil, err
	}
	_, u, err := asPostgres()
	if err != nil {
		return nil, err
	}
	if u != nil {
		if err := shareWith(u, dir, data, sock); err != nil {
			return nil, err
		}
	}

	ctx, cancel := context.WithTimeout(ctx, peer.StartTimeout)
	defer cancel()
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err != nil {
		argv, _, _ := asPostgres(initdb, "-D", data, "-U", "postgres", "--auth=trust",
			"-E", "UTF8", "--locale=C", "--no-sync")
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Dir = dir
		cmd.Env = peer.Environ([]string{"PG", "LC_", "LANG"}, "LANG=C")
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("testenv: initdb: %w\n--- initdb output ---\n%s", err, out)
		}
	}

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	p := &Postgres{
		URL:  "postgres://postgres@" + addr + "/postgres?sslmode=disable",
		Addr: addr,
		Dir:  dir,
	}
	argv, _, _ := asPostgres(server, "-D", data,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+sock,
		// A test server: durability against an OS crash is not needed, speed
		// is. Against a process crash it is: Stop's SIGTERM is a "smart"
		// shutdown that waits for the clients' pools, so Stop usually ends
		// in SIGKILL, and a restart must find every commit (faults'
		// TestPostgresRestart). synchronous_commit stays on: a commit's WAL
		// is written (not fsynced) before it is acknowledged.
		"-c", "fsync=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200",
	)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = peer.Environ([]string{"PG", "LC_", "LANG"}, "LANG=C")
	p.proc, err = peer.Start("postgres", cmd, peer.NewOutput())
	if err != nil {
		return nil, err
	}
	err = p.proc.WaitReady(ctx, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, p.URL)
		if err != nil {
			return err
		}
		defer c.Close(context.Background())
		return c.Ping(ctx)
	})
	if err != nil {
		p.proc.Stop()
		return nil, err
	}
	return p, nil
}

// shareWith gives u the cluster's directories and makes dir reachable: the
// server, running as u, must search every parent of its data directory.
func shareWith(u *user.User, dir string, owned ...string) error {
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return err
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return err
	}
	for _, d := range append([]string{dir}, owned...) {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
		if err := os.Chown(d, uid, gid); err != nil {
			return fmt.Errorf("testenv: PostgreSQL dir: %w", err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "data"), 0o700); err != nil { // initdb insists
		return err
	}
	// Parents, such as a test's 0700 t.TempDir(), get the search bit only.
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o001); err != nil {
				return fmt.Errorf("testenv: make %s searchable for PostgreSQL: %w", d, err)
			}
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// Logs returns the tail of the server's output.
func (p *Postgres) Logs() string { return p.proc.Logs() }

// Stop stops the server; a server from StartPostgres also loses its data.
// Safe to call more than once.
func (p *Postgres) Stop() error { return p.proc.Stop() }
