package bearer

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// bearerOP is a hostile token issuer for bearer tests: it serves discovery
// and a JWKS the test edits, counts JWKS fetches, and mints tokens with any
// header and claims, signed with keys generated in the test.
type bearerOP struct {
	t   testing.TB
	srv *httptest.Server

	mu      sync.Mutex
	keys    map[string]*rsa.PrivateKey // kid → key, published in the JWKS
	extra   []map[string]any           // extra raw JWKs appended to the set
	status  int                        // JWKS status; 0 = 200
	body    []byte                     // JWKS body override
	stall   chan struct{}              // when set, JWKS waits for it to close (or the client to leave)
	issuer  string                     // discovery issuer override
	fetches atomic.Int64
}

func newBearerOP(t testing.TB) *bearerOP {
	t.Helper()
	op := &bearerOP{t: t, keys: map[string]*rsa.PrivateKey{}}
	op.addKey("k1")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		op.mu.Lock()
		iss := op.issuer
		op.mu.Unlock()
		if iss == "" {
			iss = op.srv.URL
		}
		writeJSON(w, map[string]any{
			"issuer": iss, "jwks_uri": op.srv.URL + "/jwks",
			"authorization_endpoint": op.srv.URL + "/authorize", "token_endpoint": op.srv.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"public"},
		})
	})
	mux.HandleFunc("GET /jwks", op.jwks)
	op.srv = httptest.NewServer(mux)
	t.Cleanup(op.srv.Close)
	return op
}

func (op *bearerOP) iss() string     { return op.srv.URL }
func (op *bearerOP) jwksURL() string { return op.srv.URL + "/jwks" }

func (op *bearerOP) addKey(kid string) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		op.t.Fatal(err)
	}
	op.mu.Lock()
	op.keys[kid] = k
	op.mu.Unlock()
	return k
}

func (op *bearerOP) key(kid string) *rsa.PrivateKey {
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.keys[kid]
}

func (op *bearerOP) removeKey(kid string) {
	op.mu.Lock()
	delete(op.keys, kid)
	op.mu.Unlock()
}

func rsaJWK(pub *rsa.PublicKey, kid string) map[string]any {
	return map[string]any{
		"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes()),
	}
}

func (op *bearerOP) jwksDoc() []byte {
	op.mu.Lock()
	defer op.mu.Unlock()
	var keys []any
	for kid, k := range op.keys {
		keys = append(keys, rsaJWK(&k.PublicKey, kid))
	}
	for _, e := range op.extra {
		keys = append(keys, e)
	}
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

func (op *bearerOP) jwks(w http.ResponseWriter, r *http.Request) {
	op.fetches.Add(1)
	op.mu.Lock()
	status, body, stall := op.status, op.body, op.stall
	op.mu.Unlock()
	if stall != nil {
		select {
		case <-stall:
		case <-r.Context().Done():
			return
		}
	}
	if status != 0 {
		w.WriteHeader(status)
		return
	}
	if body == nil {
		body = op.jwksDoc()
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// claims returns a valid Cognito access token's claims for client.
func (op *bearerOP) claims(now time.Time, client string) map[string]any {
	return map[string]any{
		"iss": op.iss(), "sub": "alice-sub", "client_id": client, "token_use": "access",
		"scope": "openid orders/read", "cognito:groups": []string{"admin"}, "username": "alice",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": randomToken(), "auth_time": now.Unix(),
	}
}

// idClaims returns a valid Cognito ID token's claims for client.
func (op *bearerOP) idClaims(now time.Time, client string) map[string]any {
	return map[string]any{
		"iss": op.iss(), "sub": "alice-sub", "aud": client, "token_use": "id",
		"cognito:username": "alice", "email": "alice@example.com",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "auth_time": now.Unix(),
	}
}

// mint signs claims with the key kid, header {"alg":"RS256","kid":kid}.
func (op *bearerOP) mint(kid string, claims map[string]any) string {
	return op.mintHeader(kid, map[string]any{"alg": "RS256", "kid": kid}, claims)
}

// mintHeader signs claims with RS256 under the key signKid, whatever header says.
func (op *bearerOP) mintHeader(signKid string, header, claims map[string]any) string {
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(claims)
	return op.signRaw(signKid, b64(hb)+"."+b64(cb))
}

func (op *bearerOP) signRaw(kid, input string) string {
	k := op.key(kid)
	if k == nil {
		op.t.Fatalf("no key %q", kid)
	}
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
	if err != nil {
		op.t.Fatal(err)
	}
	return input + "." + b64(sig)
}

// rawPayload signs a payload given as JSON text, to send what json.Marshal can't (duplicates).
func (op *bearerOP) rawPayload(kid, payload string) string {
	hb, _ := json.Marshal(map[string]any{"alg": "RS256", "kid": kid})
	return op.signRaw(kid, b64(hb)+"."+b64([]byte(payload)))
}

// hs256 makes the alg-confusion token: HS256 keyed with the RSA public key's JWK bytes.
func (op *bearerOP) hs256(kid string, claims map[string]any) string {
	hb, _ := json.Marshal(map[string]any{"alg": "HS256", "kid": kid})
	cb, _ := json.Marshal(claims)
	input := b64(hb) + "." + b64(cb)
	pub, _ := json.Marshal(rsaJWK(&op.key(kid).PublicKey, kid))
	m := hmac.New(sha256.New, pub)
	m.Write([]byte(input))
	return input + "." + b64(m.Sum(nil))
}

// es256 signs with a fresh P-256 key published under kid (alg ES256).
func (op *bearerOP) es256(kid string, claims map[string]any) string {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		op.t.Fatal(err)
	}
	op.mu.Lock()
	op.extra = append(op.extra, map[string]any{
		"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
		"x": b64(k.X.FillBytes(make([]byte, 32))), "y": b64(k.Y.FillBytes(make([]byte, 32))),
	})
	op.mu.Unlock()
	hb, _ := json.Marshal(map[string]any{"alg": "ES256", "kid": kid})
	cb, _ := json.Marshal(claims)
	input := b64(hb) + "." + b64(cb)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k, sum[:])
	if err != nil {
		op.t.Fatal(err)
	}
	return input + "." + b64(append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...))
}

// tamper flips one bit of the signature.
func tamper(tok string) string {
	dot := strings.LastIndexByte(tok, '.')
	sig, err := b64dec(tok[dot+1:])
	if err != nil {
		panic(err)
	}
	sig[len(sig)/2] ^= 1
	return tok[:dot+1] + b64(sig)
}

// tamperClaims re-encodes the payload with mod applied, keeping the signature.
func tamperClaims(tok string, mod func(map[string]any)) string {
	parts := strings.SplitN(tok, ".", 3)
	p, err := b64dec(parts[1])
	if err != nil {
		panic(err)
	}
	var c map[string]any
	if err := json.Unmarshal(p, &c); err != nil {
		panic(err)
	}
	mod(c)
	cb, _ := json.Marshal(c)
	return parts[0] + "." + b64(cb) + "." + parts[2]
}

func b64dec(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// testClock is a settable clock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: time.Now().Truncate(time.Second)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// randomToken is a random kid or jti.
func randomToken() string { return rand.Text() }

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
