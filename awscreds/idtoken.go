package awscreds

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
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
// checked here; the bytes are still treated as hostile: bounded size, no panic, and no part
// of the token in an error.
func subjectFromIDToken(token string) (string, error) {
	c, err := idTokenClaims(token)
	if err != nil {
		return "", err
	}
	if c.Sub == nil || *c.Sub == "" {
		return "", errTokenNoSubject
	}
	return *c.Sub, nil
}

// unverifiedClaims are the claims awscreds reads from an ID token it does not verify: sub
// names the user (session names, identity-id cache keys) and iss the Cognito provider name.
type unverifiedClaims struct {
	Iss *string `json:"iss"`
	Sub *string `json:"sub"`
}

// idTokenClaims decodes the payload of a compact JWS, with the limits of subjectFromIDToken.
// A payload that is not a JSON object, or whose iss or sub is not a string, is
// errTokenNoSubject.
func idTokenClaims(token string) (unverifiedClaims, error) {
	var claims unverifiedClaims
	if len(token) > maxIDTokenLen {
		return claims, errTokenTooLarge
	}
	_, rest, ok := strings.Cut(token, ".")
	if !ok {
		return claims, errTokenMalformed
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sig, ".") {
		return claims, errTokenMalformed
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(payload, "="))
	if err != nil {
		return claims, errTokenMalformed
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		return unverifiedClaims{}, errTokenNoSubject
	}
	return claims, nil
}
