package authflow

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/authflow/bearer"
	"github.com/pubauth/awsauth/internal/jwt"
)

// A bearer.Verifier given Handler.KeySet verifies with the login flow's key
// set: the JWKS fetched for the callback serves the API, with no second
// fetch, while the verifier's own algorithm allow-list still holds.
func TestHandlerKeySetShared(t *testing.T) {
	op := newTestOP(t)
	app := newTestApp(t, op)
	app.login(app.browser(), "/")
	require.EqualValues(t, 1, op.jwksCalls.Load(), "the callback fetched the JWKS once")

	iss := bearer.Issuer{Issuer: op.issuer(), TokenUse: bearer.TokenUseID, ClientIDs: []string{testClientID}}
	shared := iss
	shared.KeySet = app.h.KeySet()
	v, err := bearer.New(t.Context(), bearer.Config{Issuers: []bearer.Issuer{shared}})
	require.NoError(t, err)

	now := time.Now()
	claims := map[string]any{
		"iss": op.issuer(), "sub": "alice", "aud": testClientID, "token_use": "id",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	c, err := v.Verify(t.Context(), op.sign(map[string]any{"alg": "RS256", "kid": op.kid}, claims))
	require.NoError(t, err)
	assert.Equal(t, "alice", c.Subject)
	assert.EqualValues(t, 1, op.jwksCalls.Load(), "the verifier used the Handler's cached keys")

	// The shared set may allow more algorithms than the verifier: the
	// verifier's own list (RS256 by default) decides.
	_, err = v.Verify(t.Context(), op.sign(map[string]any{"alg": "RS384", "kid": op.kid}, claims))
	require.Error(t, err)
	assert.True(t, errors.Is(err, bearer.ErrInvalidToken) && errors.Is(err, jwt.ErrAlgorithm), "%v", err)

	// Without KeySet the verifier has a key set of its own.
	own, err := bearer.New(t.Context(), bearer.Config{Issuers: []bearer.Issuer{iss}})
	require.NoError(t, err)
	_, err = own.Verify(t.Context(), op.sign(map[string]any{"alg": "RS256", "kid": op.kid}, claims))
	require.NoError(t, err)
	assert.EqualValues(t, 2, op.jwksCalls.Load(), "a verifier without KeySet fetches its own key set")
}
