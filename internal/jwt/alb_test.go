package jwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pubauth/awsauth/internal/jwks"
)

const (
	testSigner = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"
	testALBKid = "12345678-1234-1234-1234-123456789012"
)

// countingSource counts the key lookups a Verifier makes.
type countingSource struct {
	KeySource
	calls atomic.Int64
}

func (c *countingSource) Verify(ctx context.Context, t *jwks.JWS, r jwks.Refetch) error {
	c.calls.Add(1)
	return c.KeySource.Verify(ctx, t, r)
}

// albKeys is an offline key set holding k as testALBKid, behind a counter.
func albKeys(t testing.TB, k *ecdsa.PrivateKey) *countingSource {
	t.Helper()
	ks, err := jwks.New(jwks.Config{Algorithms: []string{"ES256"}})
	if err != nil {
		t.Fatal(err)
	}
	x, y := make([]byte, 32), make([]byte, 32)
	pub, _ := k.PublicKey.Bytes() // 0x04 || X || Y
	copy(x, pub[1:33])
	copy(y, pub[33:])
	doc, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "kid": testALBKid, "x": b64(x), "y": b64(y),
	}}})
	if err := ks.Prime(doc); err != nil {
		t.Fatal(err)
	}
	return &countingSource{KeySource: ks}
}

// mintALB signs an ALB-shaped token with k: the header's members as given over the defaults,
// each part encoded by encode.
func mintALB(t testing.TB, k *ecdsa.PrivateKey, header, claims map[string]any, encode func([]byte) string) string {
	t.Helper()
	h := with(map[string]any{
		"typ": "JWT", "alg": "ES256", "kid": testALBKid, "signer": testSigner, "client": testClient,
		"iss": testIssuer, "exp": testNow.Add(2 * time.Minute).Unix(),
	}, header)
	hb, _ := json.Marshal(h)
	cb, _ := json.Marshal(claims)
	input := encode(hb) + "." + encode(cb)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + encode(sig)
}

func albClaims() map[string]any {
	return map[string]any{"sub": "alice", "email": "alice@example.com", "username": "alice",
		"iss": testIssuer, "exp": testNow.Add(2 * time.Minute).Unix()}
}

var padded = base64.URLEncoding.EncodeToString

func TestALBProfile(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys := albKeys(t, k)
	v, err := New(Config{Issuer: testIssuer, Keys: keys, Profile: ALB([]string{testSigner}, []string{testClient}),
		Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	sec := func(d time.Duration) int64 { return testNow.Add(d).Unix() }
	cases := []struct {
		name           string
		header, claims map[string]any
		encode         func([]byte) string
		want           error
		lookup         bool // the key source is asked
	}{
		{"padded, as ALB sends", nil, albClaims(), padded, nil, true},
		{"unpadded", nil, albClaims(), b64, nil, true},
		{"no typ", map[string]any{"typ": nil}, albClaims(), padded, nil, true},
		{"typ at+jwt", map[string]any{"typ": "at+jwt"}, albClaims(), padded, ErrType, false},
		{"signer missing", map[string]any{"signer": nil}, albClaims(), padded, ErrSigner, false},
		{"signer of another account", map[string]any{"signer": strings.Replace(testSigner, "123456789012", "210987654321", 1)}, albClaims(), padded, ErrSigner, false},
		{"signer in another region", map[string]any{"signer": strings.Replace(testSigner, "eu-west-1", "us-east-1", 1)}, albClaims(), padded, ErrSigner, false},
		{"signer case", map[string]any{"signer": strings.ToUpper(testSigner)}, albClaims(), padded, ErrSigner, false},
		{"client of another app", map[string]any{"client": "other"}, albClaims(), padded, ErrSigner, false},
		{"client missing", map[string]any{"client": nil}, albClaims(), padded, ErrSigner, false},
		{"iss of another IdP", nil, with(albClaims(), map[string]any{"iss": "https://evil.example"}), padded, ErrIssuer, false},
		{"alg RS256", map[string]any{"alg": "RS256"}, albClaims(), padded, ErrAlgorithm, false},
		{"alg none", map[string]any{"alg": "none"}, albClaims(), padded, ErrAlgorithm, false},
		{"alg HS256", map[string]any{"alg": "HS256"}, albClaims(), padded, ErrAlgorithm, false},
		{"expired", nil, with(albClaims(), map[string]any{"exp": sec(-2 * time.Minute)}), padded, ErrExpired, true},
		{"exp missing", nil, with(albClaims(), map[string]any{"exp": nil}), padded, ErrNoExpiry, true},
		{"iat absent is fine", nil, albClaims(), padded, nil, true},
		{"iat in the future", nil, with(albClaims(), map[string]any{"iat": sec(time.Hour)}), padded, ErrIssuedAt, true},
		{"sub missing", nil, with(albClaims(), map[string]any{"sub": nil}), padded, ErrSubject, true},
		{"exp years ahead", nil, with(albClaims(), map[string]any{"exp": sec(3 * 365 * 24 * time.Hour)}), padded, ErrLifetime, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := keys.calls.Load()
			c, err := v.Verify(t.Context(), mintALB(t, k, tc.header, tc.claims, tc.encode), Options{})
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if looked := keys.calls.Load() > before; looked != tc.lookup {
				t.Fatalf("key lookup %v, want %v", looked, tc.lookup)
			}
			if err == nil && (c.Subject != "alice" || c.Username != "alice") {
				t.Fatalf("claims %+v", c)
			}
		})
	}

	t.Run("padding stripped after signing", func(t *testing.T) {
		tok := mintALB(t, k, nil, albClaims(), padded)
		if _, err := v.Verify(t.Context(), strings.ReplaceAll(tok, "=", ""), Options{}); !errors.Is(err, ErrSignature) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("padding refused by the other profiles", func(t *testing.T) {
		for _, p := range []Profile{IDToken([]string{testClient}, nil, true), AccessToken([]string{testClient}, nil, true, false)} {
			ov, err := New(Config{Issuer: testIssuer, Keys: keys, Profile: p, Now: func() time.Time { return testNow }})
			if err != nil {
				t.Fatal(err)
			}
			tok := mintALB(t, k, nil, albClaims(), padded)
			if _, err := ov.Verify(t.Context(), tok, Options{}); !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s: got %v", p.Kind, err)
			}
			parsedTok, err := parse(tok, 0, nil, jwks.Padded) // parsed leniently elsewhere: still refused
			if err != nil {
				t.Fatal(err)
			}
			if err := ov.VerifyParsed(t.Context(), &parsedTok, Options{}); !errors.Is(err, ErrPadding) {
				t.Fatalf("%s: got %v", p.Kind, err)
			}
		}
	})
	t.Run("config", func(t *testing.T) {
		for name, p := range map[string]Profile{
			"no signer":         ALB(nil, nil),
			"empty signer":      ALB([]string{""}, nil),
			"signers elsewhere": {Kind: "x", Types: []string{TypeNone}, Audience: AccessTokenAudience, ClientIDs: []string{"c"}, Signers: []string{"s"}},
			"aud with ALB":      {Kind: "x", Types: []string{TypeNone}, Audience: LoadBalancerAudience, Signers: []string{"s"}, Audiences: []string{"a"}},
		} {
			if _, err := New(Config{Issuer: testIssuer, Keys: keys, Profile: p}); err == nil {
				t.Errorf("%s: accepted", name)
			}
		}
	})
}
