package authflow

import (
	"errors"
	"net/url"
	"strings"
)

// ErrInvalidReturnTo is returned for a return_to that is not a plain
// same-origin path.
var ErrInvalidReturnTo = errors.New("authflow: return_to is not a same-origin path")

const maxReturnToLen = 2048

// checkReturnTo accepts only a path-absolute, same-origin reference such as
// "/app/x?y=1". It refuses anything a browser or a later URL parser could read
// as another origin: scheme-relative "//x", backslashes ("/\x", which
// browsers treat as "//x"), schemes, user info ('@'), control characters and
// whitespace, dot segments, and percent-encoded forms of all of these.
func checkReturnTo(s string) error {
	if s == "" || len(s) > maxReturnToLen || s[0] != '/' {
		return ErrInvalidReturnTo
	}
	// Check the text as sent and every percent-decoding of it: a redirect
	// target may be decoded again by a proxy or by the browser.
	for range 3 {
		if !safeReturnToText(s) {
			return ErrInvalidReturnTo
		}
		dec, err := url.PathUnescape(s)
		if err != nil {
			return ErrInvalidReturnTo
		}
		if dec == s {
			return nil
		}
		s = dec
	}
	// Still changing after three decodings: nobody legitimate sends that.
	return ErrInvalidReturnTo
}

func safeReturnToText(s string) bool {
	if len(s) == 0 || s[0] != '/' || strings.HasPrefix(s, "//") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '\\' || c == '@' {
			return false
		}
	}
	path := s
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}
