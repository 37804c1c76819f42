package bearer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// Claims are the verified claims of a bearer token (RFC 7519 §4.1, RFC 9068
// §2.2, and Amazon Cognito's access and ID token claims). A *Claims from
// Verifier.Verify may be shared by every request that presents the same token
// (the verified-token cache): treat it as read-only.
type Claims struct {
	// Issuer is iss, exactly one of the configured issuers.
	Issuer string
	// Subject is sub; never empty.
	Subject string
	// Audience is aud as a list; nil when absent (Cognito access tokens).
	Audience []string
	// ClientID is client_id: the app client an access token was issued to
	// (Cognito, RFC 9068 §2.2). Empty in ID tokens.
	ClientID string
	// AuthorizedParty is azp (OIDC Core §2); empty when absent.
	AuthorizedParty string
	// TokenUse is Cognito's token_use: "access" or "id"; empty when absent.
	TokenUse string
	// Scopes is scope split on spaces (RFC 8693 §4.2); nil when absent.
	Scopes []string
	// Groups is cognito:groups; nil when absent.
	Groups []string
	// Username is username (Cognito access tokens) or cognito:username (ID tokens).
	Username string
	// ID is jti; empty when absent.
	ID string
	// Expiry, IssuedAt and NotBefore are exp, iat and nbf in UTC; NotBefore
	// is zero when absent.
	Expiry, IssuedAt, NotBefore time.Time

	payload []byte
}

// HasScope reports whether the token grants scope.
func (c *Claims) HasScope(scope string) bool { return slices.Contains(c.Scopes, scope) }

// InGroup reports whether cognito:groups contains group.
func (c *Claims) InGroup(group string) bool { return slices.Contains(c.Groups, group) }

// Decode unmarshals the whole verified payload into v with encoding/json, for
// claims beyond the fields of Claims (custom:..., email, ...). The members
// Claims reads are unique in the payload, case-insensitively, so v sees the
// values that were checked.
func (c *Claims) Decode(v any) error {
	if err := json.Unmarshal(c.payload, v); err != nil {
		return fmt.Errorf("bearer: decoding claims: %w", err)
	}
	return nil
}

// Errors of parseClaims. They never quote the payload.
var (
	errClaimsJSON = errors.New("claims are not a strict JSON object")
	errClaimType  = errors.New("claim of the wrong type")
	errClaimFold  = errors.New("claim name differs from a registered one only in case")
	errClaimRange = errors.New("NumericDate out of range")
)

// claimNames are the members parseClaims reads; a member equal to one of them
// but for case is refused, since encoding/json (Claims.Decode) would match it
// to the same field and the checked value would not be the decoded one.
var claimNames = [...]string{
	"iss", "sub", "aud", "client_id", "azp", "token_use", "scope",
	"cognito:groups", "username", "cognito:username", "jti", "exp", "iat", "nbf",
}

const (
	cOther = iota
	cIss
	cSub
	cAud
	cClientID
	cAZP
	cTokenUse
	cScope
	cGroups
	cUsername
	cCognitoUsername
	cJTI
	cExp
	cIat
	cNbf
)

// claimID names a member without allocating (a switch on string(b) does not copy).
func claimID(b []byte) int {
	switch string(b) {
	case "iss":
		return cIss
	case "sub":
		return cSub
	case "aud":
		return cAud
	case "client_id":
		return cClientID
	case "azp":
		return cAZP
	case "token_use":
		return cTokenUse
	case "scope":
		return cScope
	case "cognito:groups":
		return cGroups
	case "username":
		return cUsername
	case "cognito:username":
		return cCognitoUsername
	case "jti":
		return cJTI
	case "exp":
		return cExp
	case "iat":
		return cIat
	case "nbf":
		return cNbf
	}
	return cOther
}

var claimsDecoderPool = sync.Pool{New: func() any { return new(claimsDecoder) }}

type claimsDecoder struct {
	r   bytes.Reader
	dec jsontext.Decoder
	buf []byte // unquoting scratch
}

