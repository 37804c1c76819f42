package jwks

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func pemOf(t testing.TB, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func newPEMKeys(t testing.TB, base string, clock *fakeClock, mod func(*PEMConfig)) *PEMKeys {
	t.Helper()
	cfg := PEMConfig{URL: func(kid string) string { return base + "/" + kid }, Now: clock.Now, Logger: discard()}
	if mod != nil {
		mod(&cfg)
	}
	p, err := NewPEMKeys(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func parsed(t testing.TB, token string, e Encoding) *JWS {
	t.Helper()
	jws, err := ParseEncoding(token, 0, e)
	if err != nil {
		t.Fatal(err)
	}
	return &jws
}

// TestPEMKeys: a key is fetched once by kid and cached; the endpoint's failures are sorted into
// "no such key" (401 upstream) and "unavailable" (ErrFetch, 503 upstream).
func TestPEMKeys(t *testing.T) {
	k := ecKey(t, elliptic.P256())
	good := sign(t, "ES256", k, hdr("ES256", "kid-1"), `{"sub":"alice"}`)

	t.Run("fetched once, cached", func(t *testing.T) {
		srv := newJWKSServer(t, pemOf(t, k))
		p := newPEMKeys(t, srv.URL, newClock(), nil)
		for range 3 {
			if err := p.Verify(t.Context(), parsed(t, good, Unpadded), RefetchLimited); err != nil {
				t.Fatal(err)
			}
		}
		if p.Fetches() != 1 {
			t.Fatalf("fetches %d", p.Fetches())
		}
	})
	t.Run("bad signature under a cached key", func(t *testing.T) {
		srv := newJWKSServer(t, pemOf(t, k))
		p := newPEMKeys(t, srv.URL, newClock(), nil)
		other := sign(t, "ES256", ecKey(t, elliptic.P256()), hdr("ES256", "kid-1"), `{"sub":"alice"}`)
		if err := p.Verify(t.Context(), parsed(t, other, Unpadded), RefetchLimited); !errors.Is(err, ErrInvalidSignature) {
			t.Fatalf("got %v", err)
		}
	})
	for name, tc := range map[string]struct {
		mode      string
		body      []byte
		fetchFail bool
	}{
		"500":            {mode: mode500, fetchFail: true},
		"huge length":    {mode: modeHugeLength, fetchFail: true},
		"huge chunked":   {mode: modeHugeChunked, fetchFail: true},
		"slow headers":   {mode: modeSlowHeaders, fetchFail: true},
		"slow body":      {mode: modeSlowBody, fetchFail: true},
		"not PEM":        {mode: modeNotJSON, fetchFail: true},
		"two PEM blocks": {body: append(pemOf(t, k), pemOf(t, k)...), fetchFail: true},
		"P-384 key":      {body: pemOf(t, ecKey(t, elliptic.P384())), fetchFail: true},
		"certificate":    {body: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), fetchFail: true},
	} {
		t.Run(name, func(t *testing.T) {
			srv := newJWKSServer(t, pemOf(t, k))
			srv.set(tc.mode, tc.body)
			p := newPEMKeys(t, srv.URL, newClock(), func(c *PEMConfig) { c.FetchTimeout = 200 * time.Millisecond })
			err := p.Verify(t.Context(), parsed(t, good, Unpadded), RefetchLimited)
			if !errors.Is(err, ErrUnknownKey) || errors.Is(err, ErrFetch) != tc.fetchFail {
				t.Fatalf("got %v", err)
			}
		})
	}
}

// TestPEMKeysKid: a kid that could change the URL's path never reaches URL, nor the endpoint.
func TestPEMKeysKid(t *testing.T) {
	k := ecKey(t, elliptic.P256())
	var mu sync.Mutex
	var urls []string
	srv := newJWKSServer(t, pemOf(t, k))
	p, err := NewPEMKeys(PEMConfig{URL: func(kid string) string {
		mu.Lock()
		urls = append(urls, kid)
		mu.Unlock()
		return srv.URL + "/" + kid
	}, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	for _, kid := range []string{"", "../kid", "a/b", "a.b", "a%2Fb", "a?b", "a#b", "a b", "é", "a\x00", strings.Repeat("a", MaxKidBytes+1)} {
		tok := sign(t, "ES256", k, hdr("ES256", "x"), `{}`)
		jws := parsed(t, tok, Unpadded)
		jws.Kid = kid
		if err := p.Verify(t.Context(), jws, RefetchOnce); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("kid %q: %v", kid, err)
		}
	}
	if len(urls) != 0 || srv.requests.Load() != 0 {
		t.Fatalf("URL built for %q; %d requests", urls, srv.requests.Load())
	}
	if !ValidKid("12345678-1234-1234-1234-123456789012") {
		t.Fatal("an ALB kid (a UUID) refused")
	}
}

// TestPEMKeysFlood: made-up kids (the endpoint answers 404) cost one fetch per interval; a kid
// that exists is fetched at once when no failure is recent.
func TestPEMKeysFlood(t *testing.T) {
	k := ecKey(t, elliptic.P256())
	var requests sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := requests.LoadOrStore(r.URL.Path, new(int))
		*n.(*int)++
		if r.URL.Path != "/real" {
			http.Error(w, "NoSuchKey", http.StatusNotFound)
			return
		}
		w.Write(pemOf(t, k))
	}))
	t.Cleanup(srv.Close)
	clock := newClock()
	p := newPEMKeys(t, srv.URL, clock, nil)
	for i := range 50 {
		tok := sign(t, "ES256", k, hdr("ES256", "fake"+strings.Repeat("x", i)), `{}`)
		err := p.Verify(t.Context(), parsed(t, tok, Unpadded), RefetchLimited)
		if !errors.Is(err, ErrUnknownKey) || errors.Is(err, ErrFetch) {
			t.Fatalf("got %v", err)
		}
	}
	if p.Fetches() != 1 {
		t.Fatalf("fetches %d for 50 made-up kids", p.Fetches())
	}
	real := sign(t, "ES256", k, hdr("ES256", "real"), `{}`)
	if err := p.Verify(t.Context(), parsed(t, real, Unpadded), RefetchLimited); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("within the interval after a failure: %v", err)
	}
	clock.Advance(DefaultRefetchInterval)
	if err := p.Verify(t.Context(), parsed(t, real, Unpadded), RefetchLimited); err != nil {
		t.Fatal(err)
	}
	if p.Fetches() != 2 {
		t.Fatalf("fetches %d", p.Fetches())
	}
}

