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

	proc *process
}

// StartRedis starts redis-server on a free loopback port with no persistence
// and returns once it answers PING. ctx bounds the start only.
func StartRedis(ctx context.Context) (*Redis, error) {
	dir, err := os.MkdirTemp("", "awsauth-redis-")
	if err != nil {
		return nil, err
	}
	r, err := runRedis(ctx, dir, false, nil)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	r.proc.cleanup = func() error { return os.RemoveAll(dir) }
	return r, nil
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
	bin, err := findBinary("AWSAUTH_REDIS", "", "redis-server")
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
	cmd.Env = environ(nil)
	r.proc, err = startProcess("redis-server", cmd, newOutput())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	if err := r.proc.waitReady(ctx, func(ctx context.Context) error { return redisPing(ctx, addr) }); err != nil {
		r.proc.stop()
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
	p, err := freePort()
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile(f, []byte(strconv.Itoa(p)+"\n"), 0o644); err != nil {
		return 0, err
	}
	return p, nil
}

// Logs returns the tail of the server's output.
func (r *Redis) Logs() string { return r.proc.out.String() }

// Stop stops the server; a server from StartRedis also loses its data. Safe
// to call more than once.
func (r *Redis) Stop() error { return r.proc.stop() }
