package jwt

import (
	"context"
	"errors"
	"fmt"

	"github.com/pubauth/awsauth/internal/jwks"
)

// The sentinel set of every JWT check in the module. A refusal wraps ErrInvalid and the one
// reason below that names what failed; the public packages wrap it again in their own sentinel
// (authflow.ErrIDToken, bearer.ErrInvalidToken). Messages never contain the token or a claim
// value. The reasons are preallocated, so a refused token costs no allocation for its error.
var (
	// ErrInvalid: the token is refused.
	ErrInvalid = errors.New("invalid token")
	// ErrKeySetUnavailable: the token names a key its issuer's key set lacks and fetching the
	// set failed, or the caller's context ended while waiting for it. It does not wrap
	// ErrInvalid: the token may well be good.
	ErrKeySetUnavailable = errors.New("issuer key set unavailable")

	// ErrMalformed: not a JWS Compact Serialization this module reads, or a header that is
	// refused (jwks.ErrMalformed, jwks.ErrUnsupportedHeader are wrapped too).
	ErrMalformed = fmt.Errorf("%w: malformed", ErrInvalid)
	// ErrClaimsJSON: the payload is not one strict JSON object.
	ErrClaimsJSON = fmt.Errorf("%w: claims are not a strict JSON object", ErrMalformed)
	// ErrClaimType: a claim this module reads has the wrong JSON type (a NumericDate string,
	// aud [] or a number, ...).
	ErrClaimType = fmt.Errorf("%w: claim of the wrong type", ErrMalformed)
	// ErrClaimFold: a member name differs from a claim this module reads only in case.
	ErrClaimFold = fmt.Errorf("%w: claim name differs from a registered one only in case", ErrMalformed)
	// ErrClaimRange: a NumericDate is negative, NaN or beyond year 9999.
	ErrClaimRange = fmt.Errorf("%w: NumericDate out of range", ErrMalformed)

	// ErrType: the typ header names another kind of token (RFC 8725 §3.11, RFC 9068 §4).
	ErrType = fmt.Errorf("%w: typ of another kind of token", ErrInvalid)
	// ErrIssuer: iss is not the verifier's issuer, byte for byte.
	ErrIssuer = fmt.Errorf("%w: issuer not accepted", ErrInvalid)
	// ErrAlgorithm: alg is not in the verifier's allow-list.
	ErrAlgorithm = fmt.Errorf("%w: algorithm not allowed", ErrInvalid)
	// ErrPadding: a part carries base64 padding and the profile is not Padded (RFC 7515 §2).
	ErrPadding = fmt.Errorf("%w: base64 padding", ErrMalformed)
	// ErrSigner: the AWS ALB's signer header is not the configured load balancer's ARN, or the
	// client header not an accepted client ("ALBeast": another account's load balancer signs
	// with the same regional keys).
	ErrSigner = fmt.Errorf("%w: signer not accepted", ErrInvalid)
	// ErrSignature: the signature does not verify, or no key of the set fits the token (unknown,
	// ambiguous or mismatched kid); the jwks error is wrapped too.
	ErrSignature = fmt.Errorf("%w: signature", ErrInvalid)

	// ErrNoExpiry, ErrExpired, ErrNoIssuedAt, ErrIssuedAt, ErrNotYetValid, ErrLifetime: the
	// times (RFC 7519 §4.1.4-6), each with the one clock skew.
	ErrNoExpiry    = fmt.Errorf("%w: exp missing", ErrInvalid)
	ErrExpired     = fmt.Errorf("%w: expired", ErrInvalid)
	ErrNoIssuedAt  = fmt.Errorf("%w: iat missing", ErrInvalid)
	ErrIssuedAt    = fmt.Errorf("%w: iat in the future or before the request", ErrInvalid)
	ErrNotYetValid = fmt.Errorf("%w: not yet valid (nbf)", ErrInvalid)
	ErrLifetime    = fmt.Errorf("%w: lifetime longer than the maximum", ErrInvalid)

	// ErrSubject: sub is missing or empty (a logout token: and so is sid).
	ErrSubject = fmt.Errorf("%w: sub missing", ErrInvalid)
	// ErrNoID: jti is missing or empty where the profile requires it (logout tokens).
	ErrNoID = fmt.Errorf("%w: jti missing", ErrInvalid)
	// ErrEvent: events is missing or lacks the profile's event (a logout token's back-channel
	// logout event, OIDC Back-Channel Logout 1.0 §2.4).
	ErrEvent = fmt.Errorf("%w: event missing", ErrInvalid)
	// ErrTokenUse: Cognito's token_use is not the profile's.
	ErrTokenUse = fmt.Errorf("%w: wrong token_use", ErrInvalid)
	// ErrClientID: client_id is not an accepted client.
	ErrClientID = fmt.Errorf("%w: client_id not accepted", ErrInvalid)
	// ErrAudience: aud lacks an accepted audience, or (ID tokens) holds an untrusted one.
	ErrAudience = fmt.Errorf("%w: aud not accepted", ErrInvalid)
	// ErrAuthorizedParty: azp is missing with several audiences, or is not the client.
	ErrAuthorizedParty = fmt.Errorf("%w: azp not accepted", ErrInvalid)
	// ErrNonce: nonce is missing, or not the one the login sent (OIDC Core §3.1.3.7 step 11); or
	// present in a token that must not carry one (a logout token).
	ErrNonce = fmt.Errorf("%w: nonce mismatch", ErrInvalid)
	// ErrAuthTime: auth_time is missing, or older than the max_age sent (OIDC Core §3.1.3.7
	// step 13), or before a login that asked for a new authentication (prompt=login).
	ErrAuthTime = fmt.Errorf("%w: auth_time missing or too old", ErrInvalid)
	// ErrACR: acr is missing, or not one of the acr_values sent (OIDC Core §5.5.1.1).
	ErrACR = fmt.Errorf("%w: acr not among those asked", ErrInvalid)
)

// keyError sorts a key-set error: unavailable, or a refusal of the token.
func keyError(err error) error {
	if errors.Is(err, jwks.ErrFetch) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrKeySetUnavailable, err)
	}
	if errors.Is(err, jwks.ErrUnsupportedAlgorithm) {
		return ErrAlgorithm
	}
	return fmt.Errorf("%w: %w", ErrSignature, err)
}
