// Package testenv starts the real local peers that awsauth's tests and demo talk
// to: an OpenID provider (node oidc-provider), MinIO (STS web identity and S3 with
// per-user policies) and a headless Chromium driven by chromedp.
//
// Every Start function picks a free loopback port (unless told one), waits until
// the peer answers, and returns a handle whose Stop kills the peer's whole process
// group. The context given to a Start function bounds the start only: the peer
// runs until Stop. A start that fails returns an error carrying the tail of the
// peer's output.
//
// Binaries are found through an environment override (AWSAUTH_NODE,
// AWSAUTH_MINIO, AWSAUTH_CHROMIUM), then the tools cache that scripts/deps.sh
// fills (${AWSAUTH_TOOLS:-$HOME/.cache/awsauth}/bin), then PATH. Run
// `bash scripts/deps.sh` to install them.
package testenv

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
	"strconv"
	"sync"
	"time"
)

// MinIOVersion is the pinned MinIO build (a Go pseudo-version) that
// scripts/deps.sh installs as bin/minio-<MinIOVersion> in the tools cache.
const MinIOVersion = "v0.0.0-20260212201848-7aac2a2c5b7c"

const (
	// startTimeout bounds each peer's start on top of the caller's context: a
	// peer that is not up by then is broken, not slow.
	startTimeout = 30 * time.Second
	pollInterval = 50 * time.Millisecond
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

// findBinary looks for a peer's binary: the env override, then the tools cache,
// then PATH.
func findBinary(envVar, cached string, names ...string) (string, error) {
	if p := os.Getenv(envVar); p != "" {
		if isExecutable(p) {
			return p, nil
		}
		return "", fmt.Errorf("testenv: %s=%s is not an executable file (run scripts/deps.sh)", envVar, p)
	}
	if cached != "" {
		if dir := ToolsDir(); dir != "" {
			if p := filepath.Join(dir, "bin", cached); isExecutable(p) {
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

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// freePort asks the kernel for a free loopback port. The port is released
// before the peer binds it; the kernel hands out ephemeral ports in an order
// that makes an immediate reuse by someone else unlikely, which is all tests need.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("testenv: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// output keeps the tail of a peer's combined output and remembers the first line
// matching each of a few patterns, so a start can wait for what the peer prints.
type output struct {
	mu       sync.Mutex
	tail     []byte
	partial  []byte
	patterns []*regexp.Regexp
	matches  [][]string
	changed  chan struct{} // closed and replaced on every new line
}

func newOutput(patterns ...*regexp.Regexp) *output {
	return &output{
		patterns: patterns,
		matches:  make([][]string, len(patterns)),
		changed:  make(chan struct{}),
	}
}

func (o *output) Write(b []byte) (int, error) {
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
func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.tail
	if len(t) > tailBytes {
		t = t[len(t)-tailBytes:]
	}
	return string(t)
}

func (o *output) match(i int) ([]string, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.matches[i], o.changed
}

// process is a started peer.
type process struct {
	name    string
	cmd     *exec.Cmd
	out     *output
	done    chan struct{} // closed once the process has exited
	waitErr error         // set before done is closed
	cleanup func() error

	stopOnce sync.Once
	stopErr  error
}

// startProcess starts cmd in its own process group with its output captured.
func startProcess(name string, cmd *exec.Cmd, out *output) (*process, error) {
	cmd.Stdout = out
	cmd.Stderr = out
	// A grandchild that keeps the pipe open must not hang Wait forever.
	cmd.WaitDelay = stopGrace
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("testenv: start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// stop kills the process group and runs the cleanup; safe to call twice. It
// reports a peer that had died before it was asked to stop.
func (p *process) stop() error {
	p.stopOnce.Do(func() {
		var errs []error
		select {
		case <-p.done:
			errs = append(errs, p.fail(fmt.Errorf("exited before Stop: %v", p.waitErr)))
		default:
			signalGroup(p.cmd, false)
			select {
			case <-p.done:
			case <-time.After(stopGrace):
				signalGroup(p.cmd, true)
				<-p.done
			}
		}
		if p.cleanup != nil {
			errs = append(errs, p.cleanup())
		}
		p.stopErr = errors.Join(errs...)
	})
	return p.stopErr
}

// fail wraps err with the peer's name and the tail of its output.
func (p *process) fail(err error) error {
	tail := p.out.String()
	if tail == "" {
		tail = "(no output)"
	}
	return fmt.Errorf("testenv: %s: %w\n--- %s output (tail) ---\n%s", p.name, err, p.name, tail)
}

// waitLine waits until the peer prints a line matching pattern i.
func (p *process) waitLine(ctx context.Context, i int) ([]string, error) {
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
			return nil, p.fail(fmt.Errorf("exited while starting: %v", p.waitErr))
		case <-ctx.Done():
			return nil, p.fail(fmt.Errorf("waiting for %q: %w", p.out.patterns[i], context.Cause(ctx)))
		}
	}
}

// waitHTTP polls url until it answers 200, the peer exits, or ctx ends.
func (p *process) waitHTTP(ctx context.Context, url string) error {
	client := &http.Client{Timeout: time.Second}
	return p.waitReady(ctx, func(ctx context.Context) error {
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

// waitReady calls probe every pollInterval until it succeeds, the peer exits,
// or ctx ends.
func (p *process) waitReady(ctx context.Context, probe func(context.Context) error) error {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		err := probe(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-tick.C:
		case <-p.done:
			return p.fail(fmt.Errorf("exited while starting: %v", p.waitErr))
		case <-ctx.Done():
			return p.fail(fmt.Errorf("not ready (%v): %w", err, context.Cause(ctx)))
		}
	}
}

// environ returns the current environment without the variables whose names
// start with one of prefixes, plus extra: a peer must not pick up a developer's
// own configuration by accident.
func environ(prefixes []string, extra ...string) []string {
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

func loopbackURL(port int) string {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}
