package awscreds

import (
	"context"
	"errors"

	"github.com/pubauth/awsauth/internal/jwks"
	"github.com/pubauth/awsauth/internal/jwt"
)

// IDTokenFunc returns a currently valid OIDC ID token (a compact JWS) for one user,
// refreshing it first if needed. It is called with the context of each retrieval, which
// carries the provider's timeout. Its errors are returned wrapped, so a caller can test them
// with errors.Is (for example authflow's "session ended" sentinel).
//
// Implementations should refresh some time before the token's exp: a token that is valid on
// this host's clock but expired on AWS's is rejected, and the provider only retries when the
// IDTokenFunc hands back a different token.
type IDTokenFunc func(ctx context.Context) (string, error)

// maxIDTokenLen is STS's limit on WebIdentityToken (20,000 characters). A longer token is
// refused before its payload is decoded.
const maxIDTokenLen = 20000

var (
	errTokenTooLarge  = errors.New("awscreds: ID token exceeds 20000 bytes")
	errTokenMalformed = errors.New("awscreds: ID token is not a compact JWS")
	errTokenNoSubject = errors.New("awscreds: ID token payload has no string sub claim")
)

// subjectFromIDToken returns the sub claim of a compact JWS without verifying it.
//
// The token has been verified by whoever issued the IDTokenFunc (authflow verifies it at the
// callback and after every refresh) and STS verifies it again, so the signature is not
// checked here; the bytes are still treated as hostile: they are read by the module's one
// strict parser (internal/jwt), bounded, and no part of the token goes into an error.
func subjectFromIDToken(token string) (string, error) {
	c, err := idTokenClaims(token)
	if err != nil {
		return "", err
	}
	if c.Subject == "" {
		return "", errTokenNoSubject
	}
	return c.Subject, nil
}

// idTokenClaims reads the claims of an ID token it does not verify (see subjectFromIDToken):
// sub names the user (session names, identity-id cache keys) and iss the Cognito provider
// name. A token that is not a compact JWS is errTokenMalformed; claims that are not a strict
// JSON object, or whose iss or sub is not a string, are errTokenNoSubject.
func idTokenClaims(token string) (*jwt.Claims, error) {
	if len(token) > maxIDTokenLen {
		return nil, errTokenTooLarge
	}
	t, err := jwt.Parse(token, maxIDTokenLen, nil)
	switch {
	case err == nil:
		return &t.Claims, nil
	case errors.Is(err, jwks.ErrMalformed), errors.Is(err, jwks.ErrUnsupportedHeader):
		return nil, errTokenMalformed
	}
	return nil, errTokenNoSubject
}
