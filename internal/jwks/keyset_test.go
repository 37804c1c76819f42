package jwks

import (
	"context"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"defaults", Config{URL: "https://idp.example.com/jwks"}, false},
		{"offline", Config{}, false},
		{"loopback http", Config{URL: "http://127.0.0.1:8080/jwks"}, false},
		{"localhost http", Config{URL: "http://localhost/jwks"}, false},
		{"ipv6 loopback http", Config{URL: "http://[::1]:9/jwks"}, false},
		{"every asymmetric alg", Config{Algorithms: []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}}, false},
		{"remote http", Config{URL: "http://idp.example.com/jwks"}, true},
		{"other scheme", Config{URL: "ftp://idp.example.com/jwks"}, true},
		{"no host", Config{URL: "https:///jwks"}, true},
		{"HS256", Config{Algorithms: []string{"RS256", "HS256"}}, true},
		{"HS512", Config{Algorithms: []string{"HS512"}}, true},
		{"none", Config{Algorithms: []string{"none"}}, true},
		{"None", Config{Algorithms: []string{"None"}}, true},
		{"lower-case rs256", Config{Algorithms: []string{"rs256"}}, true},
		{"Ed25519 is not a JWS alg", Config{Algorithms: []string{"Ed25519"}}, true},
		{"negative interval", Config{RefetchInterval: -time.Second}, true},
		{"negative timeout", Config{FetchTimeout: -time.Second}, true},
		{"negative body", Config{MaxBodyBytes: -1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("New: err = %v, want error: %v", err, tt.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "jwks: ") {
				t.Errorf("error %q lacks the jwks: prefix", err)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	tests := []struct {
		name         string
		interval     time.Duration
		wantInterval time.Duration
	}{
		{"zero", 0, DefaultRefetchInterval},
		{"kept", 30 * time.Second, 30 * time.Second},
		{"clamped", time.Hour, MaxRefetchInterval},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks, err := New(Config{RefetchInterval: tt.interval})
			if err != nil {
				t.Fatal(err)
			}
			if ks.interval != tt.wantInterval {
				t.Errorf("interval = %v, want %v", ks.interval, tt.wantInterval)
			}
			if ks.fetchTimeout != DefaultFetchTimeout || ks.maxBody != DefaultMaxBodyBytes || ks.maxTokenBytes != DefaultMaxTokenBytes {
				t.Errorf("defaults = %v, %d, %d", ks.fetchTimeout, ks.maxBody, ks.maxTokenBytes)
			}
			if got := ks.Algorithms(); len(got) != 1 || got[0] != "RS256" {
				t.Errorf("Algorithms() = %v, want [RS256]", got)
			}
		})
	}
}

func TestLazyFetchThenCache(t *testing.T) {
	srv := newJWKSServer(t, jwksDoc(jwk(t, rsaKey(t, 0).Public(), "a", "RS256", "sig")))
	ks := newKeySet(t, srv, newClock(), nil)
	if n := ks.Fetches(); n != 0 {
		t.Fatalf("New fetched %d times; the first fetch must be lazy", n)
	}
	tok := rs256(t, 0, "a")
	for i := range 20 {
		payload, err := ks.VerifySignature(t.Context(), tok)
		if err != nil {
			t.Fatalf("verify %d: %v", i, err)
		}
		if string(payload) != `{"sub":"alice"}` {
			t.Fatalf("payload = %q", payload)
		}
	}
	if n, r := ks.Fetches(), srv.requests.Load(); n != 1 || r != 1 {
		t.Errorf("Fetches() = %d, server saw %d requests; want 1 and 1", n, r)
	}
}

