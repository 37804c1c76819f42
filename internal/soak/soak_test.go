package soak

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The CI run: 100 users for 28 s (three fault windows), about 40 s in all
// with the peers' start. make soak sets SOAK_DURATION and SOAK_USERS.
const (
	defaultDuration = 28 * time.Second
	defaultUsers    = 100
)

func TestSoak(t *testing.T) {
	d, users := defaultDuration, defaultUsers
	if v := os.Getenv("SOAK_DURATION"); v != "" {
		var err error
		d, err = time.ParseDuration(v)
		require.NoError(t, err, "SOAK_DURATION")
	}
	if v := os.Getenv("SOAK_USERS"); v != "" {
		var err error
		users, err = strconv.Atoi(v)
		require.NoError(t, err, "SOAK_USERS")
	}
	ctx, cancel := context.WithTimeout(context.Background(), d+5*time.Minute)
	defer cancel()

	e, err := Start(ctx, Config{Duration: d, Users: users, Logf: t.Logf, HeapProfile: os.Getenv("SOAK_HEAPPROFILE")})
	require.NoError(t, err)
	defer func() { assert.NoError(t, e.Close()) }()
	r, err := e.Run(ctx)
	require.NoError(t, err)
	t.Log("\n" + r.String())

	assert.Empty(t, r.Violations, "sessions lost, 5xx, failed logins or logouts, or wrong answers outside fault windows")
	assert.Zero(t, r.WrongUser, "answers for another user")
	assert.Zero(t, r.Reused, "refresh tokens redeemed twice (at the provider)")
	assert.Positive(t, r.Refreshes, "sessions refreshed")
	assert.GreaterOrEqual(t, r.Logins, users, "every user signed in")
	assert.Positive(t, r.Logouts)
	assert.Len(t, r.Windows, len(schedule(d)), "every planned fault window ran")
	for _, f := range r.Routes {
		assert.Positive(t, f.OK, "%s answered", f.Route)
	}
	assert.LessOrEqual(t, r.GoroutinesEnd, r.GoroutinesStart+GoroutineTolerance, "goroutines after the run")
	assert.LessOrEqual(t, r.HeapEnd, r.HeapStart*3/2+HeapTolerance+uint64(users)*UserHeap, "heap after the run, against before it (UserHeap a user)")
	assert.LessOrEqual(t, r.HeapEnd, r.HeapMid+HeapTolerance, "heap after the run, against midway (flat in the second half)")
	if t.Failed() {
		t.Log("the provider's output, last lines:\n" + e.ProviderLogs())
	}
}

// quietRedis drops go-redis's own log lines (a dial refused in a "redis
// down" window is logged once per attempt, thousands in a run); the store's
// errors reach the app as errors anyway.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	redis.SetLogger(quietRedis{}) // go-redis's logger is process-wide: set once, here
	os.Exit(m.Run())
}
