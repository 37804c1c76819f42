package bearer

import (
	"net/http"
	"strings"
)

// TokenFromHeader returns the token of the request's one Authorization header
// "Bearer <b64token>" (RFC 6750 §2.1; the scheme in any case, one or more
// spaces before the token). maxBytes bounds the header value; 0 means
// DefaultMaxTokenBytes + 7.
//
// Errors: ErrNoToken when there is no Authorization header or its
// scheme is another (Basic, ...); ErrInvalidToken when the token is empty;
// ErrInvalidRequest for several Authorization headers, an over-long one, or a
// credential that is not exactly one b64token. It allocates nothing.
func TokenFromHeader(h http.Header, maxBytes int) (string, error) {
	vals := h["Authorization"]
	if len(vals) == 0 {
		return "", errNoAuthorization
	}
	if len(vals) > 1 {
		return "", errSeveralHeaders
	}
	return parseAuthorization(vals[0], maxBytes)
}

// parseAuthorization parses one Authorization header value.
func parseAuthorization(v string, maxBytes int) (string, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxTokenBytes + len("Bearer ")
	}
	if len(v) > maxBytes {
		return "", errHeaderTooLong
	}
	v = strings.TrimLeft(v, " \t") // net/http trims OWS; events from API Gateway may not
	scheme, rest, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		if strings.ContainsAny(scheme, "\t\r\n\x00") {
			return "", errNotB64Token
		}
		return "", errOtherScheme
	}
	tok := strings.TrimRight(strings.TrimLeft(rest, " "), " \t")
	if tok == "" {
		return "", errEmptyToken
	}
	if !isB64Token(tok) {
		return "", errNotB64Token
	}
	return tok, nil
}

// isB64Token reports whether s is a b64token: 1*( ALPHA / DIGIT / "-" / "." /
// "_" / "~" / "+" / "/" ) *"=" (RFC 6750 §2.1).
func isB64Token(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
			continue
		}
		break
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}
