package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pubauth/awsauth/examples/internal/exampleapp"
)

// The cold start of issue 10: from handler construction (newApp, what main
// runs at a Lambda instance's start) to the first verified API response.
// No provider process is needed: the user pool is played by an httptest
// server behind a transport that records every request.

const (
	coldPool     = "eu-west-1_C0ld5tart"
	coldIssuer   = "https://cognito-idp.eu-west-1.amazonaws.com/" + coldPool
	coldDomain   = "myapp.auth.eu-west-1.amazoncognito.com"
	coldClientID = "web"
	coldPublic   = "https://abc123defg.execute-api.eu-west-1.amazonaws.com/prod"
)

// coldStart holds the user pool's key, its JWKS saved to a file, an access
// token it signed, and a stand-in for AWS that serves the pool's discovery
// document and jwks.json.
type coldStart struct {
	jwksFile string
	token    string
	event    json.RawMessage // an HTTP API (payload 2.0) event for GET /api/orders with token
	pool     *httptest.Server
}

func newColdStart(tb testing.TB) *coldStart {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, _ := json.Marshal(map[string]any{"keys": []any{map[string]any{
		"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
		"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
	}}})
	c := &coldStart{jwksFile: filepath.Join(tb.TempDir(), "jwks.json")}
	if err := os.WriteFile(c.jwksFile, jwks, 0o600); err != nil {
		tb.Fatal(err)
	}
	// A Cognito-shaped access token (no aud, token_use, client_id, scope).
	now := time.Now()
	header, _ := json.Marshal(map[string]any{"alg": "RS256", "kid": "k1"})
	claims, _ := json.Marshal(map[string]any{
		"iss": coldIssuer, "sub": "alice", "username": "alice", "token_use": "access", "client_id": coldClientID,
		"scope": "openid orders/read", "iat": now.Unix(), "auth_time": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"jti": "j-1", "origin_jti": "o-1", "event_id": "e-1",
	})
	input := b64(header) + "." + b64(claims)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		tb.Fatal(err)
	}
	c.token = input + "." + b64(sig)
	raw, err := os.ReadFile("testdata/httpapi_v2_api_orders.json")
	if err != nil {
		tb.Fatal(err)
	}
	c.event = json.RawMessage(strings.ReplaceAll(string(raw), "{{TOKEN}}", c.token))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		exampleapp.WriteJSON(w, http.StatusOK, map[string]any{
			"issuer":                                coldIssuer,
			"authorization_endpoint":                "https://" + coldDomain + "/oauth2/authorize",
			"token_endpoint":                        "https://" + coldDomain + "/oauth2/token",
			"jwks_uri":                              coldIssuer + "/.well-known/jwks.json",
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported":              []string{"code", "token"},
			"subject_types_supported":               []string{"public"},
		})
	})
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(jwks)
	})
	c.pool = httptest.NewTLSServer(mux) // https, as Cognito: each cold start pays a TLS handshake
	tb.Cleanup(c.pool.Close)
	return c
}

// recorder counts every request the app makes; with pool set it sends the
// user pool issuer's to it (over loopback, on new connections as a new
// process would), else it refuses them all.
type recorder struct {
	pool     *url.URL
	next     http.RoundTripper
	requests atomic.Int64
}

// newRecorder records and refuses every request (pool nil), or sends the
// pool's to it.
func newRecorder(pool *httptest.Server) *recorder {
	if pool == nil {
		return &recorder{}
	}
	u, _ := url.Parse(pool.URL)
	return &recorder{pool: u, next: pool.Client().Transport.(*http.Transport).Clone()}
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.requests.Add(1)
	if r.pool == nil || !strings.HasPrefix(req.URL.String(), coldIssuer+"/") {
		return nil, errors.New("recorder: no network")
	}
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host, req.Host = r.pool.Scheme, r.pool.Host, r.pool.Host
	req.URL.Path = strings.TrimPrefix(req.URL.Path, "/"+coldPool)
	return r.next.RoundTrip(req)
}

