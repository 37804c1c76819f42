package alb

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/pubauth/awsauth/authflow/bearer"
	"github.com/pubauth/awsauth/internal/jwt"
)

// Sentinel errors, for errors.Is. Their text and the text of the errors that
// wrap them never contain a header value or a claim value.
var (
	// ErrNoToken: the request has no x-amzn-oidc-data header (it did not come
	// through an authenticating listener rule). 401.
	ErrNoToken = errors.New("alb: no x-amzn-oidc-data header")
	// ErrInvalidToken: the header is malformed, repeated, too long, not
	// signed by the configured load balancer (signer, client), not ES256,
	// signed by no key of the region's endpoint, expired, or of another
	// issuer. 401.
	ErrInvalidToken = errors.New("alb: invalid x-amzn-oidc-data")
	// ErrTokenExpired wraps ErrInvalidToken: exp has passed (beyond ClockSkew).
	ErrTokenExpired = fmt.Errorf("%w: %w", ErrInvalidToken, jwt.ErrExpired)
	// ErrKeyUnavailable: the key the header names could not be fetched (the
	// endpoint failed, was slow, or sent too much), or the request ended
	// while waiting for it. 503: the header may well be good.
	ErrKeyUnavailable = errors.New("alb: load balancer public key unavailable")
	// ErrAccessToken wraps bearer's error for x-amzn-oidc-accesstoken: absent,
	// invalid, or of another subject (401), refused by a Requirement (403),
	// or its key set unavailable (503).
	ErrAccessToken = errors.New("alb: x-amzn-oidc-accesstoken refused")
	// ErrNoAccessTokenVerifier: Require or Authenticate was given
	// requirements but Config.AccessToken is nil. 500: a wiring mistake,
	// refused rather than let through.
	ErrNoAccessTokenVerifier = errors.New("alb: requirements need Config.AccessToken")
)

// Preallocated reasons.
var (
	errSeveralHeaders = fmt.Errorf("%w: several headers", ErrInvalidToken)
	errTooLong        = fmt.Errorf("%w: longer than the limit", ErrInvalidToken)
	errNoAccessToken  = fmt.Errorf("%w: %w", ErrAccessToken, bearer.ErrNoToken)
	errSubject        = fmt.Errorf("%w: %w: sub differs from x-amzn-oidc-data's", ErrAccessToken, bearer.ErrInvalidToken)
)

// fromCore wraps an error of the verification core in this package's sentinels.
func fromCore(err error) error {
	switch {
	case errors.Is(err, jwt.ErrKeySetUnavailable):
		return fmt.Errorf("%w: %w", ErrKeyUnavailable, err)
	case errors.Is(err, jwt.ErrExpired):
		return ErrTokenExpired
	}
	return fmt.Errorf("%w: %w", ErrInvalidToken, err)
}

// StatusOf is the HTTP status WriteError answers err with: 401 for
// ErrNoToken, ErrInvalidToken and an access token that is missing or
// invalid; 403 when a Requirement refused the access token; 503 when a key
// or key set could not be fetched or a revocation check (bearer.NotRevoked)
// got no answer; 500 for ErrNoAccessTokenVerifier.
func StatusOf(err error) int {
	switch {
	case errors.Is(err, ErrNoAccessTokenVerifier):
		return http.StatusInternalServerError
	case errors.Is(err, ErrKeyUnavailable), errors.Is(err, bearer.ErrKeySetUnavailable),
		errors.Is(err, bearer.ErrRevocationUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, bearer.ErrInsufficientScope):
		return http.StatusForbidden
	default:
		return http.StatusUnauthorized
	}
}
