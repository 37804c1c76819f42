package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pubauth/awsauth/internal/testenv/internal/peer"
)

// RedisMajor is the Redis major.minor that scripts/deps.d/redis.sh installs
// (Debian 12's redis-server 5:7.0.*).
const RedisMajor = "7.0"

// Redis is a running redis-server on loopback.
type Redis struct {
	// Addr is host:port, 127.0.0.1:PORT.
	Addr string
	// URL is redis://127.0.0.1:PORT/0, for redis.ParseURL.
	URL string
	// Dir holds the server's config-less state: its append-only file when
	// started with StartRedisAt.
	Dir string

	proc *peer.Process
}

// StartRedis starts redis-server on a free loopback port with no persistence
// and returns once it answers PING. ctx bounds the start only.
func StartRedis(ctx context.Context) (*Redis, error) {
	return startRedisWith(ctx)
}

// StartRedisAt is StartRedis with an append-only file (fsync on every write)
// in dir, which it creates if needed and which Stop keeps. A server started
// again on the same dir (after Stop) finds the keys of the last and listens
// on the same port, so clients of the last reconnect to it.
func StartRedisAt(ctx context.Context, dir string) (*Redis, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("testenv: Redis data dir: %w", err)
	}
	return runRedis(ctx, dir, true, nil)
}

func runRedis(ctx context.Context, dir string, persist bool, extra []string) (*Redis, error) {
	bin, err := peer.FindBinary("AWSAUTH_REDIS", "", "redis-server")
	if err != nil {
		return nil, err
	}
	port, err := dirPort(dir)
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	r := &Redis{Addr: addr, URL: "redis://" + addr + "/0", Dir: dir}
	args := []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--dir", dir,
		"--save", "",
		"--daemonize", "no",
		"--logfile", "", // stdout, which startProcess captures
	}
	if persist {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = peer.Environ(nil)
	r.proc, err = peer.Start("redis-server", cmd, peer.NewOutput())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, peer.StartTimeout)
	defer cancel()
	if err := r.proc.WaitReady(ctx, func(ctx context.Context) error { return redisPing(ctx, addr) }); err != nil {
		r.proc.Stop()
		return nil, err
	}
	return r, nil
}

