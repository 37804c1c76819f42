package authflow

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pubauth/awsauth/tokenstore"
)

// Session is a signed-in user's server-side session.
type Session struct {
	// ID is the opaque session id the browser holds. Treat it as a secret:
	// it is a bearer credential for the session.
	ID string

	// Subject is the ID token's sub: the user's id at the provider.
	Subject string

	// Created is when the user signed in.
	Created time.Time

	// Expiry is when the session ends regardless of refreshes (UTC).
	Expiry time.Time

	// IDTokenExpiry is the current ID token's exp (UTC).
	IDTokenExpiry time.Time

	// issued is when the current tokens came from the token endpoint; zero
	// in records written before it was kept. It bounds the refresh window.
	issued time.Time

	claims []byte // JSON object: the ClaimsToKeep subset of the ID token
	nonce  string // the login's nonce, which a refreshed ID token may repeat
	tokens tokenstore.TokenSet
}

// Claims decodes the session's copy of the ID token claims (the subset
// named by Config.ClaimsToKeep, plus sub) into v, as encoding/json does.
func (s *Session) Claims(v any) error {
	if len(s.claims) == 0 {
		return json.Unmarshal([]byte("{}"), v)
	}
	return json.Unmarshal(s.claims, v)
}

// AccessTokenExpiry is the current access token's expiry (UTC); zero means
// the provider did not say.
func (s *Session) AccessTokenExpiry() time.Time { return s.tokens.Expiry }

type sessionKey struct{}

// SessionFrom returns the Session that RequireLogin put in ctx, or nil.
func SessionFrom(ctx context.Context) *Session {
	s, _ := ctx.Value(sessionKey{}).(*Session)
	return s
}

func withSession(ctx context.Context, s *Session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

// storeKey maps a session id to its store key. The store sees only a hash,
// so a leaked store dump holds no usable session cookies.
func storeKey(sessionID string) string {
	sum := sha256.Sum256([]byte(sessionID))
	return "awsauth/session/" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// validSessionID reports whether s has the shape randomToken makes, so junk
// cookies never reach the store.
func validSessionID(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// sessionVersion 2 added issued after IDTokenExpiry; version 1 records
// still decode, with a zero issued.
const sessionVersion = 2

// errSessionCorrupt reports a stored record that does not decode.
var errSessionCorrupt = errors.New("authflow: corrupt session record")

// marshal encodes the session compactly: it is read on every request.
func (s *Session) marshal() ([]byte, error) {
	b := make([]byte, 0, 64+len(s.Subject)+len(s.claims)+len(s.nonce)+
		len(s.tokens.AccessToken)+len(s.tokens.RefreshToken)+len(s.tokens.IDToken))
	b = append(b, sessionVersion)
	b = binary.AppendVarint(b, s.Created.UnixNano())
	b = binary.AppendVarint(b, s.Expiry.UnixNano())
	b = binary.AppendVarint(b, s.IDTokenExpiry.UnixNano())
	var issued int64 // 0: unknown
	if !s.issued.IsZero() {
		issued = s.issued.UnixNano()
	}
	b = binary.AppendVarint(b, issued)
	for _, f := range [][]byte{[]byte(s.Subject), []byte(s.nonce), s.claims} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return s.tokens.AppendBinary(b)
}

func (s *Session) unmarshal(b []byte) error {
	if len(b) == 0 || b[0] < 1 || b[0] > sessionVersion {
		return errSessionCorrupt
	}
	nTimes := 3 + int(b[0]-1) // version 2 adds issued
	b = b[1:]
	var times [4]int64
	for i := range times[:nTimes] {
		v, n := binary.Varint(b)
		if n <= 0 {
			return errSessionCorrupt
		}
		times[i] = v
		b = b[n:]
	}
	var fields [3][]byte
	for i := range fields {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return errSessionCorrupt
		}
		fields[i] = b[n : n+int(l)]
		b = b[n+int(l):]
	}
	ts, rest, err := tokenstore.ConsumeTokenSet(b)
	if err != nil || len(rest) != 0 {
		return fmt.Errorf("%w: %v", errSessionCorrupt, err)
	}
	s.Created = time.Unix(0, times[0]).UTC()
	s.Expiry = time.Unix(0, times[1]).UTC()
	s.IDTokenExpiry = time.Unix(0, times[2]).UTC()
	if times[3] != 0 {
		s.issued = time.Unix(0, times[3]).UTC()
	}
	s.Subject = string(fields[0])
	s.nonce = string(fields[1])
	if len(fields[2]) > 0 {
		s.claims = fields[2] // b is ours: the store returns a copy
	}
	s.tokens = ts
	return nil
}
