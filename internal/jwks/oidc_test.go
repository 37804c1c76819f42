package jwks

import (
	"crypto"
	"encoding/json"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

// The key set behind go-oidc's ID-token verifier, with tokens signed by go-jose (an independent
// implementation of the signing side).
func TestOIDCVerifier(t *testing.T) {
	const issuer, clientID = "https://idp.example.com", "client-1"
	srv := newJWKSServer(t, jwksDoc(jwk(t, rsaKey(t, 0).Public(), "a", "RS256", "sig")))
	clock := newClock()
	ks := newKeySet(t, srv, clock, nil)
	var _ oidc.KeySet = ks
	verifier := oidc.NewVerifier(issuer, ks, &oidc.Config{
		ClientID:             clientID,
		SupportedSigningAlgs: ks.Algorithms(),
		Now:                  clock.Now,
	})

	now := clock.Now()
	claims := map[string]any{
		"iss": issuer, "aud": clientID, "sub": "alice", "nonce": "n-0S6_WzA2Mj",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	withClaims := func(change map[string]any) map[string]any {
		c := map[string]any{}
		for k, v := range claims {
			c[k] = v
		}
		for k, v := range change {
			c[k] = v
		}
		return c
	}

	tests := []struct {
		name   string
		token  string
		wantOK bool
	}{
		{"good", joseSign(t, jose.RS256, rsaKey(t, 0), "a", claims), true},
		{"good, kid absent (one key)", joseSign(t, jose.RS256, rsaKey(t, 0), "", claims), true},
		{"signed by another key under the kid", joseSign(t, jose.RS256, rsaKey(t, 1), "a", claims), false},
		{"unknown kid", joseSign(t, jose.RS256, rsaKey(t, 1), "b", claims), false},
		{"PS256 not allowed", joseSign(t, jose.PS256, rsaKey(t, 0), "a", claims), false},
		{"wrong audience", joseSign(t, jose.RS256, rsaKey(t, 0), "a", withClaims(map[string]any{"aud": "other"})), false},
		{"expired", joseSign(t, jose.RS256, rsaKey(t, 0), "a", withClaims(map[string]any{"exp": now.Add(-time.Hour).Unix()})), false},
		{"alg none", enc([]byte(`{"alg":"none"}`)) + "." + enc(mustJSON(t, claims)) + ".", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idt, err := verifier.Verify(t.Context(), tt.token)
			if tt.wantOK != (err == nil) {
				t.Fatalf("Verify: err = %v, want ok: %v", err, tt.wantOK)
			}
			if err == nil && idt.Subject != "alice" {
				t.Errorf("Subject = %q", idt.Subject)
			}
		})
	}
	if n := ks.Fetches(); n != 1 {
		t.Errorf("Fetches() = %d, want 1", n)
	}
}

func joseSign(t *testing.T, alg jose.SignatureAlgorithm, priv crypto.Signer, kid string, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: priv, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(mustJSON(t, claims))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
