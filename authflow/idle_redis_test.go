package authflow

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/internal/testenv"
	"github.com/pubauth/awsauth/tokenstore/redisstore"
)

// Issue 9's figure: store reads and writes per signed-in request with
// IdleTimeout on, counted by Redis itself (INFO commandstats), against a
// real redis-server (internal/testenv; scripts/deps.sh installs it). A busy
// session makes a request every 20 s for 30 minutes of the app's clock.
func TestIdleRedisCommandsPerRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	ctx := context.Background()
	r, err := testenv.StartRedis(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { r.Stop() })
	client := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { client.Close() })
	store, err := redisstore.New(client)
	require.NoError(t, err)

	for _, idle := range []time.Duration{0, 10 * time.Minute} {
		t.Run(fmt.Sprintf("IdleTimeout=%v", idle), func(t *testing.T) {
			clock := &offsetClock{}
			_, app := idleApp(t, clock, &endRecorder{}, func(c *Config) {
				c.Store = store
				c.IdleTimeout = idle
			})
			c := app.browser()
			app.login(c, "/")
			require.NoError(t, client.ConfigResetStat(ctx).Err())
			requests := 0
			for d := 20 * time.Second; d <= 30*time.Minute; d += 20 * time.Second {
				clock.set(d)
				status, _ := app.me(c)
				require.Equal(t, http.StatusOK, status)
				requests++
			}
			stats := commandStats(t, client)
			delete(stats, "config|resetstat") // ours
			reads := stats["get"]
			// go-redis sends EVALSHA, then EVAL once per script the server
			// does not know yet (NOSCRIPT): runs are EVALSHA calls.
			scripts := stats["evalsha"]
			t.Logf("%d requests over 30 minutes: Redis counted %v", requests, stats)
			t.Logf("per signed-in request: %.3f reads (GET), %.3f lease scripts (Acquire, SetFenced, Release), %.3f session record writes (SET in SetFenced)",
				float64(reads)/float64(requests), float64(scripts)/float64(requests), float64(stats["set"])/float64(requests))
			assert.Equal(t, requests, reads, "one store read per request")
			if idle == 0 {
				assert.Zero(t, scripts, "no write without IdleTimeout")
				return
			}
			// One use recorded per minute (IdleTimeout/10): 30 record writes,
			// each under a lease (Acquire, SetFenced, Release).
			assert.Equal(t, 30, stats["set"], "one record write per minute of use")
			assert.Equal(t, 3*30, scripts)
		})
	}
}

// commandStats returns INFO commandstats' calls per command (lower case).
func commandStats(t *testing.T, client *redis.Client) map[string]int {
	t.Helper()
	info, err := client.Info(context.Background(), "commandstats").Result()
	require.NoError(t, err)
	stats := map[string]int{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for _, f := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(f, "calls="); ok {
				n, err := strconv.Atoi(v)
				require.NoError(t, err)
				stats[strings.TrimPrefix(name, "cmdstat_")] = n
			}
		}
	}
	return stats
}
