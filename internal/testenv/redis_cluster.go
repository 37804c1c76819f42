package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// RedisCluster is a running Redis Cluster of masters only (no replicas) on
// loopback, its 16384 hash slots split evenly between them.
type RedisCluster struct {
	// Addrs are the nodes' host:port, for redis.ClusterOptions.Addrs.
	Addrs []string

	nodes []*Redis
}

// StartRedisCluster starts n (at least 1) cluster-enabled redis-servers
// without persistence, assigns each a contiguous share of the slots, joins
// them with CLUSTER MEET and returns once every node reports cluster_state:ok
// and knows all n. ctx bounds the start only.
func StartRedisCluster(ctx context.Context, n int) (_ *RedisCluster, err error) {
	if n < 1 {
		return nil, errors.New("testenv: a Redis Cluster needs at least one node")
	}
	c := &RedisCluster{}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	for range n {
		dir, err := os.MkdirTemp("", "awsauth-redis-cluster-")
		if err != nil {
			return nil, err
		}
		r, err := runRedis(ctx, dir, false, []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "2000",
		})
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		r.proc.cleanup = func() error { return os.RemoveAll(dir) }
		c.nodes = append(c.nodes, r)
		c.Addrs = append(c.Addrs, r.Addr)
	}

	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	clients := make([]*redis.Client, n)
	for i, addr := range c.Addrs {
		clients[i] = redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		defer clients[i].Close()
	}
	const slots = 16384
	for i, cl := range clients {
		lo, hi := i*slots/n, (i+1)*slots/n-1
		if err := cl.ClusterAddSlotsRange(ctx, lo, hi).Err(); err != nil {
			return nil, fmt.Errorf("testenv: redis cluster: CLUSTER ADDSLOTSRANGE %d %d on %s: %w", lo, hi, c.Addrs[i], err)
		}
	}
	for _, addr := range c.Addrs[1:] {
		host, port, _ := net.SplitHostPort(addr)
		if err := clients[0].ClusterMeet(ctx, host, port).Err(); err != nil {
			return nil, fmt.Errorf("testenv: redis cluster: CLUSTER MEET %s: %w", addr, err)
		}
	}
	want := "cluster_known_nodes:" + strconv.Itoa(n)
	for i, cl := range clients {
		err := c.nodes[i].proc.waitReady(ctx, func(ctx context.Context) error {
			info, err := cl.ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, want+"\r") {
				return fmt.Errorf("cluster not formed: %q", info)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Logs returns the tail of every node's output.
func (c *RedisCluster) Logs() string {
	var b strings.Builder
	for i, r := range c.nodes {
		fmt.Fprintf(&b, "--- node %d (%s) ---\n%s", i, r.Addr, r.Logs())
	}
	return b.String()
}

// Stop stops every node and removes their data. Safe to call more than once.
func (c *RedisCluster) Stop() error {
	var errs []error
	for _, r := range c.nodes {
		errs = append(errs, r.Stop())
	}
	return errors.Join(errs...)
}
