package jwks

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

var update = flag.Bool("update", false, "regenerate testdata/cognito_access_token.jwt and testdata/cognito_jwks.json")

const (
	tokenFile = "testdata/cognito_access_token.jwt"
	jwksFile  = "testdata/cognito_jwks.json"
)

// TestGenerateTestdata rewrites the fixed benchmark token (a Cognito-shaped RS256 access token of
// about 1 KB) and its JWKS with a fresh RSA-2048 key when run with -update. The private key is
// thrown away.
func TestGenerateTestdata(t *testing.T) {
	if !*update {
		t.Skip("run with -update to regenerate")
	}
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	const kid = "x7Qa1vN3pL0cR9sT2uW4yZ6bD8fH0jK2mP4rS6tV8w0="
	iat := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	claims := map[string]any{
		"sub":            "6f1c2e7a-9b3d-4c8e-a1f0-2d4b6c8e0a12",
		"cognito:groups": []string{"admin", "orders-readers"},
		"iss":            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEfGhI",
		"version":        2,
		"client_id":      "1example23456789abcdefghij",
		"origin_jti":     "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
		"event_id":       "a9b8c7d6-e5f4-4321-8765-43210fedcba9",
		"token_use":      "access",
		"scope":          "openid email profile orders/read orders/write",
		"auth_time":      iat,
		"iat":            iat,
		"exp":            iat + 100*365*24*3600,
		"jti":            "1a2b3c4d-5e6f-4a8b-9c0d-e1f2a3b4c5d6",
		"username":       "alice.example",
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	tok := sign(t, "RS256", priv, `{"kid":"`+kid+`","alg":"RS256"}`, string(payload))
	doc := jwksDoc(jwk(t, priv.Public(), kid, "RS256", "sig"))
	if err := os.MkdirAll(filepath.Dir(tokenFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tokenFile, []byte(tok+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(jwksFile, append(doc, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("token: %d bytes", len(tok))
}

func loadTestdata(tb testing.TB) (token string, jwksJSON []byte) {
	tb.Helper()
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		tb.Fatal(err)
	}
	doc, err := os.ReadFile(jwksFile)
	if err != nil {
		tb.Fatal(err)
	}
	return strings.TrimSpace(string(tok)), doc
}

func TestTestdataVerifies(t *testing.T) {
	tok, doc := loadTestdata(t)
	ks, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Prime(doc); err != nil {
		t.Fatal(err)
	}
	payload, err := ks.VerifySignature(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		TokenUse string `json:"token_use"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.TokenUse != "access" {
		t.Fatalf("claims %s: %v", payload, err)
	}
	if n := len(tok); n < 900 || n > 1300 {
		t.Errorf("benchmark token is %d bytes, want about 1 KB", n)
	}
}

func BenchmarkVerifySignatureRS256(b *testing.B) {
	tok, doc := loadTestdata(b)
	ks, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	if err := ks.Prime(doc); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.SetBytes(int64(len(tok)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ks.VerifySignature(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawRSAVerify is the floor: SHA-256 and rsa.VerifyPKCS1v15 over the same signing input.
func BenchmarkRawRSAVerify(b *testing.B) {
	tok, doc := loadTestdata(b)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(doc, &set); err != nil {
		b.Fatal(err)
	}
	pub := set.Keys[0].Key.(*rsa.PublicKey)
	dot := strings.LastIndexByte(tok, '.')
	input := []byte(tok[:dot])
	sig, err := b64.DecodeString(tok[dot+1:])
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(tok)))
	b.ReportAllocs()
	for b.Loop() {
		h := sha256.Sum256(input)
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGoJoseVerify is go-jose's generic path on the same token, for comparison.
func BenchmarkGoJoseVerify(b *testing.B) {
	tok, doc := loadTestdata(b)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(doc, &set); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(tok)))
	b.ReportAllocs()
	for b.Loop() {
		jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := jws.Verify(set.Keys[0]); err != nil {
			b.Fatal(err)
		}
	}
}
