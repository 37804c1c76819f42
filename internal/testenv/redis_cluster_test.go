package testenv

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

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
