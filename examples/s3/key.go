package main

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on names. S3 keys are at most 1,024 bytes of UTF-8; the user's
// prefix (awscreds.UserPrefix, at most 257 bytes) takes part of that.
const maxNameBytes = 512

// errInvalidName is returned for a file name the app refuses to turn into
// an object key. Callers answer 400.
var errInvalidName = errors.New("examples/s3: invalid file name")

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
