// Package peer runs the processes behind internal/testenv's peers (and its
// minio and browser subpackages): it finds a peer's binary, picks a free
// loopback port, starts the peer in its own process group with its output
// captured, waits until it is ready, and stops it. Its errors keep the
// "testenv:" prefix, since they are what the Start functions return.
package peer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// StartTimeout bounds each peer's start on top of the caller's context: a
	// peer that is not up by then is broken, not slow. Peers start in well
	// under 5 s here; the margin is for a 2-core machine running the whole
	// suite under -race, where packages start their peers at the same time.
	StartTimeout = 60 * time.Second
	// PollInterval is how often a readiness probe is retried.
	PollInterval = 50 * time.Millisecond
	// stopGrace is how long a peer gets to exit on SIGTERM before SIGKILL.
	stopGrace = 3 * time.Second
	tailBytes = 16 << 10
)

// ToolsDir returns the directory scripts/deps.sh installs into:
// $AWSAUTH_TOOLS, or $HOME/.cache/awsauth.
func ToolsDir() string {
	if d := os.Getenv("AWSAUTH_TOOLS"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "awsauth")
}

// FindBinary looks for a peer's binary: the env override, then the tools cache,
// then PATH.
func FindBinary(envVar, cached string, names ...string) (string, error) {
	if p := os.Getenv(envVar); p != "" {
		if IsExecutable(p) {
			return p, nil
		}
		return "", fmt.Errorf("testenv: %s=%s is not an executable file (run scripts/deps.sh)", envVar, p)
	}
	if cached != "" {
		if dir := ToolsDir(); dir != "" {
			if p := filepath.Join(dir, "bin", cached); IsExecutable(p) {
				return p, nil
			}
		}
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("testenv: %s not found in $%s, %s or PATH: run scripts/deps.sh",
		names[0], envVar, filepath.Join(ToolsDir(), "bin"))
}

// IsExecutable reports whether p is a regular file with an execute bit set.
func IsExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// FreePort asks the kernel for a free loopback port. The port is released
// before the peer binds it; the kernel hands out ephemeral ports in an order
// that makes an immediate reuse by someone else unlikely, which is all tests need.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("testenv: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Output keeps the tail of a peer's combined output and remembers the first line
// matching each of a few patterns, so a start can wait for what the peer prints.
type Output struct {
	mu       sync.Mutex
	tail     []byte
	partial  []byte
	patterns []*regexp.Regexp
	matches  [][]string
	changed  chan struct{} // closed and replaced on every new line
}

// NewOutput returns an Output that remembers the first line matching each of
// patterns, for Process.WaitLine.
func NewOutput(patterns ...*regexp.Regexp) *Output {
	return &Output{
		patterns: patterns,
		matches:  make([][]string, len(patterns)),
		changed:  make(chan struct{}),
	}
}

func (o *Output) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.tail = append(o.tail, b...)
	if len(o.tail) > 2*tailBytes {
		o.tail = append(o.tail[:0], o.tail[len(o.tail)-tailBytes:]...)
	}
	o.partial = append(o.partial, b...)
	newLine := false
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			break
		}
		line := string(o.partial[:i])
		o.partial = o.partial[i+1:]
		newLine = true
		for j, re := range o.patterns {
			if o.matches[j] == nil {
				o.matches[j] = re.FindStringSubmatch(line)
			}
		}
	}
	if len(o.partial) > tailBytes { // a peer printing no newlines must not grow us forever
		o.partial = o.partial[:0]
	}
	if newLine {
		close(o.changed)
		o.changed = make(chan struct{})
	}
	return len(b), nil
}

// String returns the tail of the output.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.tail
	if len(t) > tailBytes {
		t = t[len(t)-tailBytes:]
	}
	return string(t)
}

func (o *Output) match(i int) ([]string, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.matches[i], o.changed
}

// Process is a started peer.
type Process struct {
	name    string
	cmd     *exec.Cmd
	out     *Output
	done    chan struct{} // closed once the process has exited
	waitErr error         // set before done is closed
	// Cleanup, if set, runs after the process has exited on Stop (it removes
	// the peer's temporary directory).
	Cleanup func() error

	stopOnce sync.Once
	stopErr  error
	killed   atomic.Bool // Kill ended it: Stop does not report its exit
}