func TestUnknownKidRefetchInterval(t *testing.T) {
	srv := newJWKSServer(t, jwksDoc(jwk(t, rsaKey(t, 0).Public(), "a", "", "")))
	clock := newClock()
	ks := newKeySet(t, srv, clock, func(c *Config) { c.RefetchInterval = 10 * time.Second })
	steps := []struct {
		name        string
		advance     time.Duration
		kid         string
		wantErr     error
		wantFetches int64
	}{
		{"first use fetches", 0, "a", nil, 1},
		{"unknown kid within the interval fails at once", 0, "x", ErrUnknownKey, 1},
		{"still within the interval", 10*time.Second - time.Nanosecond, "y", ErrUnknownKey, 1},
		{"interval passed: one refetch", time.Nanosecond, "z", ErrUnknownKey, 2},
		{"the refetch counts for the interval", time.Second, "w", ErrUnknownKey, 2},
		{"known kid needs no fetch", time.Minute, "a", nil, 2},
		{"another interval: another refetch", 0, "v", ErrUnknownKey, 3},
	}
	for _, s := range steps {
		clock.Advance(s.advance)
		_, err := ks.VerifySignature(t.Context(), rs256(t, 0, s.kid))
		if !errors.Is(err, s.wantErr) || (s.wantErr == nil) != (err == nil) {
			t.Fatalf("%s: err = %v, want %v", s.name, err, s.wantErr)
		}
		if n := ks.Fetches(); n != s.wantFetches {
			t.Fatalf("%s: Fetches() = %d, want %d", s.name, n, s.wantFetches)
		}
	}
}

