package m2m_test

// Against the real OpenID provider (node oidc-provider, started by
// internal/testenv; install it with scripts/deps.sh): the client credentials
// grant with a client secret and with private_key_jwt, a resource scope in a
// Cognito-shaped JWT access token that the bearer verifier accepts, one
// token request for 100 concurrent callers, and an early refresh.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/authflow/bearer"
	"github.com/pubauth/awsauth/authflow/m2m"
	"github.com/pubauth/awsauth/internal/testenv"
)

func TestClientCredentialsAtOIDCProvider(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "svc-key-1", Use: "sig", Algorithm: "ES256"}}})
	require.NoError(t, err)

	cc := []string{"client_credentials"}
	op, err := testenv.StartOIDC(t.Context(), testenv.OIDCConfig{Clients: []testenv.OIDCClient{
		{ID: "svc-secret", Secret: "svc-secret-value", GrantTypes: cc},
		{ID: "svc-jwt", JWKS: jwks, GrantTypes: cc},
	}})
	require.NoError(t, err)
	t.Cleanup(func() { op.Stop() })

	v, err := bearer.New(t.Context(), bearer.Config{Issuers: []bearer.Issuer{{
		Issuer:    op.Issuer,
		TokenUse:  "access",
		Audiences: []string{testenv.DefaultAPIResource},
	}}})
	require.NoError(t, err)
	var sub atomic.Value
	api := httptest.NewServer(v.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sub.Store(bearer.ClaimsFrom(r.Context()).Subject)
	}), bearer.Scopes("orders/read")))
	t.Cleanup(api.Close)

	for _, tc := range []struct {
		name string
		cfg  m2m.Config
	}{
		{"client secret", m2m.Config{ClientID: "svc-secret", ClientSecret: "svc-secret-value"}},
		{"private_key_jwt", m2m.Config{ClientID: "svc-jwt", ClientAssertionKey: key, ClientAssertionKeyID: "svc-key-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Issuer = op.Issuer
			cfg.Scopes = []string{"orders/read"}
			cfg.EndpointParams = map[string][]string{"resource": {testenv.DefaultAPIResource}}
			src, err := m2m.New(t.Context(), cfg)
			require.NoError(t, err)

			tok, err := src.Token(t.Context())
			require.NoError(t, err, op.Logs())
			assert.Equal(t, "orders/read", tok.Extra("scope"))

			c := &http.Client{Transport: src.Transport(nil)}
			resp, err := c.Get(api.URL)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode, "the API accepts the M2M token for orders/read")
			assert.Equal(t, cfg.ClientID, sub.Load(), "an M2M token's sub is the client")
		})
	}

	t.Run("a wrong key is refused", func(t *testing.T) {
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		src, err := m2m.New(t.Context(), m2m.Config{Issuer: op.Issuer, ClientID: "svc-jwt", ClientAssertionKey: other, ClientAssertionKeyID: "svc-key-1"})
		require.NoError(t, err)
		_, err = src.Token(t.Context())
		assert.ErrorContains(t, err, `"invalid_client"`)
	})

	t.Run("100 concurrent callers make one token request", func(t *testing.T) {
		src, err := m2m.New(t.Context(), m2m.Config{Issuer: op.Issuer, ClientID: "svc-jwt", ClientAssertionKey: key, ClientAssertionKeyID: "svc-key-1"})
		require.NoError(t, err)
		before := op.TokenRequests()
		start := make(chan struct{})
		var wg sync.WaitGroup
		toks := make([]string, 100)
		for i := range 100 {
			wg.Go(func() {
				<-start
				tok, err := src.Token(t.Context())
				if assert.NoError(t, err) {
					toks[i] = tok.AccessToken
				}
			})
		}
		close(start)
		wg.Wait()
		assert.EqualValues(t, 1, op.TokenRequests()-before)
		for _, tok := range toks {
			assert.Equal(t, toks[0], tok)
		}
	})

	t.Run("refreshed early, once", func(t *testing.T) {
		var mu sync.Mutex
		offset := time.Duration(0)
		now := func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return time.Now().Add(offset)
		}
		src, err := m2m.New(t.Context(), m2m.Config{
			Issuer: op.Issuer, ClientID: "svc-secret", ClientSecret: "svc-secret-value",
			ExpiryWindow: 2 * time.Minute, Now: now,
		})
		require.NoError(t, err)
		first, err := src.Token(t.Context())
		require.NoError(t, err)
		before := op.TokenRequests()

		mu.Lock()
		offset = time.Until(first.Expiry) - time.Minute // a minute left: in the window
		mu.Unlock()
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				tok, err := src.Token(t.Context())
				if assert.NoError(t, err) {
					assert.NotEqual(t, first.AccessToken, tok.AccessToken)
				}
			})
		}
		wg.Wait()
		assert.EqualValues(t, 1, op.TokenRequests()-before)
	})
}