// Start starts cmd in its own process group with its output captured.
func Start(name string, cmd *exec.Cmd, out *Output) (*Process, error) {
	cmd.Stdout = out
	cmd.Stderr = out
	// A grandchild that keeps the pipe open must not hang Wait forever.
	cmd.WaitDelay = stopGrace
	setProcessGroup(cmd)
	p := &Process{name: name, cmd: cmd, out: out, done: make(chan struct{})}
	// The peer is started, and waited for, by a goroutine locked to its OS
	// thread until the peer exits, so no other goroutine runs on that thread.
	// On Linux the peer's parent-death signal (proc_linux.go) fires when the
	// thread that forked it ends, not the process, and the runtime ends a
	// thread when a goroutine locked to it exits: any caller or library doing
	// that on the forking thread would kill the peer mid-test (golang/go#27505).
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("testenv: start %s: %w", name, err)
	}
	return p, nil
}

// Stop kills the process group and runs the cleanup; safe to call twice. It
// reports a peer that had died before it was asked to stop.
func (p *Process) Stop() error {
	p.stopOnce.Do(func() {
		var errs []error
		select {
		case <-p.done:
			if !p.killed.Load() {
				errs = append(errs, p.Fail(fmt.Errorf("exited before Stop: %v", p.waitErr)))
			}
		default:
			signalGroup(p.cmd, false)
			select {
			case <-p.done:
			case <-time.After(stopGrace):
				signalGroup(p.cmd, true)
				<-p.done
			}
		}
		if p.Cleanup != nil {
			errs = append(errs, p.Cleanup())
		}
		p.stopErr = errors.Join(errs...)
	})
	return p.stopErr
}

// state describes the running peer for an error, from /proc where there is
// one: "; process state R, cpu user 1.20s system 0.10s".
func (p *Process) state() string {
	if s := procState(p.cmd.Process.Pid); s != "" {
		return "; " + s
	}
	return ""
}

// Kill sends SIGKILL to the process group, as a crash or an OOM kill would
// (no shutdown, no final write), and returns once the process has exited or
// ctx ends. Stop still runs the cleanup afterwards and does not report the
// exit.
func (p *Process) Kill(ctx context.Context) error {
	p.killed.Store(true)
	select {
	case <-p.done:
		return nil
	default:
	}
	signalGroup(p.cmd, true)
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return p.Fail(fmt.Errorf("not dead after SIGKILL: %w", context.Cause(ctx)))
	}
}

// Fail wraps err with the peer's name and the tail of its output.
func (p *Process) Fail(err error) error {
	tail := p.out.String()
	if tail == "" {
		tail = "(no output)"
	}
	return fmt.Errorf("testenv: %s: %w\n--- %s output (tail) ---\n%s", p.name, err, p.name, tail)
}

// WaitLine waits until the peer prints a line matching pattern i.
func (p *Process) WaitLine(ctx context.Context, i int) ([]string, error) {
	for {
		m, changed := p.out.match(i)
		if m != nil {
			return m, nil
		}
		select {
		case <-changed:
		case <-p.done:
			if m, _ := p.out.match(i); m != nil {
				return m, nil
			}
			return nil, p.Fail(fmt.Errorf("exited while starting: %v", p.waitErr))
		case <-ctx.Done():
			return nil, p.Fail(fmt.Errorf("waiting for %q: %w%s", p.out.patterns[i], context.Cause(ctx), p.state()))
		}
	}
}

// WaitHTTP polls url until it answers 200, the peer exits, or ctx ends.
func (p *Process) WaitHTTP(ctx context.Context, url string) error {
	client := &http.Client{Timeout: time.Second}
	return p.WaitReady(ctx, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	})
}

// WaitReady calls probe every PollInterval until it succeeds, the peer exits,
// or ctx ends.
func (p *Process) WaitReady(ctx context.Context, probe func(context.Context) error) error {
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
	for {
		err := probe(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-tick.C:
		case <-p.done:
			return p.Fail(fmt.Errorf("exited while starting: %v", p.waitErr))
		case <-ctx.Done():
			return p.Fail(fmt.Errorf("not ready (%v): %w%s", err, context.Cause(ctx), p.state()))
		}
	}
}

// Environ returns the current environment without the variables whose names
// start with one of prefixes, plus extra: a peer must not pick up a developer's
// own configuration by accident.
func Environ(prefixes []string, extra ...string) []string {
	var env []string
next:
	for _, kv := range os.Environ() {
		for _, p := range prefixes {
			if len(kv) >= len(p) && kv[:len(p)] == p {
				continue next
			}
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// LoopbackURL is http://127.0.0.1:port.
func LoopbackURL(port int) string {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// Logs returns the tail of the peer's combined stdout and stderr.
func (p *Process) Logs() string { return p.out.String() }
