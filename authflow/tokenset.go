package authflow

import (
	"fmt"
	"log/slog"
	"time"
)

// TokenSet is what a token endpoint returned for one session (RFC 6749 §5.1,
// OpenID Connect Core §3.1.3.3), as kept on the server in the session record.
// Handler.Tokens returns it.
//
// Its String, GoString and LogValue methods redact the tokens, so printing or
// logging a TokenSet by mistake leaks nothing.
type TokenSet struct {
	// AccessToken is the access token, opaque to the client.
	AccessToken string
	// TokenType is the token_type, "Bearer" (RFC 6750); authflow refuses
	// any other type.
	TokenType string
	// RefreshToken is the refresh token; empty when none was issued.
	RefreshToken string
	// IDToken is the OpenID Connect ID token, a compact JWS.
	IDToken string
	// Expiry is the access token's expiry in UTC; zero means unknown.
	Expiry time.Time
}

// ExpiresWithin reports whether the access token expires within d of now:
// true when Expiry is known and Expiry-d is not after now. Callers refresh
// early with a positive d so that a token is not used as it expires. A zero
// Expiry is never reported as expiring: nothing is known to refresh for.
func (t TokenSet) ExpiresWithin(now time.Time, d time.Duration) bool {
	return !t.Expiry.IsZero() && !t.Expiry.Add(-d).After(now)
}

// write appends t's fields to a record (codec.go): the four tokens as
// strings, then Expiry as a time.
func (t *TokenSet) write(w *recordWriter) {
	w.string(t.AccessToken)
	w.string(t.TokenType)
	w.string(t.RefreshToken)
	w.string(t.IDToken)
	w.time(t.Expiry)
}

// read reads what write wrote; faults stay in r.
func (t *TokenSet) read(r *recordReader) {
	t.AccessToken = r.string()
	t.TokenType = r.string()
	t.RefreshToken = r.string()
	t.IDToken = r.string()
	t.Expiry = r.time()
}

// size is about the bytes write appends.
func (t *TokenSet) size() int {
	return 4*lengthSize + timeSize + len(t.AccessToken) + len(t.TokenType) + len(t.RefreshToken) + len(t.IDToken)
}

// String returns a summary of t with the tokens redacted.
func (t TokenSet) String() string {
	expiry := "unknown"
	if !t.Expiry.IsZero() {
		expiry = t.Expiry.Format(time.RFC3339)
	}
	return fmt.Sprintf("TokenSet{AccessToken:%s TokenType:%q RefreshToken:%s IDToken:%s Expiry:%s}",
		redact(t.AccessToken), t.TokenType, redact(t.RefreshToken), redact(t.IDToken), expiry)
}

// GoString is String, so that %#v redacts too.
func (t TokenSet) GoString() string { return t.String() }

// LogValue implements slog.LogValuer with the tokens redacted.
func (t TokenSet) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("access_token", redact(t.AccessToken)),
		slog.String("token_type", t.TokenType),
		slog.String("refresh_token", redact(t.RefreshToken)),
		slog.String("id_token", redact(t.IDToken)),
		slog.Time("expiry", t.Expiry),
	)
}

// redact says whether a token is present and how long it is, which is what
// debugging needs, and nothing of its contents.
func redact(s string) string {
	if s == "" {
		return `""`
	}
	return fmt.Sprintf("[REDACTED %d bytes]", len(s))
}
