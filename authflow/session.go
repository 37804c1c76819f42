package authflow

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
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

	// LastUsed is when the session last served a request (UTC): the sign-in
	// time, then, with Config.IdleTimeout set, a request through RequireLogin
	// or Handler.Session, recorded to within IdleTimeout/10 (idle.go).
	LastUsed time.Time

	// issued is when the current tokens came from the token endpoint. It
	// bounds the refresh window.
	issued time.Time

	claims []byte // JSON object: the ClaimsToKeep subset of the ID token
	nonce  string // the login's nonce, which a refreshed ID token may repeat
	tokens TokenSet
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

// The session record, version 4 (codec.go): Created, Expiry, IDTokenExpiry,
// issued and LastUsed as times; Subject, the nonce and the kept claims; then the TokenSet.
// Records of older versions are refused: their users sign in again.
const sessionVersion = 4

// maxSessionRecordLen bounds a session record. Real ones are a few KB (an ID
// token with many groups perhaps tens of KB); anything near this is a fault.
// marshal refuses to write what unmarshal would refuse to read.
const maxSessionRecordLen = 1 << 20

// marshal encodes the session compactly: it is read on every request.
func (s *Session) marshal() ([]byte, error) {
	w := newRecordWriter(sessionVersion, 5*timeSize+3*lengthSize+len(s.Subject)+len(s.nonce)+len(s.claims)+s.tokens.size())
	w.time(s.Created)
	w.time(s.Expiry)
	w.time(s.IDTokenExpiry)
	w.time(s.issued)
	w.time(s.LastUsed)
	w.string(s.Subject)
	w.string(s.nonce)
	w.bytes(s.claims)
	s.tokens.write(&w)
	if len(w.b) > maxSessionRecordLen {
		return nil, fmt.Errorf("authflow: session record of %d bytes exceeds the limit of %d", len(w.b), maxSessionRecordLen)
	}
	return w.b, nil
}

// unmarshal decodes a record written by marshal into s, leaving ID as it is.
// It returns an error wrapping errCorruptRecord when b is not exactly one
// session record; s is then unchanged. The claims alias b.
func (s *Session) unmarshal(b []byte) error {
	r := readRecord("session", b, sessionVersion, maxSessionRecordLen)
	var d Session
	d.Created = r.time()
	d.Expiry = r.time()
	d.IDTokenExpiry = r.time()
	d.issued = r.time()
	d.LastUsed = r.time()
	d.Subject = r.string()
	d.nonce = r.string()
	d.claims = r.bytes()
	d.tokens.read(&r)
	if err := r.done(); err != nil {
		return err
	}
	d.ID = s.ID
	*s = d
	return nil
}
