package faults

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/internal/testenv/toxi"
)

// Bounds of the provider and moto cells (EXPECTED_provider.md).
const (
	reqTimeout    = 5 * time.Second // the app's HTTP client timeout: "the request timeout"
	slack         = 1500 * time.Millisecond
	latency2s     = 2 * time.Second
	latencyBeyond = 6 * time.Second // each way: beyond reqTimeout
	awsTimeout    = 6 * time.Second // awscreds providers' Timeout
	awsBeyond     = 4 * time.Second // each way: a call takes 8 s, beyond awsTimeout
)

// proxied returns an http.Client (timeout reqTimeout) whose connections to
// upstream (host:port) go through a new toxi proxy, so URLs and Host headers
// stay those of the peer; other hosts are dialed directly.
func proxied(t *testing.T, name, upstream string, timeout time.Duration) (*http.Client, *toxi.Proxy) {
	t.Helper()
	p, err := toxi.New(name, upstream)
	require.NoError(t, err)
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr == upstream {
				addr = p.Addr
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost: 16,
	}
	c := &http.Client{Transport: tr, Timeout: timeout}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		p.Close()
	})
	return c, p
}

// inject applies f to p; the cell heals it at its end in any case.
func inject(t *testing.T, p *toxi.Proxy, f toxi.Fault) {
	t.Helper()
	require.NoError(t, p.Inject(f))
	t.Cleanup(func() { _ = p.Heal() })
}

// timed runs f and returns how long it took.
func timed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}