// redisPing sends PING in RESP and expects +PONG.
func redisPing(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// dirPort returns the port recorded in dir/port, or records a free one: a
// server restarted on its dir keeps its address.
func dirPort(dir string) (int, error) {
	f := filepath.Join(dir, "port")
	b, err := os.ReadFile(f)
	if err == nil {
		p, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || p <= 0 || p > 65535 {
			return 0, fmt.Errorf("testenv: %s holds no port: %q", f, b)
		}
		return p, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return 0, err
	}
	p, err := peer.FreePort()
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile(f, []byte(strconv.Itoa(p)+"\n"), 0o644); err != nil {
		return 0, err
	}
	return p, nil
}

// Logs returns the tail of the server's output.
func (r *Redis) Logs() string { return r.proc.Logs() }

// Kill kills the server with SIGKILL (no shutdown, no final write) and
// returns once it has exited. Stop still removes its data and does not report
// the kill.
func (r *Redis) Kill(ctx context.Context) error { return r.proc.Kill(ctx) }

// Stop stops the server; a server from StartRedis also loses its data. Safe
// to call more than once.
func (r *Redis) Stop() error { return r.proc.Stop() }

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
		r.proc.Cleanup = func() error { return os.RemoveAll(dir) }
		c.nodes = append(c.nodes, r)
		c.Addrs = append(c.Addrs, r.Addr)
	}

	ctx, cancel := context.WithTimeout(ctx, peer.StartTimeout)
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
		err := c.nodes[i].proc.WaitReady(ctx, func(ctx context.Context) error {
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

// SentinelMasterName is the name a RedisSentinel monitors its master under.
const SentinelMasterName = "awsauth"

// Sentinel timings of StartRedisReplicated, short enough for a failover test:
// the master is deemed down after FailoverDownAfter without an answer, and a
// failover that stalls is abandoned (and retried) after twice
// failoverTimeout. From a kill to a new master takes about
// FailoverDownAfter, plus up to 1 s (Sentinel delays a failover's start by a
// random part of a second), plus a second or two for the promotion.
const (
	FailoverDownAfter = time.Second
	failoverTimeout   = 5 * time.Second
)

// RedisSentinel is a Redis master (no persistence), optionally with replicas,
// watched by one Sentinel, all on loopback. From StartRedisSentinel (no
// replicas, master deemed down after 5 s) it is enough for a client that finds
// the master through Sentinel (redis.NewFailoverClient); from
// StartRedisReplicated it fails over: see KillMaster and WaitFailover.
//
// One Sentinel with quorum 1 decides alone, so it fails over on its own view:
// a production deployment runs three or more, on separate hosts, so that one
// Sentinel cut off from the master cannot promote a replica. On loopback
// there is no partition to guard against, and the failover itself (the
// replica promoted, clients switched by +switch-master) is the same.
type RedisSentinel struct {
	// MasterName is SentinelMasterName.
	MasterName string
	// SentinelAddr is the Sentinel's host:port, for
	// redis.FailoverOptions.SentinelAddrs.
	SentinelAddr string
	// Master is the server that was master at the start.
	Master *Redis
	// Replicas are the servers that replicated Master at the start
	// (replicaof), all in sync with it when StartRedisReplicated returned.
	Replicas []*Redis

	sentinel *peer.Process
}

// StartRedisSentinel starts a master and a Sentinel (redis-server --sentinel,
// with its config in a temporary directory) and returns once the Sentinel
// names the master. ctx bounds the start only.
func StartRedisSentinel(ctx context.Context) (*RedisSentinel, error) {
	return startRedisSentinel(ctx, 0, 5*time.Second)
}

// StartRedisReplicated is StartRedisSentinel with replicas (at least 1)
// replicating the master, and a Sentinel that deems the master down after
// FailoverDownAfter and then promotes a replica. It returns once every
// replica's link to the master is up and the Sentinel knows them all. Each
// server keeps its data in memory only (no persistence), so a killed server
// loses what it had not yet sent to a replica: Redis replication is
// asynchronous (WAIT makes a client wait for replicas' acknowledgements).
// ctx bounds the start only.
func StartRedisReplicated(ctx context.Context, replicas int) (*RedisSentinel, error) {
	if replicas < 1 {
		return nil, errors.New("testenv: StartRedisReplicated needs at least one replica")
	}
	return startRedisSentinel(ctx, replicas, FailoverDownAfter)
}

func startRedisSentinel(ctx context.Context, replicas int, downAfter time.Duration) (_ *RedisSentinel, err error) {
	master, err := StartRedis(ctx)
	if err != nil {
		return nil, err
	}
	s := &RedisSentinel{MasterName: SentinelMasterName, Master: master}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	host, mport, _ := net.SplitHostPort(master.Addr)
	for range replicas {
		r, err := startRedisWith(ctx, "--replicaof", host, mport,
			// A replica syncs straight from the master's memory.
			"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0")
		if err != nil {
			return nil, err
		}
		s.Replicas = append(s.Replicas, r)
	}
	bin, err := peer.FindBinary("AWSAUTH_REDIS", "", "redis-server")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "awsauth-redis-sentinel-")
	if err != nil {
		return nil, err
	}
	port, err := peer.FreePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.SentinelAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	// Sentinel rewrites its config file, so it must be its own, writable.
	conf := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\n"+
		"sentinel monitor %s %s %s 1\n"+
		"sentinel down-after-milliseconds %s %d\n"+
		"sentinel failover-timeout %s %d\n"+
		"sentinel parallel-syncs %s %d\n",
		port, dir,
		SentinelMasterName, host, mport,
		SentinelMasterName, downAfter.Milliseconds(),
		SentinelMasterName, failoverTimeout.Milliseconds(),
		SentinelMasterName, max(replicas, 1))
	confPath := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.Command(bin, confPath, "--sentinel")
	cmd.Dir = dir
	cmd.Env = peer.Environ(nil)
	s.sentinel, err = peer.Start("redis-sentinel", cmd, peer.NewOutput())
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.sentinel.Cleanup = func() error { return os.RemoveAll(dir) }

	ctx, cancel := context.WithTimeout(ctx, peer.StartTimeout)
	defer cancel()
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.SentinelAddr, MaxRetries: -1})
	defer sc.Close()
	err = s.sentinel.WaitReady(ctx, func(ctx context.Context) error {
		addr, err := sc.GetMasterAddrByName(ctx, SentinelMasterName).Result()
		if err != nil {
			return err
		}
		if len(addr) != 2 || net.JoinHostPort(addr[0], addr[1]) != master.Addr {
			return fmt.Errorf("sentinel names master %v, want %s", addr, master.Addr)
		}
		if len(s.Replicas) == 0 {
			return nil
		}
		// The Sentinel learns replicas from the master's INFO (every 10 s
		// at first): only a replica it knows can be promoted.
		known, err := sc.Replicas(ctx, SentinelMasterName).Result()
		if err != nil {
			return err
		}
		up := 0
		for _, r := range known {
			if r["master-link-status"] == "ok" && !strings.Contains(r["flags"], "down") {
				up++
			}
		}
		if up < len(s.Replicas) {
			return fmt.Errorf("sentinel knows %d replicas in sync, want %d", up, len(s.Replicas))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// startRedisWith is StartRedis with extra redis-server arguments.
func startRedisWith(ctx context.Context, extra ...string) (*Redis, error) {
	dir, err := os.MkdirTemp("", "awsauth-redis-")
	if err != nil {
		return nil, err
	}
	r, err := runRedis(ctx, dir, false, extra)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	r.proc.Cleanup = func() error { return os.RemoveAll(dir) }
	return r, nil
}

// MasterAddr returns the host:port the Sentinel names as the master now.
func (s *RedisSentinel) MasterAddr(ctx context.Context) (string, error) {
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.SentinelAddr, MaxRetries: -1})
	defer sc.Close()
	addr, err := sc.GetMasterAddrByName(ctx, s.MasterName).Result()
	if err != nil {
		return "", fmt.Errorf("testenv: ask the sentinel for the master: %w", err)
	}
	if len(addr) != 2 {
		return "", fmt.Errorf("testenv: the sentinel names master %q", addr)
	}
	return net.JoinHostPort(addr[0], addr[1]), nil
}

// servers returns the master and the replicas of the start.
func (s *RedisSentinel) servers() []*Redis { return append([]*Redis{s.Master}, s.Replicas...) }

// KillMaster kills the server the Sentinel names as the master now with
// SIGKILL (no shutdown: what it had not sent to a replica is lost) and
// returns its address once it has exited. The Sentinel notices after
// FailoverDownAfter; WaitFailover waits for the new master.
func (s *RedisSentinel) KillMaster(ctx context.Context) (string, error) {
	addr, err := s.MasterAddr(ctx)
	if err != nil {
		return "", err
	}
	for _, r := range s.servers() {
		if r.Addr == addr {
			return addr, r.Kill(ctx)
		}
	}
	return "", fmt.Errorf("testenv: the sentinel names master %s, none of this set's servers", addr)
}

// WaitFailover waits until the Sentinel names a master other than old and
// that server answers ROLE as a master, and returns its address. It fails
// when ctx ends first (a failover takes a few seconds: see
// FailoverDownAfter).
func (s *RedisSentinel) WaitFailover(ctx context.Context, old string) (string, error) {
	var addr string
	err := s.sentinel.WaitReady(ctx, func(ctx context.Context) error {
		var err error
		addr, err = s.MasterAddr(ctx)
		if err != nil {
			return err
		}
		if addr == old {
			return fmt.Errorf("the sentinel still names %s", old)
		}
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		defer c.Close()
		role, err := c.Do(ctx, "ROLE").Slice()
		if err != nil {
			return err
		}
		if len(role) == 0 || role[0] != "master" {
			return fmt.Errorf("%s is not a master yet: ROLE %v", addr, role)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return addr, nil
}

// Logs returns the tail of the Sentinel's and every server's output.
func (s *RedisSentinel) Logs() string {
	var b strings.Builder
	if s.sentinel != nil {
		fmt.Fprintf(&b, "--- sentinel (%s) ---\n%s", s.SentinelAddr, s.sentinel.Logs())
	}
	for _, r := range s.servers() {
		fmt.Fprintf(&b, "--- server %s ---\n%s", r.Addr, r.Logs())
	}
	return b.String()
}

// Stop stops the Sentinel and every server, a killed one included. Safe to
// call more than once.
func (s *RedisSentinel) Stop() error {
	var errs []error
	if s.sentinel != nil {
		errs = append(errs, s.sentinel.Stop())
	}
	for _, r := range s.servers() {
		errs = append(errs, r.Stop())
	}
	return errors.Join(errs...)
}
