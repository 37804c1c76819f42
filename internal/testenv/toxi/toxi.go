// Package toxi puts a fault-injecting TCP proxy between a test's app and one
// of its peers: toxiproxy (github.com/Shopify/toxiproxy/v2), run in-process.
// The app dials Proxy.Addr instead of the peer; a test then slows, resets,
// black-holes or cuts the link and heals it again, while the peer itself runs
// untouched. Faults apply to the connections already open and to new ones.
package toxi

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Proxy is one TCP proxy in front of a peer.
type Proxy struct {
	// Addr is the proxy's loopback host:port, what the app dials.
	Addr string
	// Upstream is the peer's host:port.
	Upstream string

	mu     sync.Mutex
	p      *toxiproxy.Proxy
	toxics []string
	down   bool
}

// New starts a proxy on a free loopback port that forwards to upstream
// (host:port). Close stops it.
func New(name, upstream string) (*Proxy, error) {
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("toxi: start proxy %s to %s: %w", name, upstream, err)
	}
	return &Proxy{Addr: p.Listen, Upstream: upstream, p: p}, nil
}

// A Fault is one way the link misbehaves; Proxy.Inject applies it.
type Fault struct {
	// Name says what the fault is, for test names and logs: "latency 2s".
	Name string
	// toxics are toxiproxy toxics; down cuts the link instead.
	toxics []toxic
	down   bool
}

type toxic struct {
	Type       string         `json:"type"`
	Stream     string         `json:"stream"`
	Attributes map[string]any `json:"attributes"`
}

// Latency delays every chunk of data in both directions by d.
func Latency(d time.Duration) Fault {
	ms := d.Milliseconds()
	return Fault{Name: "latency " + d.String(), toxics: []toxic{
		{Type: "latency", Stream: "upstream", Attributes: map[string]any{"latency": ms}},
		{Type: "latency", Stream: "downstream", Attributes: map[string]any{"latency": ms}},
	}}
}

// Blackhole keeps connections open (new ones are accepted) but lets no byte
// through in either direction, as a peer that stopped answering or a dropped
// route does: callers see only their own timeouts.
func Blackhole() Fault {
	return Fault{Name: "blackhole", toxics: []toxic{
		{Type: "timeout", Stream: "upstream", Attributes: map[string]any{"timeout": 0}},
		{Type: "timeout", Stream: "downstream", Attributes: map[string]any{"timeout": 0}},
	}}
}

// ResetResponse lets requests reach the peer and resets the connection (TCP
// RST, data discarded) as soon as the peer starts answering: the peer acted on
// the request, the caller never learns the outcome.
func ResetResponse() Fault {
	return Fault{Name: "reset mid-response", toxics: []toxic{
		{Type: "reset_peer", Stream: "downstream", Attributes: map[string]any{"timeout": 0}},
	}}
}

// Down closes every open connection and refuses new ones (the proxy stops
// listening), as a peer whose process is gone does.
func Down() Fault { return Fault{Name: "down", down: true} }

// Inject applies f until Heal. Faults add up; injecting the same kind twice
// is an error.
func (p *Proxy) Inject(f Fault) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f.down {
		if !p.down {
			p.p.Stop()
			p.down = true
		}
		return nil
	}
	for _, t := range f.toxics {
		name := t.Type + "_" + t.Stream + "_" + strconv.Itoa(len(p.toxics))
		b, err := json.Marshal(struct {
			Name string `json:"name"`
			toxic
		}{name, t})
		if err != nil {
			return err
		}
		if _, err := p.p.Toxics.AddToxicJson(strings.NewReader(string(b))); err != nil {
			return fmt.Errorf("toxi: %s: add %s: %w", p.p.Name, f.Name, err)
		}
		p.toxics = append(p.toxics, name)
	}
	return nil
}

// Heal removes every fault: the proxy listens again on the same address and
// passes data unharmed. Connections that a fault broke stay broken; callers
// must reconnect, as they would after a real outage.
func (p *Proxy) Heal() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.p.Toxics.ResetToxics(context.Background())
	p.toxics = nil
	if p.down {
		p.p.Listen = p.Addr
		if err := p.p.Start(); err != nil {
			return fmt.Errorf("toxi: %s: listen again on %s: %w", p.p.Name, p.Addr, err)
		}
		p.down = false
	}
	return nil
}

// Close stops the proxy and closes its connections. Safe to call twice.
func (p *Proxy) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.p.Stop()
	p.down = true
}
