package jwt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// Claims are the claims of a JWT that some profile reads (RFC 7519 §4.1, OIDC Core §2 and
// §3.1.3.6, RFC 9068 §2.2, RFC 8693 §4.2, Amazon Cognito's token claims). A string claim that
// is absent is ""; a list that is absent is nil; a time that is absent is the zero time.
// Nothing in Claims is to be trusted until Verifier.Verify has accepted the token.
type Claims struct {
	Issuer, Subject string
	// Audience is aud as a list (a single string becomes a list of one); nil when absent.
	Audience []string
	// ClientID is client_id (RFC 9068 §2.2, Cognito access tokens).
	ClientID string
	// AuthorizedParty is azp (OIDC Core §2).
	AuthorizedParty string
	// TokenUse is Cognito's token_use ("access" or "id").
	TokenUse string
	// Scopes is scope split on spaces (RFC 6749 §3.3).
	Scopes []string
	// Groups is cognito:groups.
	Groups []string
	// Username is username, or cognito:username when username is absent.
	Username string
	// ID is jti.
	ID string
	// Nonce is nonce (OIDC Core §2); see Has(ClaimNonce) for its presence.
	Nonce string
	// SessionID is sid (OIDC Front- and Back-Channel Logout).
	SessionID string
	// ACR is acr (OIDC Core §2).
	ACR string
	// Events are the member names of events (RFC 8417 §2.2, a Security Event Token's events:
	// a JSON object whose every member value is a JSON object), in the order sent; nil when
	// absent. OIDC Back-Channel Logout 1.0 §2.4 names its event EventBackChannelLogout.
	Events []string
	// Expiry, IssuedAt, NotBefore and AuthTime are exp, iat, nbf and auth_time in UTC.
	Expiry, IssuedAt, NotBefore, AuthTime time.Time

	// Payload is the decoded payload; read it with Decode or Subset.
	Payload []byte

	present uint32 // bit 1<<claim for each claim read
}

// Claim names a claim Claims reads, for Has.
type Claim uint8

// The claims Claims reads.
const (
	claimOther Claim = iota
	ClaimIss
	ClaimSub
	ClaimAud
	ClaimClientID
	ClaimAZP
	ClaimTokenUse
	ClaimScope
	ClaimGroups
	ClaimUsername
	ClaimCognitoUsername
	ClaimJTI
	ClaimNonce
	ClaimSID
	ClaimACR
	ClaimExp
	ClaimIat
	ClaimNbf
	ClaimAuthTime
	ClaimEvents
)

// Has reports whether the payload carries claim c.
func (c *Claims) Has(claim Claim) bool { return c.present&(1<<claim) != 0 }

// HasScope reports whether scope is among Scopes.
func (c *Claims) HasScope(scope string) bool { return slices.Contains(c.Scopes, scope) }

// InGroup reports whether group is among Groups.
func (c *Claims) InGroup(group string) bool { return slices.Contains(c.Groups, group) }

// Decode unmarshals the payload into v with encoding/json. The members Claims reads are unique
// in the payload, case-insensitively (see Parse), so v sees the values that were checked.
func (c *Claims) Decode(v any) error {
	if err := json.Unmarshal(c.Payload, v); err != nil {
		return fmt.Errorf("decoding claims: %w", err)
	}
	return nil
}

// Subset returns a JSON object holding sub and those of names that the payload carries, each
// with its value as sent.
func (c *Claims) Subset(names []string) ([]byte, error) {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(c.Payload, &all); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrClaimsJSON, err)
	}
	kept := make(map[string]json.RawMessage, len(names)+1)
	for _, n := range names {
		if v, ok := all[n]; ok {
			kept[n] = v
		}
	}
	if v, ok := all["sub"]; ok {
		kept["sub"] = v
	}
	return json.Marshal(kept)
}

