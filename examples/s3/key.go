package main

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on names. S3 keys are at most 1,024 bytes of UTF-8; the user's
// prefix takes part of that.
const (
	maxSubjectBytes = 256
	maxNameBytes    = 512
)

var (
	// errInvalidName is returned for a file name the app refuses to turn
	// into an object key. Callers answer 400.
	errInvalidName = errors.New("examples/s3: invalid file name")

	// errUnsupportedSubject is returned for a user id that can't be used as
	// a prefix without overlapping another user's. Callers answer 403.
	errUnsupportedSubject = errors.New("examples/s3: user id unusable as an S3 prefix")
)

// userPrefix is the key prefix of one user: "<id>/", where id is what the
// storage policy substitutes (MinIO's ${jwt:sub}, IAM's
// ${aws:PrincipalTag/sub} or ${cognito-identity.amazonaws.com:sub}).
//
// The mapping from id to prefix must be injective, or one user's prefix
// could contain another's: "alice" owns "alice/*", so an id "alice/x" would
// put its files inside alice's. An id with a "/", a control character, or
// equal to "." or ".." is therefore refused rather than escaped: the policy
// substitutes the raw id, so an escaped prefix would not match it anyway.
// So is an id with "*" or "?": MinIO substitutes ${jwt:sub} into the
// policy's resource and s3:prefix patterns and then matches those
// characters as wildcards, so a user named "*" would be granted "*/*",
// every user's files.
func userPrefix(id string) (string, error) {
	switch {
	case id == "" || id == "." || id == "..":
		return "", fmt.Errorf("%w: %q", errUnsupportedSubject, id)
	case len(id) > maxSubjectBytes:
		return "", fmt.Errorf("%w: longer than %d bytes", errUnsupportedSubject, maxSubjectBytes)
	case !utf8.ValidString(id):
		return "", fmt.Errorf("%w: not UTF-8", errUnsupportedSubject)
	case strings.ContainsFunc(id, func(r rune) bool { return r == '/' || r == '\\' || unicode.IsControl(r) }):
		return "", fmt.Errorf("%w: contains '/', '\\' or a control character", errUnsupportedSubject)
	case strings.ContainsAny(id, "*?"):
		return "", fmt.Errorf("%w: contains a policy wildcard ('*' or '?')", errUnsupportedSubject)
	}
	return id + "/", nil
}

// objectKey returns prefix+name, the key of the user's file name, after
// checking that name stays inside prefix whatever later normalizes it.
// name is a relative path of "/"-separated segments, such as "notes.md" or
// "2026/report.pdf": at most maxNameBytes of UTF-8, with no empty segment
// (so no leading or trailing "/" and no "//"), no "." or ".." segment, no
// backslash and no control character. Otherwise it returns errInvalidName,
// wrapped with the reason; the reason never repeats the name.
func objectKey(prefix, name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", fmt.Errorf("%w: %s", errInvalidName, err)
	}
	return prefix + name, nil
}

func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("empty")
	case len(name) > maxNameBytes:
		return fmt.Errorf("longer than %d bytes", maxNameBytes)
	case !utf8.ValidString(name):
		return errors.New("not UTF-8")
	case strings.HasPrefix(name, "/"):
		return errors.New("leading '/'")
	case strings.ContainsFunc(name, func(r rune) bool { return r == '\\' || unicode.IsControl(r) }):
		return errors.New("backslash or control character")
	}
	for seg := range strings.SplitSeq(name, "/") {
		switch seg {
		case "":
			return errors.New("empty path segment")
		case ".", "..":
			return errors.New("'.' or '..' path segment")
		}
	}
	return nil
}
