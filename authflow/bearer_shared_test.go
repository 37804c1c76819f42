package authflow

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/internal/jwks"
)

// A Bearer made by Handler.NewBearer verifies with the login flow's key set:
// the JWKS fetched for the callback serves the API, with no second fetch,
// while the Bearer's own algorithm allow-list still holds.
func TestHandlerBearerSharesKeySet(t *testing.T) {
	op := newTestOP(t)
	app := newTestApp(t, op)
	app.login(app.browser(), "/")
	require.EqualValues(t, 1, op.jwksCalls.Load(), "the callback fetched the JWKS once")

	b, err := app.h.NewBearer(t.Context(), BearerConfig{
		Issuer: op.issuer(), TokenUse: TokenUseID, ClientIDs: []string{testClientID},
	})
	require.NoError(t, err)

	now := time.Now()
	claims := map[string]any{
		"iss": op.issuer(), "sub": "alice", "aud": testClientID, "token_use": "id",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	c, err := b.Verify(t.Context(), op.sign(map[string]any{"alg": "RS256", "kid": op.kid}, claims))
	require.NoError(t, err)
	assert.Equal(t, "alice", c.Subject)
	assert.EqualValues(t, 1, op.jwksCalls.Load(), "the Bearer used the Handler's cached keys")

	// The shared set may allow more algorithms than the Bearer: the Bearer's
	// own list (RS256 by default) decides.
	_, err = b.Verify(t.Context(), op.sign(map[string]any{"alg": "RS384", "kid": op.kid}, claims))
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrInvalidToken) && errors.Is(err, jwks.ErrUnsupportedAlgorithm), "%v", err)

	// Another issuer, or one with its own JWKSURL, keeps a key set of its own.
	own, err := NewBearer(t.Context(), BearerConfig{
		Issuer: op.issuer(), TokenUse: TokenUseID, ClientIDs: []string{testClientID},
	})
	require.NoError(t, err)
	_, err = own.Verify(t.Context(), op.sign(map[string]any{"alg": "RS256", "kid": op.kid}, claims))
	require.NoError(t, err)
	assert.EqualValues(t, 2, op.jwksCalls.Load(), "a package-level NewBearer fetches its own key set")
}
