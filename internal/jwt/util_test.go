package jwt

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/pubauth/awsauth/internal/jwks"
)

const (
	testIssuer = "https://idp.example"
	testClient = "client-1"
)

var testNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// testKeys are generated once per test binary: RSA-2048 generation is slow.
var testKeys = sync.OnceValue(func() [2]*rsa.PrivateKey {
	var ks [2]*rsa.PrivateKey
	for i := range ks {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		ks[i] = k
	}
	return ks
})

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwksOf is a JWKS document with key i of testKeys under kid.
func jwksOf(i int, kid string) []byte {
	pub := testKeys()[i].PublicKey
	doc := map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes()),
	}}}
	b, _ := json.Marshal(doc)
	return b
}

// mint signs claims with key i under header (alg RS256 and kid "k0" unless header says).
func mint(t testing.TB, i int, header map[string]any, claims map[string]any) string {
	t.Helper()
	h := map[string]any{"alg": "RS256", "kid": "k0"}
	for k, v := range header {
		if v == nil {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	hb, _ := json.Marshal(h)
	cb, _ := json.Marshal(claims)
	return signWith(t, i, b64(hb)+"."+b64(cb))
}

// idClaims are the claims of a good ID token for testClient, issued at testNow.
func idClaims() map[string]any {
	return map[string]any{
		"iss": testIssuer, "sub": "alice", "aud": testClient, "nonce": "n-1",
		"iat": testNow.Unix(), "exp": testNow.Add(5 * time.Minute).Unix(),
	}
}

// accessClaims are the claims of a good Cognito-shaped access token for testClient.
func accessClaims() map[string]any {
	return map[string]any{
		"iss": testIssuer, "sub": "alice", "client_id": testClient, "token_use": "access",
		"scope": "orders/read openid", "iat": testNow.Unix(), "exp": testNow.Add(5 * time.Minute).Unix(),
	}
}

// offlineKeys is a key set holding key 0 as "k0".
func offlineKeys(t testing.TB) *jwks.KeySet {
	t.Helper()
	ks, err := jwks.New(jwks.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Prime(jwksOf(0, "k0")); err != nil {
		t.Fatal(err)
	}
	return ks
}

func newVerifier(t testing.TB, ks *jwks.KeySet, p Profile) *Verifier {
	t.Helper()
	v, err := New(Config{Issuer: testIssuer, Keys: ks, Profile: p, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// with returns a copy of m with the changes; a nil value deletes the member.
func with(m map[string]any, changes map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for k, v := range changes {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

func signInput(t testing.TB, input string) string { return signWith(t, 0, input) }

// signWith signs input (header.payload) with key i, RS256.
func signWith(t testing.TB, i int, input string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, testKeys()[i], crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}
