package exampleapp

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxUserIDBytes bounds a user id that UserPrefix accepts.
const MaxUserIDBytes = 256

// ErrUnsupportedUserID is returned, wrapped, for a user id that can't be used
// as a key prefix without overlapping another user's. Callers answer 403.
var ErrUnsupportedUserID = errors.New("user id unusable as a key prefix")

// UserPrefix is the key prefix of one user: "<id>/", where id is what the
// storage policy substitutes (MinIO's ${jwt:sub}, IAM's
// ${aws:PrincipalTag/sub} or ${cognito-identity.amazonaws.com:sub}).
//
// The mapping from id to prefix must be injective, or one user's prefix
// could contain another's: "alice" owns "alice/*", so an id "alice/x" would
// put its files inside alice's. An id with a "/", a "\", a control
// character, or equal to "." or ".." is therefore refused rather than
// escaped: the policy substitutes the raw id, so an escaped prefix would not
// match it anyway. So is an id with "*" or "?": MinIO substitutes ${jwt:sub}
// into the policy's resource and s3:prefix patterns and then matches those
// characters as wildcards, so a user named "*" would be granted "*/*",
// every user's files. The error never repeats the id.
func UserPrefix(id string) (string, error) {
	switch {
	case id == "" || id == "." || id == "..":
		return "", fmt.Errorf("%w: empty, \".\" or \"..\"", ErrUnsupportedUserID)
	case len(id) > MaxUserIDBytes:
		return "", fmt.Errorf("%w: longer than %d bytes", ErrUnsupportedUserID, MaxUserIDBytes)
	case !utf8.ValidString(id):
		return "", fmt.Errorf("%w: not UTF-8", ErrUnsupportedUserID)
	case strings.ContainsFunc(id, func(r rune) bool { return r == '/' || r == '\\' || unicode.IsControl(r) }):
		return "", fmt.Errorf("%w: contains '/', '\\' or a control character", ErrUnsupportedUserID)
	case strings.ContainsAny(id, "*?"):
		return "", fmt.Errorf("%w: contains a policy wildcard ('*' or '?')", ErrUnsupportedUserID)
	}
	return id + "/", nil
}