// config is the example's configuration for the pool: primed (Cognito
// domain and JWKS file set: no discovery, no key fetch) or not (the
// discovery + JWKS path).
func (c *coldStart) config(primed bool, client *http.Client) config {
	cfg := config{
		Login: exampleapp.Login{Issuer: coldIssuer, ClientID: coldClientID, RedirectURL: coldPublic + "/callback",
			CookieKeys: [][]byte{make([]byte, 32)}, TokenStoreURL: "memory://", Scopes: defaultScopes},
		PublicURL: coldPublic, APIURL: coldPublic + "/api", HTTPClient: client,
	}
	if primed {
		cfg.CognitoDomain, cfg.JWKSFile = coldDomain, c.jwksFile
	}
	return cfg
}

// firstResponse is a Lambda instance's start: the handler built as main
// builds it, then the first event answered. It returns the response's status.
func (c *coldStart) firstResponse(ctx context.Context, cfg config) (int, error) {
	h, err := newApp(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return 0, err
	}
	out, err := lambdaHandler(h, publicBasePath(cfg.PublicURL))(ctx, c.event)
	if err != nil {
		return 0, err
	}
	b, _ := json.Marshal(out)
	var resp struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	json.Unmarshal(b, &resp)
	if resp.StatusCode == http.StatusOK && !strings.Contains(resp.Body, `"sub": "alice"`) {
		return 0, errors.New("the API answered 200 without alice's orders: " + resp.Body)
	}
	return resp.StatusCode, nil
}

// TestColdStartNoNetwork: with a Cognito issuer, COGNITO_DOMAIN and
// OIDC_JWKS_FILE, the example starts and answers its first API request,
// verified, with zero network requests; without them the same start makes
// the discovery and key set requests.
func TestColdStartNoNetwork(t *testing.T) {
	c := newColdStart(t)

	rec := newRecorder(nil)
	status, err := c.firstResponse(t.Context(), c.config(true, &http.Client{Transport: rec}))
	if err != nil || status != http.StatusOK {
		t.Fatalf("primed: status %d, %v", status, err)
	}
	if n := rec.requests.Load(); n != 0 {
		t.Errorf("primed: %d network requests before the first response, want 0", n)
	}

	rec = newRecorder(c.pool)
	status, err = c.firstResponse(t.Context(), c.config(false, &http.Client{Transport: rec}))
	if err != nil || status != http.StatusOK {
		t.Fatalf("discovery + JWKS: status %d, %v", status, err)
	}
	if n := rec.requests.Load(); n != 2 {
		t.Errorf("discovery + JWKS: %d network requests, want 2 (discovery, jwks.json)", n)
	}
}

// BenchmarkColdStart measures a Lambda instance's start to its first
// verified API response: "primed" with COGNITO_DOMAIN and OIDC_JWKS_FILE
// (no request), "discovery+jwks" without them (discovery at start, the key
// set at the first request, each over new loopback TLS connections: a real
// user pool adds its network round trips on top).
// Run: go test -run '^$' -bench ColdStart ./examples/lambda
func BenchmarkColdStart(b *testing.B) {
	c := newColdStart(b)
	for _, bc := range []struct {
		name   string
		primed bool
		pool   *httptest.Server
	}{
		{"primed", true, nil},
		{"discovery+jwks", false, c.pool},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var requests int64
			b.ReportAllocs()
			for b.Loop() {
				rec := newRecorder(bc.pool) // a new process: no connection to reuse
				cfg := c.config(bc.primed, &http.Client{Transport: rec})
				if status, err := c.firstResponse(b.Context(), cfg); err != nil || status != http.StatusOK {
					b.Fatalf("status %d, %v", status, err)
				}
				requests += rec.requests.Load()
			}
			b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
		})
	}
}