// claimNames are the members Parse reads; a member equal to one of them but for case is
// refused, since encoding/json (Claims.Decode) would match it to the same field and the checked
// value would not be the decoded one.
var claimNames = [...]string{
	"iss", "sub", "aud", "client_id", "azp", "token_use", "scope", "cognito:groups", "username",
	"cognito:username", "jti", "nonce", "sid", "acr", "exp", "iat", "nbf", "auth_time", "events",
}

// claimID names a member without allocating (a switch on string(b) does not copy).
func claimID(b []byte) Claim {
	switch string(b) {
	case "iss":
		return ClaimIss
	case "sub":
		return ClaimSub
	case "aud":
		return ClaimAud
	case "client_id":
		return ClaimClientID
	case "azp":
		return ClaimAZP
	case "token_use":
		return ClaimTokenUse
	case "scope":
		return ClaimScope
	case "cognito:groups":
		return ClaimGroups
	case "username":
		return ClaimUsername
	case "cognito:username":
		return ClaimCognitoUsername
	case "jti":
		return ClaimJTI
	case "nonce":
		return ClaimNonce
	case "sid":
		return ClaimSID
	case "acr":
		return ClaimACR
	case "exp":
		return ClaimExp
	case "iat":
		return ClaimIat
	case "nbf":
		return ClaimNbf
	case "auth_time":
		return ClaimAuthTime
	case "events":
		return ClaimEvents
	}
	return claimOther
}

var claimsDecoderPool = sync.Pool{New: func() any { return new(claimsDecoder) }}

type claimsDecoder struct {
	r   bytes.Reader
	dec jsontext.Decoder
	buf []byte // unquoting scratch
}

// decodeClaims reads payload strictly into c: one JSON object, no duplicate member
// (jsontext's default), valid UTF-8, no member equal to a read one but for case, string claims
// as strings, aud a string or a non-empty array of strings, cognito:groups an array of strings,
// exp/iat/nbf/auth_time numbers within 0..year 9999 (RFC 7519 §2 NumericDate: never a string),
// events an object of objects (RFC 8417 §2.2).
// intern returns a configured string equal to b, or "", so that iss, aud, client_id and
// token_use cost no allocation when they match.
func decodeClaims(c *Claims, payload []byte, intern func(b []byte) string) error {
	cd := claimsDecoderPool.Get().(*claimsDecoder)
	defer claimsDecoderPool.Put(cd)
	defer cd.r.Reset(nil)
	cd.r.Reset(payload)
	cd.dec.Reset(&cd.r)
	dec := &cd.dec

	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return ErrClaimsJSON
	}
	c.Payload = payload
	for dec.PeekKind() == '"' {
		rawName, err := dec.ReadValue()
		if err != nil {
			return ErrClaimsJSON
		}
		name, err := cd.unquote(rawName)
		if err != nil {
			return ErrClaimsJSON
		}
		id := claimID(name)
		c.present |= 1 << id
		switch id {
		case ClaimIss, ClaimSub, ClaimClientID, ClaimAZP, ClaimTokenUse, ClaimScope, ClaimUsername,
			ClaimCognitoUsername, ClaimJTI, ClaimNonce, ClaimSID, ClaimACR:
			s, err := cd.readString(intern, id == ClaimIss || id == ClaimClientID || id == ClaimTokenUse || id == ClaimAZP)
			if err != nil {
				return err
			}
			switch id {
			case ClaimIss:
				c.Issuer = s
			case ClaimSub:
				c.Subject = s
			case ClaimClientID:
				c.ClientID = s
			case ClaimAZP:
				c.AuthorizedParty = s
			case ClaimTokenUse:
				c.TokenUse = s
			case ClaimScope:
				c.Scopes = strings.FieldsFunc(s, isScopeDelimiter)
			case ClaimUsername:
				c.Username = s
			case ClaimCognitoUsername:
				if c.Username == "" {
					c.Username = s
				}
			case ClaimJTI:
				c.ID = s
			case ClaimNonce:
				c.Nonce = s
			case ClaimSID:
				c.SessionID = s
			case ClaimACR:
				c.ACR = s
			}
		case ClaimAud:
			if dec.PeekKind() == '"' {
				s, err := cd.readString(intern, true)
				if err != nil {
					return err
				}
				c.Audience = []string{s}
				continue
			}
			list, err := cd.readStrings(intern)
			if err != nil {
				return err
			}
			if len(list) == 0 {
				return ErrClaimType // RFC 7519 §4.1.3: a list of StringOrURI; [] names no one
			}
			c.Audience = list
		case ClaimGroups:
			list, err := cd.readStrings(nil)
			if err != nil {
				return err
			}
			c.Groups = list
		case ClaimEvents:
			events, err := cd.readEvents()
			if err != nil {
				return err
			}
			c.Events = events
		case ClaimExp, ClaimIat, ClaimNbf, ClaimAuthTime:
			t, err := cd.readNumericDate()
			if err != nil {
				return err
			}
			switch id {
			case ClaimExp:
				c.Expiry = t
			case ClaimIat:
				c.IssuedAt = t
			case ClaimNbf:
				c.NotBefore = t
			default:
				c.AuthTime = t
			}
		default:
			// strings.EqualFold folds as encoding/json matches names, by Unicode rules: "ſub"
			// (U+017F) is sub to it, so only an ASCII name of another length can be skipped.
			ascii := isASCII(name)
			for _, n := range claimNames {
				if (len(n) == len(name) || !ascii) && strings.EqualFold(n, string(name)) {
					return ErrClaimFold
				}
			}
			if err := dec.SkipValue(); err != nil {
				return ErrClaimsJSON
			}
		}
	}
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '}' {
		return ErrClaimsJSON
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return ErrClaimsJSON // trailing data
	}
	return nil
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
		return nil, ErrClaimType
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
		return "", ErrClaimType
	}
	raw, err := cd.dec.ReadValue()
	if err != nil {
		return "", ErrClaimsJSON
	}
	b, err := cd.unquote(raw)
	if err != nil {
		return "", ErrClaimsJSON
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
		return nil, ErrClaimType
	}
	if _, err := cd.dec.ReadToken(); err != nil {
		return nil, ErrClaimsJSON
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
		return nil, ErrClaimsJSON
	}
	return list, nil
}

