package tokenstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"
)

// ErrCorrupt is returned, wrapped, when a stored record cannot be decoded:
// truncated, oversized, of an unknown version or not a record at all.
var ErrCorrupt = errors.New("tokenstore: corrupt record")

// TokenSet is what a token endpoint returned for one session (RFC 6749 §5.1,
// OpenID Connect Core §3.1.3.3), as kept on the server.
//
// Its String, GoString and LogValue methods redact the tokens, so printing or
// logging a TokenSet by mistake leaks nothing.
type TokenSet struct {
	// AccessToken is the access token, opaque to the client.
	AccessToken string
	// TokenType is the token_type, usually "Bearer".
	TokenType string
	// RefreshToken is the refresh token; empty when none was issued.
	RefreshToken string
	// IDToken is the OpenID Connect ID token, a compact JWS; empty when none
	// was issued.
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

// The binary encoding, version 1:
//
//	version    byte (1)
//	4 × field  uvarint length, then that many bytes: AccessToken, TokenType,
//	           RefreshToken, IDToken
//	expiry     varint Unix nanoseconds; 0 for a zero Expiry
//
// Lengths come first so a decoder bounds every read by the input, and the
// version byte lets a later encoding coexist with records already stored.
const (
	tokenSetVersion = 1
	// maxFieldLen bounds each token. Real tokens are a few KB (an ID token
	// with many groups perhaps tens of KB); anything larger is a fault, and
	// refusing it at encode time means every record written can be read back.
	maxFieldLen = 1 << 20
)

// inUnixNanoRange reports whether t is in the range of time.Time that
// UnixNano represents, the years 1678 to 2262.
func inUnixNanoRange(t time.Time) bool {
	return !t.Before(time.Unix(0, math.MinInt64)) && !t.After(time.Unix(0, math.MaxInt64))
}

// AppendBinary appends the binary encoding of t to b and returns the extended
// buffer. It implements encoding.BinaryAppender. It fails when a token is
// longer than 1 MiB or Expiry is outside the years 1678 to 2262 (the range of
// Unix nanoseconds); b is then returned unchanged. An Expiry of exactly the
// Unix epoch reads back as zero (unknown).
func (t TokenSet) AppendBinary(b []byte) ([]byte, error) {
	fields := [...]string{t.AccessToken, t.TokenType, t.RefreshToken, t.IDToken}
	for _, f := range fields {
		if len(f) > maxFieldLen {
			return b, fmt.Errorf("tokenstore: token of %d bytes exceeds %d", len(f), maxFieldLen)
		}
	}
	var expiry int64
	if !t.Expiry.IsZero() {
		if !inUnixNanoRange(t.Expiry) {
			return b, errors.New("tokenstore: expiry out of range")
		}
		expiry = t.Expiry.UnixNano()
	}

	size := 1 + binary.MaxVarintLen64
	for _, f := range fields {
		size += binary.MaxVarintLen64 + len(f)
	}
	b = slices.Grow(b, size)
	b = append(b, tokenSetVersion)
	for _, f := range fields {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return binary.AppendVarint(b, expiry), nil
}

// MarshalBinary returns the binary encoding of t; see AppendBinary.
func (t TokenSet) MarshalBinary() ([]byte, error) {
	return t.AppendBinary(nil)
}

// UnmarshalBinary decodes a record written by MarshalBinary into t. It returns
// an error wrapping ErrCorrupt when data is not exactly one record; t is then
// unchanged.
func (t *TokenSet) UnmarshalBinary(data []byte) error {
	ts, rest, err := ConsumeTokenSet(data)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(rest))
	}
	*t = ts
	return nil
}

// ConsumeTokenSet decodes one TokenSet from the front of data, as written by
// AppendBinary, and returns it with the bytes that follow it. A record that
// embeds a TokenSet (a session, for example) appends it with AppendBinary and
// reads it back with ConsumeTokenSet. Errors wrap ErrCorrupt. The TokenSet
// shares no memory with data.
func ConsumeTokenSet(data []byte) (TokenSet, []byte, error) {
	if len(data) == 0 {
		return TokenSet{}, nil, fmt.Errorf("%w: empty", ErrCorrupt)
	}
	if data[0] != tokenSetVersion {
		return TokenSet{}, nil, fmt.Errorf("%w: unknown version %d", ErrCorrupt, data[0])
	}

	// Find the four fields' bounds first, so that one string allocation
	// backs all four tokens: authflow decodes a session on every request.
	var start, end [4]int
	off := 1
	for i := range start {
		n, w := binary.Uvarint(data[off:])
		if w <= 0 {
			return TokenSet{}, nil, fmt.Errorf("%w: bad length of field %d", ErrCorrupt, i+1)
		}
		off += w
		if n > maxFieldLen || n > uint64(len(data)-off) {
			return TokenSet{}, nil, fmt.Errorf("%w: field %d overruns the record", ErrCorrupt, i+1)
		}
		start[i], end[i] = off, off+int(n)
		off = end[i]
	}
	expiry, w := binary.Varint(data[off:])
	if w <= 0 {
		return TokenSet{}, nil, fmt.Errorf("%w: bad expiry", ErrCorrupt)
	}

	s := string(data[start[0]:end[3]])
	field := func(i int) string { return s[start[i]-start[0] : end[i]-start[0]] }
	ts := TokenSet{AccessToken: field(0), TokenType: field(1), RefreshToken: field(2), IDToken: field(3)}
	if expiry != 0 {
		ts.Expiry = time.Unix(0, expiry).UTC()
	}
	return ts, data[off+w:], nil
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
