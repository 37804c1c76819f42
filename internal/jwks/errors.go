package jwks

import (
	"errors"
	"fmt"
)

// Sentinel errors, for errors.Is. Errors returned by this package wrap one of them and never
// contain the token or any of its header values.
var (
	// ErrMalformed means the token is not a well-formed JWS Compact Serialization: too long, not
	// three base64url parts, or a protected header that is not one strict JSON object (duplicate
	// or case-folded duplicate members, invalid UTF-8, alg or kid not a string).
	ErrMalformed = errors.New("jwks: malformed token")
	// ErrUnsupportedAlgorithm means the token's alg is not in Config.Algorithms.
	ErrUnsupportedAlgorithm = errors.New("jwks: algorithm not allowed")
	// ErrUnsupportedHeader means the protected header carries a member this package refuses:
	// crit, jwk, jku, x5u, x5c, enc, zip or b64.
	ErrUnsupportedHeader = errors.New("jwks: header parameter not allowed")
	// ErrUnknownKey means no key in the set matches the token and no refetch was allowed or the
	// refetch did not bring one.
	ErrUnknownKey = errors.New("jwks: no key for the token's kid")
	// ErrAmbiguousKey means several keys match the token (kid absent with several usable keys, or
	// one kid shared by several usable keys).
	ErrAmbiguousKey = errors.New("jwks: several keys match the token")
	// ErrKeyMismatch means the token's kid is in the set but none of its keys fits the token's alg
	// (an RSA key for ES256, a P-256 key for ES384, a key whose own alg differs).
	ErrKeyMismatch = errors.New("jwks: key does not fit the token's algorithm")
	// ErrInvalidSignature means the signature does not verify under the selected key.
	ErrInvalidSignature = errors.New("jwks: invalid signature")
	// ErrFetch means fetching the key set failed; see [FetchError].
	ErrFetch = errors.New("jwks: fetching the key set failed")
	// ErrNoUsableKeys means a JWKS document held no key this key set can use.
	ErrNoUsableKeys = errors.New("jwks: no usable keys in the key set")
)

// FetchError describes a failed fetch of the jwks_uri. It matches ErrFetch with errors.Is and
// unwraps to the cause (a transport error, ErrNoUsableKeys, a JSON syntax error, ...).
type FetchError struct {
	// StatusCode is the HTTP status of the response; zero when none was received.
	StatusCode int
	// Err is the cause; nil for an unexpected status.
	Err error
}

func (e *FetchError) Error() string {
	switch {
	case e.StatusCode != 0 && e.Err == nil:
		return fmt.Sprintf("jwks: fetching the key set failed: HTTP status %d", e.StatusCode)
	case e.Err != nil:
		return "jwks: fetching the key set failed: " + e.Err.Error()
	default:
		return ErrFetch.Error()
	}
}

// Is reports whether target is ErrFetch.
func (e *FetchError) Is(target error) bool { return target == ErrFetch }

// Unwrap returns the cause.
func (e *FetchError) Unwrap() error { return e.Err }

// Preallocated errors for the early rejections, so that a hostile token costs no allocation.
var (
	errTooLong      = fmt.Errorf("%w: longer than the limit", ErrMalformed)
	errNotCompact   = fmt.Errorf("%w: not three base64url parts", ErrMalformed)
	errEmptyPart    = fmt.Errorf("%w: empty part", ErrMalformed)
	errBase64       = fmt.Errorf("%w: invalid base64url", ErrMalformed)
	errHeaderJSON   = fmt.Errorf("%w: header is not a strict JSON object", ErrMalformed)
	errHeaderType   = fmt.Errorf("%w: header member of the wrong type", ErrMalformed)
	errHeaderFolded = fmt.Errorf("%w: header member differs from a registered name only in case", ErrMalformed)
	errNoAlg        = fmt.Errorf("%w: header has no alg", ErrMalformed)
	errSigLength    = fmt.Errorf("%w: signature of the wrong length", ErrInvalidSignature)
)