// readEvents reads a Security Event Token's events claim (RFC 8417 §2.2): a JSON object whose
// members are event type URIs, each with a JSON object as its value (contents skipped). It
// returns the member names, in order; {} gives an empty, non-nil list.
func (cd *claimsDecoder) readEvents() ([]string, error) {
	if cd.dec.PeekKind() != '{' {
		return nil, ErrClaimType
	}
	if _, err := cd.dec.ReadToken(); err != nil {
		return nil, ErrClaimsJSON
	}
	names := []string{}
	for cd.dec.PeekKind() == '"' {
		name, err := cd.readString(nil, false)
		if err != nil {
			return nil, err
		}
		if cd.dec.PeekKind() != '{' {
			return nil, ErrClaimType
		}
		if err := cd.dec.SkipValue(); err != nil {
			return nil, ErrClaimsJSON
		}
		names = append(names, name)
	}
	if tok, err := cd.dec.ReadToken(); err != nil || tok.Kind() != '}' {
		return nil, ErrClaimsJSON
	}
	return names, nil
}

// maxNumericDate is the end of year 9999: beyond it a NumericDate is nonsense
// and time.Unix arithmetic could overflow.
const maxNumericDate = 253402300799

// readNumericDate reads a JSON number of seconds since the epoch (RFC 7519
// §2), fractions allowed, strings refused.
func (cd *claimsDecoder) readNumericDate() (time.Time, error) {
	if cd.dec.PeekKind() != '0' {
		return time.Time{}, ErrClaimType
	}
	tok, err := cd.dec.ReadToken()
	if err != nil {
		return time.Time{}, ErrClaimsJSON
	}
	f := tok.Float()
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > maxNumericDate {
		return time.Time{}, ErrClaimRange
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}
