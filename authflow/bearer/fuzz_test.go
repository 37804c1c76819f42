package bearer

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzBearerToken: any Authorization value parses or fails with one of the
// sentinels, without panic; what parses is a b64token that round-trips.
func FuzzTokenFromHeader(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer a.b.c", "BEARER  x==", "Basic YQ==", "Bearer", "Bearer a b",
		"Bearer a,b", "Bearer\ta", " Bearer x", "Bearer é", "Bearer " + strings.Repeat("a", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		tok, err := TokenFromHeader(http.Header{"Authorization": {v}}, 256)
		if err != nil {
			if tok != "" {
				t.Fatal("token returned with an error")
			}
			if _, code := statusOf(err); code == "insufficient_scope" {
				t.Fatalf("unexpected class: %v", err)
			}
			return
		}
		if !isB64Token(tok) || len(v) > 256 {
			t.Fatalf("accepted %q from %q", tok, v)
		}
		again, err := TokenFromHeader(http.Header{"Authorization": {"Bearer " + tok}}, 0)
		if err != nil || again != tok {
			t.Fatalf("round trip of %q: %q %v", tok, again, err)
		}
	})
}

// noNetwork refuses every request: the fuzzed verifier must never reach
// out (a Cognito issuer's key set URL is a real host).
type noNetwork struct{}

func (noNetwork) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("fuzz: no network")
}

// FuzzBearerVerify feeds arbitrary tokens to a Verifier holding the fixed
// benchmark key, whose key set fetches all fail: no panic, a clean error, and
// nothing accepted but the one genuine token (no forgery, no second encoding
// of it). The error is a 401, or a 503 (ErrKeySetUnavailable) for a token
// naming a kid the key set lacks: that triggers a fetch of the issuer's key
// set (rate-limited), which fails here, and the verifier can't tell a forged
// kid from a key rotated in.
func FuzzBearerVerify(f *testing.F) {
	tok, doc := benchTestdata(f)
	b, err := New(context.Background(), Config{
		Issuers:     []Issuer{{Issuer: benchIssuer, ClientIDs: []string{benchClient}, JWKS: doc}},
		MaxLifetime: 200 * 365 * 24 * time.Hour, // the fixed token lives 100 years
		HTTPClient:  &http.Client{Transport: noNetwork{}},
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	f.Add(tok)
	// Another kid (found by the fuzzer): a refetch, which fails.
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"kid":"S6tV8w0=","alg":"RS256"}`)) + "." + parts[1] + ".HO")
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add(parts[0] + "." + parts[1] + "." + parts[2] + "=")
	f.Add("eyJhbGciOiJub25lIn0." + parts[1] + ".")
	f.Add(parts[0] + ".." + parts[2])
	f.Add(strings.Repeat(".", 64))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := b.Verify(ctx, raw)
		if err != nil {
			if c != nil {
				t.Fatal("claims with an error")
			}
			status, _ := statusOf(err)
			if status != http.StatusUnauthorized && (status != http.StatusServiceUnavailable || !errors.Is(err, ErrKeySetUnavailable)) {
				t.Fatalf("verification gave status %d: %v", status, err)
			}
			return
		}
		if raw != tok {
			t.Fatalf("accepted a token other than the genuine one: %q", raw)
		}
	})
}