func TestUnknownKidFlood(t *testing.T) {
	srv := newJWKSServer(t, jwksDoc(jwk(t, rsaKey(t, 0).Public(), "good", "RS256", "sig")))
	clock := newClock()
	ks := newKeySet(t, srv, clock, nil)
	// One template signed token; the kid is swapped per token (the signature never gets looked at).
	tmpl := rs256(t, 0, "good")
	_, rest, _ := strings.Cut(tmpl, ".")
	flood := func(round int) {
		const goroutines, perG = 50, 200 // 10,000 tokens
		var wg sync.WaitGroup
		errs := make(chan error, goroutines)
		for g := range goroutines {
			wg.Go(func() {
				for i := range perG {
					kid := fmt.Sprintf("r%d-g%d-i%d-%x", round, g, i, rand.Uint64())
					tok := enc([]byte(hdr("RS256", kid))) + "." + rest
					if _, err := ks.VerifySignature(t.Context(), tok); !errors.Is(err, ErrUnknownKey) {
						errs <- fmt.Errorf("kid %s: err = %v, want ErrUnknownKey", kid, err)
						return
					}
				}
				if _, err := ks.VerifySignature(t.Context(), tmpl); err != nil {
					errs <- fmt.Errorf("good token during the flood: %v", err)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}

	flood(1)
	if n := ks.Fetches(); n != 1 {
		t.Fatalf("after the first flood Fetches() = %d, want 1", n)
	}
	clock.Advance(DefaultRefetchInterval)
	flood(2)
	if n := ks.Fetches(); n != 2 {
		t.Fatalf("after the second flood, one interval later, Fetches() = %d, want 2", n)
	}
	if r := srv.requests.Load(); r != 2 {
		t.Errorf("server saw %d requests, want 2", r)
	}
}

func TestBadSignatureUnderKnownKidNeverRefetches(t *testing.T) {
	srv := newJWKSServer(t, jwksDoc(jwk(t, rsaKey(t, 0).Public(), "a", "RS256", "sig")))
	clock := newClock()
	ks := newKeySet(t, srv, clock, nil)
	good := rs256(t, 0, "a")
	if _, err := ks.VerifySignature(t.Context(), good); err != nil {
		t.Fatal(err)
	}
	head, _, _ := strings.Cut(good, ".")
	sigAt := strings.LastIndexByte(good, '.')
	sigBytes, err := b64.DecodeString(good[sigAt+1:])
	if err != nil {
		t.Fatal(err)
	}
	// Another base64url letter, not a bit flip: '-' ^ 3 is '.', which would
	// make a malformed token rather than a wrong signature (the key is random).
	flip := []byte(good)
	flip[sigAt+5] = 'A'
	if good[sigAt+5] == 'A' {
		flip[sigAt+5] = 'B'
	}
	tests := []struct {
		name string
		tok  string
	}{
		{"signed by another key under the same kid", rs256(t, 1, "a")},
		{"payload changed", head + "." + enc([]byte(`{"sub":"mallory"}`)) + good[sigAt:]},
		{"signature byte changed", string(flip)},
		{"signature truncated", good[:sigAt+1] + enc(sigBytes[:len(sigBytes)-3])},
		{"signature extended", good[:sigAt+1] + enc(append(sigBytes, 0))},
		{"signature of another token", rs256(t, 0, "a")[:sigAt] + rs256(t, 1, "a")[sigAt:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock.Advance(time.Hour) // a refetch would be allowed
			before := ks.Fetches()
			_, err := ks.VerifySignature(t.Context(), tt.tok)
			if !errors.Is(err, ErrInvalidSignature) {
				t.Fatalf("err = %v, want ErrInvalidSignature", err)
			}
			if n := ks.Fetches(); n != before {
				t.Errorf("a bad signature under a known kid caused %d fetches", n-before)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	oldKey := jwk(t, rsaKey(t, 0).Public(), "old", "RS256", "sig")
	newKey := jwk(t, rsaKey(t, 1).Public(), "new", "RS256", "sig")

	t.Run("new key after the interval: one refetch then success", func(t *testing.T) {
		srv := newJWKSServer(t, jwksDoc(oldKey))
		clock := newClock()
		ks := newKeySet(t, srv, clock, nil)
		if _, err := ks.VerifySignature(t.Context(), rs256(t, 0, "old")); err != nil {
			t.Fatal(err)
		}
		srv.set(modeOK, jwksDoc(oldKey, newKey))
		clock.Advance(DefaultRefetchInterval)
		for range 3 {
			if _, err := ks.VerifySignature(t.Context(), rs256(t, 1, "new")); err != nil {
				t.Fatal(err)
			}
		}
		if n := ks.Fetches(); n != 2 {
			t.Errorf("Fetches() = %d, want 2 (first use + one refetch)", n)
		}
	})

	t.Run("new key within the interval: refused until it passes", func(t *testing.T) {
		srv := newJWKSServer(t, jwksDoc(oldKey))
		clock := newClock()
		ks := newKeySet(t, srv, clock, nil)
		if _, err := ks.VerifySignature(t.Context(), rs256(t, 0, "old")); err != nil {
			t.Fatal(err)
		}
		srv.set(modeOK, jwksDoc(newKey)) // old key retired at the same time
		clock.Advance(DefaultRefetchInterval / 2)
		if _, err := ks.VerifySignature(t.Context(), rs256(t, 1, "new")); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("err = %v, want ErrUnknownKey", err)
		}
		if n := ks.Fetches(); n != 1 {
			t.Fatalf("Fetches() = %d, want 1", n)
		}
		clock.Advance(DefaultRefetchInterval / 2)
		if _, err := ks.VerifySignature(t.Context(), rs256(t, 1, "new")); err != nil {
			t.Fatal(err)
		}
		if n := ks.Fetches(); n != 2 {
			t.Fatalf("Fetches() = %d, want 2", n)
		}
		// The refetched set replaced the old one: the retired key is gone.
		if _, err := ks.VerifySignature(t.Context(), rs256(t, 0, "old")); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("retired key: err = %v, want ErrUnknownKey", err)
		}
	})
}

func TestKidAbsent(t *testing.T) {
	p256 := ecKey(t, elliptic.P256())
	tests := []struct {
		name    string
		keys    [][]byte
		algs    []string
		tok     string
		wantErr error
	}{
		{
			name: "one key: used",
			keys: [][]byte{jwk(t, rsaKey(t, 0).Public(), "a", "RS256", "sig")},
			tok:  rs256(t, 0, ""),
		},
		{
			name: "one key without kid: used",
			keys: [][]byte{jwk(t, rsaKey(t, 0).Public(), "", "", "")},
			tok:  rs256(t, 0, ""),
		},
		{
			name: "one usable key for the alg among others: used",
			keys: [][]byte{jwk(t, rsaKey(t, 0).Public(), "a", "RS256", "sig"), jwk(t, p256.Public(), "e", "ES256", "sig")},
			algs: []string{"RS256", "ES256"},
			tok:  sign(t, "ES256", p256, hdr("ES256", ""), `{}`),
		},
		{
			name:    "several keys: ambiguous",
			keys:    [][]byte{jwk(t, rsaKey(t, 0).Public(), "a", "RS256", "sig"), jwk(t, rsaKey(t, 1).Public(), "b", "RS256", "sig")},
			tok:     rs256(t, 0, ""),
			wantErr: ErrAmbiguousKey,
		},
		{
			name:    "one kid on two usable keys: ambiguous",
			keys:    [][]byte{jwk(t, rsaKey(t, 0).Public(), "a", "RS256", "sig"), jwk(t, rsaKey(t, 1).Public(), "a", "", "sig")},
			tok:     rs256(t, 0, "a"),
			wantErr: ErrAmbiguousKey,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := make([]json.RawMessage, len(tt.keys))
			for i, k := range tt.keys {
				raw[i] = k
			}
			srv := newJWKSServer(t, jwksDoc(raw...))
			ks := newKeySet(t, srv, newClock(), func(c *Config) { c.Algorithms = tt.algs })
			_, err := ks.VerifySignature(t.Context(), tt.tok)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestFetchFailureKeepsCachedKeys(t *testing.T) {
	keyA := jwk(t, rsaKey(t, 0).Public(), "a", "RS256", "sig")
	keyB := jwk(t, rsaKey(t, 1).Public(), "b", "RS256", "sig")
	tests := []struct {
		name string
		mode string
		body []byte
		want error // besides ErrFetch
	}{
		{"HTTP 500", mode500, nil, nil},
		{"not JSON", modeNotJSON, nil, nil},
		{"body over MaxBodyBytes, with Content-Length", modeHugeLength, nil, nil},
		{"body over MaxBodyBytes, chunked", modeHugeChunked, nil, nil},
		{"zero usable keys", modeOK, jwksDoc(json.RawMessage(`{"kty":"oct","k":"c2VjcmV0"}`)), ErrNoUsableKeys},
		{"no keys member", modeOK, []byte(`{"kezs":[]}`), ErrNoUsableKeys},
		{"slow headers", modeSlowHeaders, nil, context.DeadlineExceeded},
		{"slow body", modeSlowBody, nil, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newJWKSServer(t, jwksDoc(keyA))
			clock := newClock()
			ks := newKeySet(t, srv, clock, func(c *Config) {
				c.FetchTimeout = 200 * time.Millisecond
				c.MaxBodyBytes = 64 << 10
			})
			tokA, tokB := rs256(t, 0, "a"), rs256(t, 1, "b")
			if _, err := ks.VerifySignature(t.Context(), tokA); err != nil {
				t.Fatal(err)
			}

			srv.set(tt.mode, tt.body)
			if tt.mode == modeSlowBody {
				srv.set(tt.mode, jwksDoc(keyA, keyB))
			}
			clock.Advance(DefaultRefetchInterval)
			start := time.Now()
			_, err := ks.VerifySignature(t.Context(), tokB)
			if !errors.Is(err, ErrFetch) || !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("err = %v, want ErrFetch and ErrUnknownKey", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want it to wrap %v", err, tt.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("failed fetch took %v", d)
			}
			var fe *FetchError
			if !errors.As(err, &fe) {
				t.Errorf("err = %v is not a *FetchError", err)
			}
			if n := ks.Fetches(); n != 2 {
				t.Fatalf("Fetches() = %d, want 2", n)
			}

			// The cached key still works; the failed attempt counts for the interval.
			if _, err := ks.VerifySignature(t.Context(), tokA); err != nil {
				t.Fatalf("cached key after a failed fetch: %v", err)
			}
			_, err = ks.VerifySignature(t.Context(), tokB)
			if !errors.Is(err, ErrUnknownKey) || errors.Is(err, ErrFetch) {
				t.Fatalf("err = %v, want ErrUnknownKey without a fetch", err)
			}
			if n := ks.Fetches(); n != 2 {
				t.Fatalf("Fetches() = %d after the interval-limited retry, want 2", n)
			}

			// Once the endpoint heals and the interval passes, the new key arrives.
			srv.set(modeOK, jwksDoc(keyA, keyB))
			clock.Advance(DefaultRefetchInterval)
			if _, err := ks.VerifySignature(t.Context(), tokB); err != nil {
				t.Fatalf("after recovery: %v", err)
			}
		})
	}
}

func TestFirstFetchFails(t *testing.T) {
	srv := newJWKSServer(t, nil)
	srv.set(mode500, nil)
	clock := newClock()
	ks := newKeySet(t, srv, clock, nil)
	_, err := ks.VerifySignature(t.Context(), rs256(t, 0, "a"))
	var fe *FetchError
	if !errors.As(err, &fe) || fe.StatusCode != http.StatusInternalServerError {
		t.Fatalf("err = %v, want a FetchError with status 500", err)
	}
	if _, err := ks.Key(t.Context(), "a", "RS256"); !errors.Is(err, ErrUnknownKey) || errors.Is(err, ErrFetch) {
		t.Fatalf("second try within the interval: err = %v, want ErrUnknownKey without a fetch", err)
	}
	if n := ks.Fetches(); n != 1 {
		t.Fatalf("Fetches() = %d, want 1", n)
	}
}

// Each caller honours its own ctx; the fetch it started goes on for the others.
func TestCallersShareOneFetchWithTheirOwnContext(t *testing.T) {
	srv := newJWKSServer(t, jwksDoc(jwk(t, rsaKey(t, 0).Public(), "a", "RS256", "sig")))
	srv.set(modeGated, nil)
	ks := newKeySet(t, srv, newClock(), func(c *Config) { c.FetchTimeout = time.Minute })
	waiting := make(chan struct{}, 10)
	ks.testHookWait = func() { waiting <- struct{}{} }

	ctxA, cancelA := context.WithCancel(t.Context())
	errA := make(chan error, 1)
	go func() {
		_, err := ks.Key(ctxA, "a", "RS256")
		errA <- err
	}()
	<-srv.started // A's fetch reached the server
	<-waiting     // A waits for it

	errB := make(chan error, 1)
	go func() {
		_, err := ks.Key(t.Context(), "a", "RS256")
		errB <- err
	}()
	<-waiting // B joined the same fetch

	cancelA()
	if err := <-errA; !errors.Is(err, context.Canceled) {
		t.Fatalf("A: err = %v, want context.Canceled", err)
	}
	select {
	case err := <-errB:
		t.Fatalf("B returned before the fetch ended: %v", err)
	default:
	}
	close(srv.release) // the server answers the fetch A started
	if err := <-errB; err != nil {
		t.Fatalf("B: %v", err)
	}
	if n := ks.Fetches(); n != 1 {
		t.Fatalf("Fetches() = %d, want 1 shared fetch", n)
	}
}

func TestDefaultClientRedirectPolicy(t *testing.T) {
	mk := func(raw string) *http.Request {
		r, err := http.NewRequest(http.MethodGet, raw, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	origin := []*http.Request{mk("https://idp.example.com/jwks")}
	if err := sameScheme(mk("https://cdn.example.com/jwks"), origin); err != nil {
		t.Errorf("https → https: %v", err)
	}
	if err := sameScheme(mk("http://idp.example.com/jwks"), origin); err == nil {
		t.Error("https → http allowed")
	}
	many := []*http.Request{origin[0], origin[0], origin[0], origin[0], origin[0]}
	if err := sameScheme(mk("https://idp.example.com/jwks"), many); err == nil {
		t.Error("sixth redirect allowed")
	}
}

func TestConfiguredHTTPClientIsUsed(t *testing.T) {
	srv := newJWKSServer(t, jwksDoc(jwk(t, rsaKey(t, 0).Public(), "a", "RS256", "sig")))
	var used bool
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used = true
		return http.DefaultTransport.RoundTrip(r)
	})}
	ks := newKeySet(t, srv, newClock(), func(c *Config) { c.HTTPClient = client })
	if _, err := ks.VerifySignature(t.Context(), rs256(t, 0, "a")); err != nil {
		t.Fatal(err)
	}
	if !used {
		t.Error("Config.HTTPClient was not used")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// verifyWith parses tok and verifies it under r.
func verifyWith(t *testing.T, ks *KeySet, tok string, r Refetch) error {
	t.Helper()
	jws, err := Parse(tok, 0)
	if err != nil {
		t.Fatal(err)
	}
	return ks.Verify(t.Context(), &jws, r)
}

// A token from the issuer's token endpoint gets its refetch even right after an unknown-kid
// probe used up the interval; tokens anyone can send still wait for the interval.
func TestRefetchOnceIgnoresTheInterval(t *testing.T) {
	oldKey := jwk(t, rsaKey(t, 0).Public(), "old", "RS256", "sig")
	newKey := jwk(t, rsaKey(t, 1).Public(), "new", "RS256", "sig")
	srv := newJWKSServer(t, jwksDoc(oldKey))
	clock := newClock()
	ks := newKeySet(t, srv, clock, nil)

	if err := verifyWith(t, ks, rs256(t, 0, "old"), RefetchLimited); err != nil {
		t.Fatal(err)
	}
	clock.Advance(DefaultRefetchInterval)
	if err := verifyWith(t, ks, rs256(t, 0, "probe"), RefetchLimited); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("probe: err = %v, want ErrUnknownKey", err)
	}
	if n := ks.Fetches(); n != 2 {
		t.Fatalf("after the probe: Fetches() = %d, want 2", n)
	}
	srv.set(modeOK, jwksDoc(oldKey, newKey)) // the provider rotates right after the probe

	if err := verifyWith(t, ks, rs256(t, 1, "new"), RefetchLimited); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("limited: err = %v, want ErrUnknownKey (the interval holds)", err)
	}
	if n := ks.Fetches(); n != 2 {
		t.Fatalf("limited: Fetches() = %d, want 2", n)
	}
	if err := verifyWith(t, ks, rs256(t, 1, "new"), RefetchOnce); err != nil {
		t.Fatalf("once: %v", err)
	}
	if n := ks.Fetches(); n != 3 {
		t.Fatalf("once: Fetches() = %d, want exactly one more", n)
	}
	// A kid the set still lacks after its own fetch is refused, at the cost of one fetch per call.
	if err := verifyWith(t, ks, rs256(t, 1, "gone"), RefetchOnce); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("missing kid: err = %v, want ErrUnknownKey", err)
	}
	if n := ks.Fetches(); n != 4 {
		t.Fatalf("missing kid: Fetches() = %d, want 4", n)
	}
}

// A RefetchOnce caller that joins a fetch started before it (which may predate the rotation)
// and still misses the key makes one fetch of its own.
func TestRefetchOnceAfterAJoinedStaleFetch(t *testing.T) {
	oldKey := jwk(t, rsaKey(t, 0).Public(), "old", "RS256", "sig")
	newKey := jwk(t, rsaKey(t, 1).Public(), "new", "RS256", "sig")
	srv := newJWKSServer(t, jwksDoc(oldKey))
	srv.set(modeGated, nil)
	ks := newKeySet(t, srv, newClock(), func(c *Config) { c.FetchTimeout = time.Minute })
	waiting := make(chan struct{}, 10)
	ks.testHookWait = func() { waiting <- struct{}{} }

	first := make(chan error, 1)
	go func() { _, err := ks.Key(t.Context(), "old", "RS256"); first <- err }()
	<-srv.started // the first fetch reached the server, which will answer with the old set
	<-waiting

	tok := rs256(t, 1, "new")
	jws, err := Parse(tok, 0)
	if err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	go func() { second <- ks.Verify(t.Context(), &jws, RefetchOnce) }()
	<-waiting // joined the running fetch

	srv.set(modeOK, jwksDoc(oldKey, newKey)) // later requests see the rotated set
	close(srv.release)                       // the gated fetch answers with the old set
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatalf("RefetchOnce after a stale joined fetch: %v", err)
	}
	if n := ks.Fetches(); n != 2 {
		t.Fatalf("Fetches() = %d, want 2 (the joined one and its own)", n)
	}
}