// TestPEMKeysSingleFlight: concurrent tokens naming one new kid share one fetch.
func TestPEMKeysSingleFlight(t *testing.T) {
	k := ecKey(t, elliptic.P256())
	srv := newJWKSServer(t, pemOf(t, k))
	srv.set(modeGated, nil)
	p := newPEMKeys(t, srv.URL, newClock(), nil)
	var waiting atomic.Int64
	p.testHookWait = func() { // the fetch is answered once all 20 wait for it
		if waiting.Add(1) == 20 {
			close(srv.release)
		}
	}
	tok := sign(t, "ES256", k, hdr("ES256", "kid-1"), `{}`)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() { errs <- p.Verify(context.Background(), parsed(t, tok, Unpadded), RefetchLimited) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if p.Fetches() != 1 {
		t.Fatalf("fetches %d", p.Fetches())
	}
}

// TestParsePadded: ALB's padded base64url is read only with Padded, and only as RFC 4648 pads.
func TestParsePadded(t *testing.T) {
	pad := base64.URLEncoding.EncodeToString
	h, pl := pad([]byte(`{"alg":"ES256","kid":"k","signer":"arn:x","client":"c"}`)), pad([]byte(`{"sub":"alice"}`))
	sig := pad(make([]byte, 64))
	padded := h + "." + pl + "." + sig
	if !strings.Contains(padded, "=") {
		t.Fatal("test token has no padding")
	}
	if _, err := Parse(padded, 0); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Parse accepted padding: %v", err)
	}
	jws, err := ParseEncoding(padded, 0, Padded)
	if err != nil {
		t.Fatal(err)
	}
	if !jws.Padded || jws.Signer != "arn:x" || jws.Client != "c" || string(jws.Payload) != `{"sub":"alice"}` ||
		jws.signingInput != h+"."+pl || strings.Contains(jws.signature, "=") {
		t.Fatalf("%+v", jws)
	}
	unpadded := strings.ReplaceAll(padded, "=", "")
	if jws, err := ParseEncoding(unpadded, 0, Padded); err != nil || jws.Padded {
		t.Fatalf("unpadded with Padded: %v %v", err, jws.Padded)
	}
	for _, bad := range []string{
		h + "=." + pl + "." + sig,                         // too much padding
		strings.TrimSuffix(h, "=") + "." + pl + "." + sig, // some of it
		"=" + h + "." + pl + "." + sig,
		h + "." + pl + "." + sig + "====",
		h + "." + pl + ".====",
		h + ".=." + sig,
	} {
		if _, err := ParseEncoding(bad, 0, Padded); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	for part, want := range map[string]bool{"": true, "QQ==": true, "QUI=": true, "QUJD": true, "QQ=": false,
		"QUI==": false, "Q===": false, "QQ=A": false, "QUJDRA==": true, "QUJDRA=": false} {
		if _, ok := trimPadding(part); ok != want {
			t.Errorf("trimPadding(%q) = %v", part, ok)
		}
	}
}

// TestHeaderSigner: signer and client must be strings when present.
func TestHeaderSigner(t *testing.T) {
	for header, ok := range map[string]bool{
		`{"alg":"ES256","signer":"arn"}`:            true,
		`{"alg":"ES256","signer":5}`:                false,
		`{"alg":"ES256","client":["c"]}`:            false,
		`{"alg":"ES256","signer":"a","signer":"b"}`: false,
	} {
		_, err := parseHeader([]byte(header))
		if (err == nil) != ok {
			t.Errorf("%s: %v", header, err)
		}
	}
}
