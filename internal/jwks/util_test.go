package jwks

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// RSA key generation is slow under -race, so each test process makes a few keys once.
var rsaKeys struct {
	once [4]sync.Once
	key  [4]*rsa.PrivateKey
}

// rsaKey returns test RSA-2048 key number i (0–3), generated in this process.
func rsaKey(t testing.TB, i int) *rsa.PrivateKey {
	t.Helper()
	rsaKeys.once[i].Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rsaKeys.key[i] = k
	})
	return rsaKeys.key[i]
}

func ecKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func edKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// jwk marshals pub as a JWK with go-jose, as a provider would publish it.
func jwk(t testing.TB, pub crypto.PublicKey, kid, alg, use string) json.RawMessage {
	t.Helper()
	b, err := jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: alg, Use: use}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jwksDoc is a JWKS document of the given members.
func jwksDoc(keys ...json.RawMessage) []byte {
	if keys == nil {
		keys = []json.RawMessage{}
	}
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		panic(err)
	}
	return b
}

func enc(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// hdr is a protected header with alg and, when not empty, kid.
func hdr(alg, kid string) string {
	m := map[string]string{"alg": alg, "typ": "JWT"}
	if kid != "" {
		m["kid"] = kid
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// sign makes a compact JWS of the raw header JSON and payload, signed with priv by alg. The
// header is used as given, so tests can craft hostile ones.
func sign(t testing.TB, alg string, priv crypto.Signer, header, payload string) string {
	t.Helper()
	input := enc([]byte(header)) + "." + enc([]byte(payload))
	a := algorithms[alg]
	var sig []byte
	var err error
	switch priv := priv.(type) {
	case ed25519.PrivateKey:
		sig = ed25519.Sign(priv, []byte(input))
	case *rsa.PrivateKey:
		var sum [64]byte
		d := a.digest(&sum, input)
		if a.pss {
			sig, err = rsa.SignPSS(rand.Reader, priv, a.hash, d, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, priv, a.hash, d)
		}
	case *ecdsa.PrivateKey:
		var sum [64]byte
		r, s, e := ecdsa.Sign(rand.Reader, priv, a.digest(&sum, input))
		err = e
		sig = make([]byte, 2*a.size)
		r.FillBytes(sig[:a.size])
		s.FillBytes(sig[a.size:])
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + enc(sig)
}

// rs256 is a token signed with rsaKey(i) under kid.
func rs256(t testing.TB, i int, kid string) string {
	return sign(t, "RS256", rsaKey(t, i), hdr("RS256", kid), `{"sub":"alice"}`)
}

// fakeClock is an injectable Now that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// jwksServer is a programmable jwks_uri.
type jwksServer struct {
	*httptest.Server
	requests atomic.Int64
	started  chan struct{} // one value per request received (buffered, never blocks)
	gate     chan struct{} // closed at the end of the test; slow modes wait on it
	release  chan struct{} // closed by the test to let modeGated answer

	mu   sync.Mutex
	body []byte
	mode string
}

// Modes of jwksServer.
const (
	modeOK          = ""
	mode500         = "500"
	modeNotJSON     = "not-json"
	modeHugeLength  = "huge-content-length"
	modeHugeChunked = "huge-chunked"
	modeSlowHeaders = "slow-headers"
	modeSlowBody    = "slow-body"
	modeGated       = "gated" // waits for release, then serves the body
)

func newJWKSServer(t testing.TB, body []byte) *jwksServer {
	s := &jwksServer{body: body, started: make(chan struct{}, 1000), gate: make(chan struct{}), release: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(s.gate) }) // runs first: releases stalled handlers so Close returns
	return s
}

func (s *jwksServer) set(mode string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = mode
	if body != nil {
		s.body = body
	}
}

func (s *jwksServer) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	select {
	case s.started <- struct{}{}:
	default:
	}
	s.mu.Lock()
	mode, body := s.mode, s.body
	s.mu.Unlock()

	const huge = 2 << 20
	switch mode {
	case mode500:
		http.Error(w, "boom", http.StatusInternalServerError)
	case modeNotJSON:
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html>maintenance</html>"))
	case modeHugeLength:
		w.Header().Set("Content-Length", strconv.Itoa(huge))
		w.Write(make([]byte, huge))
	case modeHugeChunked:
		for range huge / 4096 {
			if _, err := w.Write(make([]byte, 4096)); err != nil {
				return
			}
		}
	case modeSlowHeaders:
		s.wait(r)
	case modeGated:
		select {
		case <-s.release:
			w.Write(body)
		case <-s.gate:
		case <-r.Context().Done():
		}
	case modeSlowBody:
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		s.wait(r)
	default:
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(body)
	}
}

func (s *jwksServer) wait(r *http.Request) {
	select {
	case <-s.gate:
	case <-r.Context().Done():
	}
}

// newKeySet is a KeySet on srv with a fake clock.
func newKeySet(t testing.TB, srv *jwksServer, clock *fakeClock, mod func(*Config)) *KeySet {
	t.Helper()
	cfg := Config{URL: srv.URL, Now: clock.Now}
	if mod != nil {
		mod(&cfg)
	}
	ks, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
