package bearer

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/pubauth/awsauth/internal/jwt"
)

// Sentinel errors of bearer-token checks, for errors.Is. Each maps to one
// RFC 6750 §3 response; Verifier.WriteError writes it. Their text and the text
// of the errors that wrap them never contain the token, the Authorization
// header or a claim value.
var (
	// ErrNoToken: the request has no Authorization header, or one with
	// another scheme (Basic, ...). 401 with a challenge but no error code
	// (RFC 6750 §3.1). A token in the query or form is not looked at.
	ErrNoToken = errors.New("bearer: no token")
	// ErrInvalidRequest: several Authorization headers, one longer than the
	// limit, or a Bearer credential that is not one b64token (RFC 6750 §2.1).
	// 400 invalid_request.
	ErrInvalidRequest = errors.New("bearer: malformed request")
	// ErrInvalidToken: the token is malformed, not signed by a key of its
	// issuer, expired, not yet valid, from an issuer or for a client that is
	// not configured, or of the wrong token_use. 401 invalid_token.
	ErrInvalidToken = errors.New("bearer: invalid token")
	// ErrTokenExpired wraps ErrInvalidToken: exp has passed (beyond ClockSkew).
	ErrTokenExpired = fmt.Errorf("%w: %w", ErrInvalidToken, jwt.ErrExpired)
	// ErrInsufficientScope: the token is valid but a Requirement refused it
	// (scope, group, custom check). 403 insufficient_scope.
	ErrInsufficientScope = errors.New("bearer: insufficient scope")
	// ErrKeySetUnavailable: the token names a key the issuer's key set lacks
	// and fetching the set failed, or the request ended while waiting for it.
	// 503: the token may well be good.
	ErrKeySetUnavailable = errors.New("bearer: issuer key set unavailable")
	// ErrTokenRevoked wraps ErrInvalidToken: an online revocation check
	// (NotRevoked) was told by the issuer that the token is no longer active:
	// revoked, its user signed out globally, disabled or deleted (RFC 7662
	// §2.2 active false; Cognito GetUser's NotAuthorizedException). 401
	// invalid_token.
	ErrTokenRevoked = fmt.Errorf("%w: %w", ErrInvalidToken, errRevokedReason)
	// ErrRevocationUnavailable: an online revocation check (NotRevoked)
	// could not get an answer from the issuer (a network fault, throttling,
	// a 5xx, a malformed or oversized answer, a timeout), or the request
	// ended while waiting for it. 503 (fail closed), unless the
	// RevocationCheck is configured InsecureFailOpen.
	ErrRevocationUnavailable = errors.New("bearer: revocation check unavailable")
)

var errRevokedReason = errors.New("no longer active at its issuer")

// ScopeError is a Requirement's refusal. It matches ErrInsufficientScope and
// names, in Scope, the scopes the resource needs (the RFC 6750 §3 scope
// attribute); Scope is empty for group and custom requirements.
type ScopeError struct {
	Scope  string // space-separated scopes required; may be empty
	Reason string // fixed text chosen by the requirement, safe to log
}

// Error returns "bearer: insufficient scope: " and Reason.
func (e *ScopeError) Error() string { return "bearer: insufficient scope: " + e.Reason }

// Is reports whether target is ErrInsufficientScope.
func (e *ScopeError) Is(target error) bool { return target == ErrInsufficientScope }

// statusOf maps an error of Verify, Authenticate or a Requirement to the
// RFC 6750 §3.1 status and error code ("" for none).
func statusOf(err error) (int, string) {
	switch {
	case errors.Is(err, ErrInsufficientScope):
		return http.StatusForbidden, "insufficient_scope"
	case errors.Is(err, ErrInvalidRequest):
		return http.StatusBadRequest, "invalid_request"
	case errors.Is(err, ErrKeySetUnavailable), errors.Is(err, ErrRevocationUnavailable):
		return http.StatusServiceUnavailable, ""
	case errors.Is(err, ErrNoToken):
		return http.StatusUnauthorized, ""
	default:
		return http.StatusUnauthorized, "invalid_token"
	}
}

// Preallocated reasons, so that a rejected token costs no allocation for its error.
var (
	errTokenTooLong    = fmt.Errorf("%w: longer than the limit", ErrInvalidToken)
	errEmptyToken      = fmt.Errorf("%w: empty", ErrInvalidToken)
	errUnknownIssuer   = fmt.Errorf("%w: issuer not accepted", ErrInvalidToken)
	errSeveralHeaders  = fmt.Errorf("%w: several Authorization headers", ErrInvalidRequest)
	errHeaderTooLong   = fmt.Errorf("%w: Authorization header longer than the limit", ErrInvalidRequest)
	errNotB64Token     = fmt.Errorf("%w: bearer credential is not a b64token", ErrInvalidRequest)
	errTwoMethods      = fmt.Errorf("%w: token in both the header and the query", ErrInvalidRequest)
	errNoAuthorization = fmt.Errorf("%w: no Authorization header", ErrNoToken)
	errOtherScheme     = fmt.Errorf("%w: Authorization scheme is not Bearer", ErrNoToken)
)

// coreReasons are the verification core's refusals, each wrapped once in ErrInvalidToken, so
// that a refused token costs no allocation for its error.
var coreReasons = func() map[error]error {
	m := map[error]error{}
	for _, r := range []error{
		jwt.ErrClaimsJSON, jwt.ErrClaimType, jwt.ErrClaimFold, jwt.ErrClaimRange, jwt.ErrType,
		jwt.ErrIssuer, jwt.ErrAlgorithm, jwt.ErrNoExpiry, jwt.ErrNoIssuedAt, jwt.ErrIssuedAt,
		jwt.ErrNotYetValid, jwt.ErrLifetime, jwt.ErrSubject, jwt.ErrTokenUse, jwt.ErrClientID,
		jwt.ErrAudience, jwt.ErrAuthorizedParty,
	} {
		m[r] = fmt.Errorf("%w: %w", ErrInvalidToken, r)
	}
	m[jwt.ErrExpired] = ErrTokenExpired
	return m
}()

// fromCore wraps an error of the verification core in this package's sentinels:
// ErrKeySetUnavailable (503), or ErrInvalidToken with the core's reason (401).
func fromCore(err error) error {
	if e, ok := coreReasons[err]; ok {
		return e
	}
	if errors.Is(err, jwt.ErrKeySetUnavailable) {
		return fmt.Errorf("%w: %w", ErrKeySetUnavailable, err)
	}
	return fmt.Errorf("%w: %w", ErrInvalidToken, err)
}
