package awscreds

import (
	"errors"
	"fmt"
	"strings"
)

// userIDEscape starts an escaped byte in EscapeUserID's output.
const userIDEscape = '='

// EscapeUserID maps a user id (a sub, a username) to the form awscreds uses wherever it writes
// the id into an STS session tag value or an IAM policy, and the form an application gives a
// DynamoDB partition key under such a tag: every byte outside [A-Za-z0-9_.:@+-] becomes '=' and two uppercase hex digits. So
// "alice" stays "alice", "alice/" becomes "alice=2F" and "alice%2F" becomes "alice=252F":
// distinct ids stay distinct (the mapping is injective), and no id can reach into
// another user's prefix ("alice/" would otherwise own "alice//…", which "alice/*" matches), or
// carry a policy wildcard (*, ?) or variable (${…}).
//
// A Cognito identity id (REGION:GUID) and a Cognito user pool sub (a UUID) are returned
// unchanged, so the key the app writes under equals what ${cognito-identity.amazonaws.com:sub}
// or a session tag holding the escaped sub resolves to. An S3 prefix is never escaped: it takes
// an id EscapeUserID leaves unchanged, or none (UserPrefix).
//
// The output uses only characters that STS allows in tag values. It is at most three times as
// long as id; the empty string stays empty (the policy helpers refuse it).
func EscapeUserID(id string) string {
	n := 0
	for i := 0; i < len(id); i++ {
		if !userIDSafe(id[i]) {
			n++
		}
	}
	if n == 0 {
		return id
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(id) + 2*n)
	for i := 0; i < len(id); i++ {
		c := id[i]
		if userIDSafe(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte(userIDEscape)
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}

func userIDSafe(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c == '_' || c == '.' || c == ':' || c == '@' || c == '+' || c == '-'
}

// maxPrefixUserIDBytes is the longest user id UserPrefix accepts: 256 bytes, the longest STS
// session tag value, so that the same id also fits ${aws:PrincipalTag/sub}.
const maxPrefixUserIDBytes = 256

// ErrUnsupportedUserID is wrapped by UserPrefix's error for a user id that can't name an S3
// prefix (see UserPrefix). Applications answer it with 403: the user is signed in, but this
// storage can't hold their files.
var ErrUnsupportedUserID = errors.New("awscreds: user id can't name an S3 prefix")

// UserPrefix returns the user's S3 key prefix, id + "/", where id is what the bucket's policy
// names the user by: the ID token's sub for ${jwt:sub} (MinIO) or ${aws:PrincipalTag/sub}, the
// identity id (IdentityPool.IdentityID) for ${cognito-identity.amazonaws.com:sub}.
//
// The rule, as the package doc states it: a user's S3 prefix is the user id followed by "/",
// and only an id that EscapeUserID leaves unchanged can have one: 1 to 256 bytes of A-Z, a-z,
// 0-9, _ . : @ + -, other than "." and "..". Any other id is refused, not escaped. The error
// wraps ErrUnsupportedUserID and never repeats the id.
func UserPrefix(id string) (string, error) {
	switch {
	case id == "" || id == "." || id == "..":
		return "", fmt.Errorf("%w: empty, \".\" or \"..\"", ErrUnsupportedUserID)
	case len(id) > maxPrefixUserIDBytes:
		return "", fmt.Errorf("%w: longer than %d bytes", ErrUnsupportedUserID, maxPrefixUserIDBytes)
	}
	for i := 0; i < len(id); i++ {
		if !userIDSafe(id[i]) {
			return "", fmt.Errorf("%w: byte %d is not one of A-Z a-z 0-9 _ . : @ + -", ErrUnsupportedUserID, i+1)
		}
	}
	return id + "/", nil
}
