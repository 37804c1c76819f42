package faults

import (
	"database/sql"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/internal/testenv"
	"github.com/pubauth/awsauth/tokenstore"
	"github.com/pubauth/awsauth/tokenstore/sqlstore"
)

// PostgreSQL restarted under load (testenv's restart: Stop, then start on
// the same data directory and port). Stop's SIGTERM is a smart shutdown that
// waits for the pools' clients, so it ends in SIGKILL after 3 s: a crash and
// crash recovery, which keeps every acknowledged commit.
//
// Written first: three instances on sqlstore, each with its own pool, every
// session refreshing every 2 s. Expect: no answer for another user; 503
// only between the stop and 2 s after the server accepts connections again;
// the sessions written before the restart are served after it. A refresh
// whose token the provider rotated while the server was away has its write
// tried again until it lands or RefreshTimeout (15 s) ends: the restart is
// shorter, so no session ends and no refresh token is redeemed twice. (Before
// that retry, each refresh in flight at the stop lost its rotated token: its
// session's next refresh reused the spent one and the provider revoked the
// grant, 4 of 24 sessions in one run.) Failed write attempts are counted and
// printed.
func TestPostgresRestart(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	pg, err := testenv.StartPostgresAt(ctx, dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = pg.Stop() })

	var recs []*recorder
	f := newFleet(t, 3, func(int) tokenstore.Store {
		db, err := sql.Open("pgx", pg.URL)
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		s, err := sqlstore.New(db, sqlstore.Postgres)
		require.NoError(t, err)
		require.NoError(t, s.CreateSchema(ctx))
		r := &recorder{lockingStore: s, writes: map[string][]write{}}
		recs = append(recs, r)
		return r
	})
	n := failoverUsers()
	users := f.signIn(t, n)
	tr := f.run(users)
	f.waitRedeems(t, 0, int64(n), 20*time.Second)
	if failoverLong() {
		time.Sleep(10 * time.Second) // a longer run before the fault, not a synchronisation
	}

	atStop, _ := f.op.RefreshRedeems()
	stop := time.Now()
	require.NoError(t, pg.Stop())
	stopped := time.Now()
	pg, err = testenv.StartPostgresAt(ctx, dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = pg.Stop() })
	back := time.Now()

	mid, _ := f.op.RefreshRedeems()
	f.waitRedeems(t, mid, int64(n), 20*time.Second)
	bad := tr.halt()
	total, reused := f.op.RefreshRedeems()
	v := judge(bad, stop, back, 2*time.Second)
	failed := failedWrites(recs)

	t.Logf("restart: stopped in %v, accepting connections again %v after the stop began",
		stopped.Sub(stop).Round(time.Millisecond), back.Sub(stop).Round(time.Millisecond))
	t.Logf("requests: %d answered 200 for their user (%d of them slower than %v, at most %v); %d 5xx, %d session ended, %d no answer, %d wrong user; failed or slow from %v to %v after the stop (window %v)",
		tr.ok.Load(), v.slow, failoverSlow, v.maxLatency.Round(time.Millisecond), v.serverErrors, v.ended, v.transport, v.wrongUser,
		sinceOr(v.firstErr, stop), sinceOr(v.lastE, stop), v.window.Round(time.Millisecond))
	t.Logf("provider: %d refresh grants (%d before the stop), %d double redeems; store: %d session write attempts failed; %d users lost their session",
		total, atStop, reused, failed, len(v.usersLost))

	assert.Zero(t, v.wrongUser, "answers for the wrong user")
	assert.Zero(t, v.transport, "requests without an HTTP answer")
	assert.Empty(t, v.outside, "failed requests outside the restart window")
	assert.Empty(t, v.usersLost, "sessions ended")
	assert.Zero(t, reused, "double redeems")
	assert.Less(t, v.window, 15*time.Second)
}
