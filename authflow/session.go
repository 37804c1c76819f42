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

	// AuthTime is when the user last authenticated at the provider, the
	// login's ID token's auth_time (UTC; zero when it had none); ACR is its
	// acr, the authentication context class reference ("" when none) (OIDC
	// Core §2). Both are the login's: a refresh is no new authentication and
	// changes neither. RequireRecentLogin and RequireACR check them.
	AuthTime time.Time
	ACR      string

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

	// Recorded at login for the per-user index (index.go, backchannel.go).
	sid    string // the ID token's sid: the provider's session (OIDC Back-Channel Logout 1.0 §2.1)
	device string // the user agent's family, "Chrome on macOS" (useragent.go), or ""

	// refreshUnknown: a refresh with tokens.RefreshToken was sent and its
	// answer lost, so the provider may have rotated it; it is never presented
	// for redemption again (refreshlost.go). It is kept for revocation only.
	refreshUnknown bool
	// refreshKept: a refresh answered without a new refresh token (or with
	// the same one), so the provider does not rotate refresh tokens and a
	// lost answer leaves the token good to present again (refreshlost.go).
	refreshKept bool
}

// Handle names the session without being a credential: base64url (RFC 4648
// §5, unpadded) of the SHA-256 of ID, 43 characters. It is what the store
// keys the session by, what Sessions lists and EndSession takes, and what
// OnSessionEnd is given; key per-session state (awscreds.UserCache) by it.
func (s *Session) Handle() string { return sessionHandle(s.ID) }

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
func storeKey(sessionID string) string { return handleKey(sessionHandle(sessionID)) }

// sessionHandle is Session.Handle of a session id.
func sessionHandle(sessionID string) string {
	sum := sha256.Sum256([]byte(sessionID))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// handleKey is the store key of the session a handle names.
func handleKey(handle string) string { return "awsauth/session/" + handle }

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

// The session record, version 7 (codec.go): Created, Expiry, IDTokenExpiry,
// issued and LastUsed as times; Subject, the nonce and the kept claims; then
// the TokenSet; then AuthTime, ACR, sid and the user agent's family; then
// flags as a uint (bit 0: refreshUnknown, bit 1: refreshKept). Records of older versions are
// refused: their users sign in again.
const sessionVersion = 7

// Session record flags.
const (
	flagRefreshUnknown = 1 << iota
	flagRefreshKept
)

// maxSessionRecordLen bounds a session record. Real ones are a few KB (an ID
// token with many groups perhaps tens of KB); anything near this is a fault.
// marshal refuses to write what unmarshal would refuse to read.
const maxSessionRecordLen = 1 << 20

// marshal encodes the session compactly: it is read on every request.
func (s *Session) marshal() ([]byte, error) {
	w := newRecordWriter(sessionVersion, 6*timeSize+7*lengthSize+len(s.Subject)+len(s.nonce)+len(s.claims)+s.tokens.size()+
		len(s.ACR)+len(s.sid)+len(s.device))
	w.time(s.Created)
	w.time(s.Expiry)
	w.time(s.IDTokenExpiry)
	w.time(s.issued)
	w.time(s.LastUsed)
	w.string(s.Subject)
	w.string(s.nonce)
	w.bytes(s.claims)
	s.tokens.write(&w)
	w.time(s.AuthTime)
	w.string(s.ACR)
	w.string(s.sid)
	w.string(s.device)
	var flags uint64
	if s.refreshUnknown {
		flags |= flagRefreshUnknown
	}
	if s.refreshKept {
		flags |= flagRefreshKept
	}
	w.uint(flags)
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
	d.AuthTime = r.time()
	d.ACR = r.string()
	d.sid = r.string()
	d.device = r.string()
	switch flags := r.uint(); {
	case flags&^(flagRefreshUnknown|flagRefreshKept) != 0:
		r.fail(fmt.Sprintf("unknown flags %#x", flags))
	default:
		d.refreshUnknown = flags&flagRefreshUnknown != 0
		d.refreshKept = flags&flagRefreshKept != 0
	}
	if err := r.done(); err != nil {
		return err
	}
	d.ID = s.ID
	*s = d
	return nil
}
