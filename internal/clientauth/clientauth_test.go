package clientauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAssertionClaims(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	now := time.Unix(1_700_000_000, 0)

	for _, tc := range []struct {
		name string
		key  crypto.Signer
		alg  jose.SignatureAlgorithm
	}{
		{"RSA", rsaKey, jose.RS256},
		{"ECDSA P-384", ecKey, jose.ES384},
		{"Ed25519", edKey, jose.EdDSA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSigner("svc", tc.key, "k1", func() time.Time { return now })
			require.NoError(t, err)
			assert.Equal(t, string(tc.alg), s.Algorithm())
			a, err := s.Assertion("https://op.example.com/token")
			require.NoError(t, err)
			b, err := s.Assertion("https://op.example.com/token")
			require.NoError(t, err)

			tok, err := jwt.ParseSigned(a, []jose.SignatureAlgorithm{tc.alg})
			require.NoError(t, err)
			assert.Equal(t, "k1", tok.Headers[0].KeyID)
			assert.Equal(t, "JWT", tok.Headers[0].ExtraHeaders[jose.HeaderType])
			var c, c2 jwt.Claims
			require.NoError(t, tok.Claims(tc.key.Public(), &c))
			tok2, _ := jwt.ParseSigned(b, []jose.SignatureAlgorithm{tc.alg})
			require.NoError(t, tok2.Claims(tc.key.Public(), &c2))
			assert.Equal(t, "svc", c.Issuer)
			assert.Equal(t, "svc", c.Subject)
			assert.Equal(t, jwt.Audience{"https://op.example.com/token"}, c.Audience)
			assert.Equal(t, now.Unix(), c.IssuedAt.Time().Unix())
			assert.Equal(t, now.Add(Lifetime).Unix(), c.Expiry.Time().Unix())
			assert.Len(t, c.ID, 22, "128 bits, base64url")
			assert.NotEqual(t, c.ID, c2.ID, "jti is unique per assertion")
		})
	}
}

func TestNewSignerRefuses(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	require.NoError(t, err)
	good, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	for name, f := range map[string]func() error{
		"1024-bit RSA": func() error { _, err := NewSigner("c", small, "", nil); return err },
		"P-224":        func() error { _, err := NewSigner("c", p224, "", nil); return err },
		"no client":    func() error { _, err := NewSigner("", good, "", nil); return err },
		"no key":       func() error { _, err := NewSigner("c", nil, "", nil); return err },
	} {
		assert.Error(t, f(), name)
	}
}

func TestCheckProvider(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, err := NewSigner("c", key, "", nil)
	require.NoError(t, err)
	assert.NoError(t, s.CheckProvider(nil, nil))
	assert.NoError(t, s.CheckProvider([]string{"client_secret_basic", Method}, []string{"RS256", "ES256"}))
	assert.Error(t, s.CheckProvider([]string{"client_secret_basic"}, nil))
	assert.Error(t, s.CheckProvider(nil, []string{"RS256"}))
}

func TestTransport(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, err := NewSigner("svc", key, "k", nil)
	require.NoError(t, err)

	var mu sync.Mutex
	var got []url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		v, _ := url.ParseQuery(string(b))
		mu.Lock()
		got = append(got, v)
		mu.Unlock()
	}))
	defer srv.Close()
	c := &http.Client{Transport: s.Transport(nil, srv.URL+"/token", srv.URL+"/revoke")}

	post := func(path, body string, hdr ...string) error {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}

	require.NoError(t, post("/token", "grant_type=client_credentials"))
	require.NoError(t, post("/revoke", "token=x&client_id=svc"))
	require.NoError(t, post("/other", "a=b"))
	resp, err := c.Get(srv.URL + "/token")
	require.NoError(t, err)
	resp.Body.Close()

	require.Len(t, got, 4)
	for i, aud := range []string{srv.URL + "/token", srv.URL + "/revoke"} {
		v := got[i]
		assert.Equal(t, "svc", v.Get("client_id"))
		assert.Equal(t, AssertionType, v.Get("client_assertion_type"))
		tok, err := jwt.ParseSigned(v.Get("client_assertion"), []jose.SignatureAlgorithm{jose.ES256})
		require.NoError(t, err)
		var cl jwt.Claims
		require.NoError(t, tok.Claims(key.Public(), &cl))
		assert.Equal(t, jwt.Audience{aud}, cl.Audience, "aud is the endpoint the request goes to")
	}
	assert.Equal(t, url.Values{"a": {"b"}}, got[2], "other endpoints are untouched")
	assert.Empty(t, got[3].Get("client_assertion"), "GETs are untouched")

	t.Run("refuses a second authentication method", func(t *testing.T) {
		for name, tc := range map[string]struct {
			body string
			hdr  []string
		}{
			"Basic":            {"grant_type=x", []string{"Authorization", "Basic eDp5"}},
			"client_secret":    {"grant_type=x&client_secret=s", nil},
			"client_assertion": {"grant_type=x&client_assertion=a", nil},
			"another client":   {"grant_type=x&client_id=other", nil},
			"not a form":       {"{}", []string{"Content-Type", "application/json"}},
		} {
			err := post("/token", tc.body, tc.hdr...)
			assert.Error(t, err, name)
		}
		assert.Len(t, got, 4, "nothing refused reached the server")
	})
}
