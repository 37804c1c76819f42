// Package pkce implements Proof Key for Code Exchange (RFC 7636) for OAuth 2.0
// public and confidential clients.
//
// A client makes a fresh verifier for every authorization request
// ([NewVerifier]), sends its [Challenge] with code_challenge_method=[Method] on
// the authorization request (RFC 7636 §4.3), and the verifier itself on the
// token request (§4.5). Only the S256 method is offered: "plain" protects
// nothing when the authorization request can be observed, and §4.2 makes S256
// mandatory to implement.
//
// The functions are thin over golang.org/x/oauth2's helpers, so a verifier made
// here can be passed to [oauth2.VerifierOption] and its challenge compared with
// [oauth2.S256ChallengeOption]'s.
package pkce

import (
	"crypto/subtle"
	"errors"
	"fmt"

	"golang.org/x/oauth2"
)

// Method is the code_challenge_method for [Challenge] (RFC 7636 §4.2).
const Method = "S256"

// RFC 7636 §4.1: code-verifier = 43*128unreserved.
const (
	minLen = 43
	maxLen = 128
)

// ErrInvalidVerifier is returned, wrapped, by [Validate] when a code verifier
// is not 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"
// (RFC 7636 §4.1).
var ErrInvalidVerifier = errors.New("pkce: invalid code verifier")

// NewVerifier returns a new code verifier: 32 bytes from crypto/rand,
// base64url-encoded without padding into 43 characters, as RFC 7636 §4.1
// recommends. Make one per authorization request and never reuse it.
func NewVerifier() string {
	// crypto/rand.Read does not fail since Go 1.24 (it crashes the program
	// instead), so GenerateVerifier's panic path is unreachable.
	return oauth2.GenerateVerifier()
}

// Challenge returns the S256 code challenge for verifier:
// BASE64URL-ENCODE(SHA256(ASCII(verifier))), without padding (RFC 7636 §4.2).
// It does not validate verifier; see [Validate].
func Challenge(verifier string) string {
	return oauth2.S256ChallengeFromVerifier(verifier)
}

// Validate reports whether verifier is a well-formed code verifier (RFC 7636
// §4.1). The error wraps [ErrInvalidVerifier] and never contains the verifier,
// which is a secret until the token request completes.
func Validate(verifier string) error {
	if n := len(verifier); n < minLen || n > maxLen {
		return fmt.Errorf("%w: length %d, want %d to %d", ErrInvalidVerifier, n, minLen, maxLen)
	}
	for i := 0; i < len(verifier); i++ {
		if !unreserved(verifier[i]) {
			// Report the offset, not the byte: the byte is part of the secret.
			return fmt.Errorf("%w: disallowed character at offset %d", ErrInvalidVerifier, i)
		}
	}
	return nil
}

// Verify reports whether challenge is the S256 challenge of verifier, as an
// authorization server checks it at the token endpoint (RFC 7636 §4.6). It
// returns false when verifier is not well-formed. The comparison takes time
// independent of the contents of challenge.
func Verify(verifier, challenge string) bool {
	if Validate(verifier) != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(Challenge(verifier)), []byte(challenge)) == 1
}

// unreserved reports whether c is in RFC 3986's unreserved set, the alphabet
// of RFC 7636 §4.1. Bytes ≥ 0x80 (any non-ASCII rune) are not.
func unreserved(c byte) bool {
	switch {
	case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return true
	case c == '-', c == '.', c == '_', c == '~':
		return true
	}
	return false
}
