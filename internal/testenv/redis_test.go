package testenv

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// These tests run Debian's redis-server (scripts/deps.d/redis.sh installs it);
// a missing install fails them.

func startRedis(t *testing.T, dir string) *Redis {
	t.Helper()
	var r *Redis
	var err error
	if dir == "" {
		r, err = StartRedis(t.Context())
	} else {
		r, err = StartRedisAt(t.Context(), dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Errorf("stop redis: %v", err)
		}
	})
	return r
}

func redisClient(t *testing.T, r *Redis) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRedis(t *testing.T) {
	ctx := t.Context()
	r := startRedis(t, "")
	if !strings.HasPrefix(r.URL, "redis://127.0.0.1:") || !strings.HasSuffix(r.URL, "/0") {
		t.Errorf("URL = %q", r.URL)
	}
	c := redisClient(t, r)
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET k = %q, %v", got, err)
	}
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(info, "redis_version:"+RedisMajor+".") {
		t.Errorf("server is not Redis %s:\n%s", RedisMajor, info)
	}
	dir := r.Dir
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := r.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := redisPing(context.Background(), r.Addr); err == nil {
		t.Error("redis still answers after Stop")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary dir %s left after Stop: %v", dir, err)
	}
}

// A server restarted on its dir keeps its port and its keys, and a client of
// the first reconnects to the second.
func TestRedisRestartKeepsData(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	first := startRedis(t, dir)
	c := redisClient(t, first)
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, "k").Err(); err == nil {
		t.Fatal("GET succeeded with the server stopped")
	}
	second := startRedis(t, dir)
	if second.Addr != first.Addr {
		t.Errorf("restarted on %s, want %s", second.Addr, first.Addr)
	}
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Errorf("GET k after a restart = %q, %v\n%s", got, err, second.Logs())
	}
}

func TestRedisMissingInstall(t *testing.T) {
	t.Setenv("AWSAUTH_REDIS", t.TempDir()+"/no-redis-server")
	_, err := StartRedis(t.Context())
	if err == nil || !strings.Contains(err.Error(), "run scripts/deps.sh") {
		t.Errorf("StartRedis without redis-server: %v, want a hint to run scripts/deps.sh", err)
	}
}

func TestDepsScriptPinsRedisMajor(t *testing.T) {
	b, err := os.ReadFile("../../scripts/deps.d/redis.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\nREDIS_MAJOR="+RedisMajor+"\n") {
		t.Errorf("scripts/deps.d/redis.sh does not pin REDIS_MAJOR=%s", RedisMajor)
	}
}

// A three-master cluster: a cluster client reaches every slot, and a script
// over keys of two slots is refused, as on any Redis Cluster.
func TestRedisCluster(t *testing.T) {
	ctx := t.Context()
	c, err := StartRedisCluster(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop cluster: %v", err)
		}
	})
	if len(c.Addrs) != 3 {
		t.Fatalf("Addrs = %v", c.Addrs)
	}
	rc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	defer rc.Close()
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} { // slots on all three nodes
		if err := rc.Set(ctx, k, k, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v\n%s", k, err, c.Logs())
		}
	}
	var mu sync.Mutex
	masters := map[string]bool{}
	err = rc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { // concurrently
		n, err := m.DBSize(ctx).Result()
		mu.Lock()
		defer mu.Unlock()
		if n > 0 {
			masters[m.Options().Addr] = true
		}
		return err
	})
	if err != nil || len(masters) != 3 {
		t.Errorf("keys on masters %v (%v), want all three", masters, err)
	}
	err = rc.Eval(ctx, "return redis.call('GET', KEYS[1])", []string{"a", "b"}).Err()
	if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Errorf("script over two slots: %v, want CROSSSLOT", err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := redisPing(ctx, c.Addrs[0]); err == nil {
		t.Error("node still answers after Stop")
	}
}

// A client that asks the Sentinel for the master reaches it.
func TestRedisSentinel(t *testing.T) {
	ctx := t.Context()
	s, err := StartRedisSentinel(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop sentinel: %v", err)
		}
	})
	fc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: s.MasterName, SentinelAddrs: []string{s.SentinelAddr}})
	defer fc.Close()
	if err := fc.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := redisClient(t, s.Master).Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Errorf("GET on the master = %q, %v", got, err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := redisPing(ctx, s.SentinelAddr); err == nil {
		t.Error("sentinel still answers after Stop")
	}
}

// A master with a replica under a Sentinel: a write the replica acknowledged
// (WAIT) survives the master's SIGKILL, the Sentinel promotes the replica
// within a bounded time, and a failover client writes to the new master.
func TestRedisReplicatedFailover(t *testing.T) {
	ctx := t.Context()
	s, err := StartRedisReplicated(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	if len(s.Replicas) != 1 {
		t.Fatalf("Replicas = %v", s.Replicas)
	}
	fc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: s.MasterName, SentinelAddrs: []string{s.SentinelAddr}})
	defer fc.Close()
	var set *redis.StatusCmd
	var wait *redis.Cmd
	if _, err := fc.Pipelined(ctx, func(p redis.Pipeliner) error {
		set = p.Set(ctx, "k", "v", 0)
		wait = p.Do(ctx, "WAIT", 1, 2000) // on the SET's connection: a pipeline
		return nil
	}); err != nil || set.Err() != nil || wait.Val() != int64(1) {
		t.Fatalf("SET + WAIT 1: %v, %v, %d acks", err, set.Err(), wait.Val())
	}
	if got, err := redisClient(t, s.Replicas[0]).Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET on the replica = %q, %v", got, err)
	}

	old, err := s.KillMaster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if old != s.Master.Addr {
		t.Errorf("killed %s, want the first master %s", old, s.Master.Addr)
	}
	killed := time.Now()
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	addr, err := s.WaitFailover(wctx, old)
	if err != nil {
		t.Fatalf("%v\n%s", err, s.Logs())
	}
	t.Logf("failover: the sentinel named %s %v after the kill", addr, time.Since(killed).Round(time.Millisecond))
	if addr != s.Replicas[0].Addr {
		t.Errorf("new master %s, want the replica %s", addr, s.Replicas[0].Addr)
	}
	if got, err := fc.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Errorf("GET through the failover client after the failover = %q, %v", got, err)
	}
	if err := fc.Set(ctx, "k2", "v2", 0).Err(); err != nil {
		t.Errorf("SET after the failover: %v", err)
	}
	if got, err := redisClient(t, s.Replicas[0]).Get(ctx, "k2").Result(); err != nil || got != "v2" {
		t.Errorf("GET k2 on the new master = %q, %v", got, err)
	}
	if now, err := s.MasterAddr(ctx); err != nil || now != addr {
		t.Errorf("MasterAddr = %s, %v; want %s", now, err, addr)
	}
}

func TestRedisReplicatedNeedsAReplica(t *testing.T) {
	if _, err := StartRedisReplicated(t.Context(), 0); err == nil {
		t.Error("StartRedisReplicated(0) succeeded")
	}
}