// parseClaims reads payload strictly: one JSON object, no duplicate member
// (jsontext's default), valid UTF-8, string claims as strings, aud a string
// or an array of strings, cognito:groups an array of strings, exp/iat/nbf
// numbers within 0..year 9999. intern returns a configured string equal to b,
// so that iss, client_id and token_use cost no allocation when they match.
// It reports presence of exp and iat through the zero time.
func parseClaims(payload []byte, intern func(b []byte) string) (*Claims, error) {
	cd := claimsDecoderPool.Get().(*claimsDecoder)
	defer claimsDecoderPool.Put(cd)
	defer cd.r.Reset(nil)
	cd.r.Reset(payload)
	cd.dec.Reset(&cd.r)
	dec := &cd.dec

	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, errClaimsJSON
	}
	c := &Claims{payload: payload}
	for dec.PeekKind() == '"' {
		rawName, err := dec.ReadValue()
		if err != nil {
			return nil, errClaimsJSON
		}
		name, err := cd.unquote(rawName)
		if err != nil {
			return nil, errClaimsJSON
		}
		switch id := claimID(name); id {
		case cIss, cSub, cClientID, cAZP, cTokenUse, cScope, cUsername, cCognitoUsername, cJTI:
			s, err := cd.readString(intern, id == cIss || id == cClientID || id == cTokenUse)
			if err != nil {
				return nil, err
			}
			switch id {
			case cIss:
				c.Issuer = s
			case cSub:
				c.Subject = s
			case cClientID:
				c.ClientID = s
			case cAZP:
				c.AuthorizedParty = s
			case cTokenUse:
				c.TokenUse = s
			case cScope:
				c.Scopes = strings.FieldsFunc(s, isScopeDelimiter)
			case cUsername:
				c.Username = s
			case cCognitoUsername:
				if c.Username == "" {
					c.Username = s
				}
			case cJTI:
				c.ID = s
			}
		case cAud:
			if dec.PeekKind() == '"' {
				s, err := cd.readString(intern, true)
				if err != nil {
					return nil, err
				}
				c.Audience = []string{s}
				continue
			}
			list, err := cd.readStrings(intern)
			if err != nil {
				return nil, err
			}
			if len(list) == 0 {
				return nil, errClaimType // RFC 7519 §4.1.3: a list of StringOrURI; [] names no one
			}
			c.Audience = list
		case cGroups:
			list, err := cd.readStrings(nil)
			if err != nil {
				return nil, err
			}
			c.Groups = list
		case cExp, cIat, cNbf:
			t, err := cd.readNumericDate()
			if err != nil {
				return nil, err
			}
			switch id {
			case cExp:
				c.Expiry = t
			case cIat:
				c.IssuedAt = t
			default:
				c.NotBefore = t
			}
		default:
			// strings.EqualFold folds as encoding/json matches names, by
			// Unicode rules: "ſub" (U+017F) is sub to it, so only an ASCII
			// name of another length can be skipped.
			ascii := isASCII(name)
			for _, n := range claimNames {
				if (len(n) == len(name) || !ascii) && strings.EqualFold(n, string(name)) {
					return nil, errClaimFold
				}
			}
			if err := dec.SkipValue(); err != nil {
				return nil, errClaimsJSON
			}
		}
	}
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '}' {
		return nil, errClaimsJSON
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return nil, errClaimsJSON // trailing data
	}
	return c, nil
}

// isScopeDelimiter: scope is scope-tokens delimited by spaces (RFC 6749
// §3.3); a tab or NBSP is not one (strings.Fields would split on it).
func isScopeDelimiter(r rune) bool { return r == ' ' }

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// unquote returns the contents of a JSON string value; the result aliases
// either raw or the scratch buffer and is valid until the next call.
func (cd *claimsDecoder) unquote(raw jsontext.Value) ([]byte, error) {
	if len(raw) < 2 || raw[0] != '"' {
		return nil, errClaimType
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return inner, nil // jsontext has checked the UTF-8
	}
	var err error
	cd.buf, err = jsontext.AppendUnquote(cd.buf[:0], raw)
	return cd.buf, err
}

func (cd *claimsDecoder) readString(intern func([]byte) string, tryIntern bool) (string, error) {
	if cd.dec.PeekKind() != '"' {
		return "", errClaimType
	}
	raw, err := cd.dec.ReadValue()
	if err != nil {
		return "", errClaimsJSON
	}
	b, err := cd.unquote(raw)
	if err != nil {
		return "", errClaimsJSON
	}
	if tryIntern && intern != nil {
		if s := intern(b); s != "" {
			return s, nil
		}
	}
	return string(b), nil
}

func (cd *claimsDecoder) readStrings(intern func([]byte) string) ([]string, error) {
	if cd.dec.PeekKind() != '[' {
		return nil, errClaimType
	}
	if _, err := cd.dec.ReadToken(); err != nil {
		return nil, errClaimsJSON
	}
	list := []string{}
	for cd.dec.PeekKind() != ']' {
		s, err := cd.readString(intern, intern != nil)
		if err != nil {
			return nil, err
		}
		list = append(list, s)
	}
	if _, err := cd.dec.ReadToken(); err != nil {
		return nil, errClaimsJSON
	}
	return list, nil
}

// maxNumericDate is the end of year 9999: beyond it a NumericDate is nonsense
// and time.Unix arithmetic could overflow.
const maxNumericDate = 253402300799

// readNumericDate reads a JSON number of seconds since the epoch (RFC 7519
// §2), fractions allowed, strings refused.
func (cd *claimsDecoder) readNumericDate() (time.Time, error) {
	if cd.dec.PeekKind() != '0' {
		return time.Time{}, errClaimType
	}
	tok, err := cd.dec.ReadToken()
	if err != nil {
		return time.Time{}, errClaimsJSON
	}
	f := tok.Float()
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > maxNumericDate {
		return time.Time{}, errClaimRange
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}
