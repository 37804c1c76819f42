package authflow

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func fullSession() *Session {
	return &Session{
		ID:            "kept-by-the-caller",
		Subject:       "8f4c1a2e-0b7d-4c59-9e61-3f2a7d9c5b10",
		Created:       time.Date(2031, 7, 1, 11, 30, 45, 1, time.UTC),
		Expiry:        time.Date(2031, 7, 2, 11, 30, 45, 2, time.UTC),
		IDTokenExpiry: time.Date(2031, 7, 1, 12, 30, 45, 3, time.UTC),
		issued:        time.Date(2031, 7, 1, 11, 30, 44, 4, time.UTC),
		LastUsed:      time.Date(2031, 7, 1, 11, 40, 44, 5, time.UTC),
		claims:        []byte(`{"sub":"8f4c1a2e-0b7d-4c59-9e61-3f2a7d9c5b10","email":"alice@example.com"}`),
		nonce:         strings.Repeat("n", 43),
		tokens:        fullTokenSet(),
		AuthTime:      time.Date(2031, 7, 1, 11, 29, 0, 0, time.UTC),
		ACR:           "urn:example:mfa",
		sid:           "op-session-1",
		device:        "Firefox on Linux",

		refreshUnknown: true,
		refreshKept:    true,
	}
}

func mustMarshalSession(t testing.TB, s *Session) []byte {
	t.Helper()
	rec, err := s.marshal()
	require.NoError(t, err)
	return rec
}

// assertSameSession compares everything the record carries; times by Equal
// (location and monotonic reading are not kept), and decoded times are UTC.
func assertSameSession(t *testing.T, want, got *Session) {
	t.Helper()
	assert.Equal(t, want.Subject, got.Subject)
	assert.Equal(t, want.nonce, got.nonce)
	assert.Equal(t, string(want.claims), string(got.claims))
	assert.Equal(t, want.tokens.AccessToken, got.tokens.AccessToken)
	assert.Equal(t, want.tokens.TokenType, got.tokens.TokenType)
	assert.Equal(t, want.tokens.RefreshToken, got.tokens.RefreshToken)
	assert.Equal(t, want.tokens.IDToken, got.tokens.IDToken)
	assert.Equal(t, want.ACR, got.ACR)
	assert.Equal(t, want.sid, got.sid)
	assert.Equal(t, want.device, got.device)
	assert.Equal(t, want.refreshUnknown, got.refreshUnknown)
	assert.Equal(t, want.refreshKept, got.refreshKept)
	for _, p := range [][2]time.Time{
		{want.Created, got.Created}, {want.Expiry, got.Expiry}, {want.AuthTime, got.AuthTime}, {want.LastUsed, got.LastUsed},
		{want.IDTokenExpiry, got.IDTokenExpiry}, {want.issued, got.issued}, {want.tokens.Expiry, got.tokens.Expiry},
	} {
		assert.True(t, p[0].Equal(p[1]), "time %v, want %v", p[1], p[0])
		if p[0].IsZero() {
			assert.Equal(t, time.Time{}, p[1], "the zero time reads back as time.Time{}")
		} else {
			assert.Equal(t, time.UTC, p[1].Location(), "times read back in UTC")
		}
	}
}

func TestSessionRecordRoundTrip(t *testing.T) {
	withTokens := func(ts TokenSet) *Session { s := fullSession(); s.tokens = ts; return s }
	for _, tc := range []struct {
		name string
		s    *Session
	}{
		{"zero", &Session{}},
		{"full", fullSession()},
		{"no claims, no refresh token", &Session{Subject: "a", tokens: TokenSet{AccessToken: "a", TokenType: "Bearer", IDToken: "i"}}},
		{"zero bytes and non-UTF-8", withTokens(TokenSet{AccessToken: "\x00a\x00", RefreshToken: "\xff\xfe", IDToken: "é🔑"})},
		{"256 KiB tokens", withTokens(TokenSet{AccessToken: strings.Repeat("a", 1<<18), IDToken: strings.Repeat("i", 1<<18)})},
		{"before 1970", withTokens(TokenSet{AccessToken: "a", Expiry: time.Date(1969, 12, 31, 23, 59, 59, 1, time.UTC)})},
		{"local zone and monotonic clock", &Session{Created: time.Now(), Expiry: time.Now().In(time.FixedZone("X", 3600))}},
		{"beyond UnixNano's range", &Session{Created: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), Expiry: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)}},
		{"Unix epoch is not zero", withTokens(TokenSet{Expiry: time.Unix(0, 0)})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := mustMarshalSession(t, tc.s)
			got := Session{ID: "id"}
			require.NoError(t, got.unmarshal(rec))
			assert.Equal(t, "id", got.ID, "the id is not in the record")
			assertSameSession(t, tc.s, &got)
		})
	}
}

// TestSessionRecordLayout pins version 7. Changing the layout means a new
// version: a record of another version is refused, never misread.
func TestSessionRecordLayout(t *testing.T) {
	s := &Session{
		Subject: "s", nonce: "n", claims: []byte("{}"), device: "d",
		Created: time.Unix(1, 5), Expiry: time.Unix(300, 0), IDTokenExpiry: time.Unix(-1, 0), issued: time.Unix(2, 0),
		LastUsed: time.Unix(3, 0),
		tokens:   TokenSet{AccessToken: "at", TokenType: "Bearer", IDToken: "id", Expiry: time.Unix(1, 5)},
		AuthTime: time.Unix(-2, 7), ACR: "a", sid: "si", refreshUnknown: true,
	}
	want := []byte{sessionVersion,
		2, 5, // Created: varint 1, uvarint 5
		0xd8, 0x04, 0, // Expiry: varint 300
		1, 0, // IDTokenExpiry: varint -1
		4, 0, // issued: varint 2
		6, 0, // LastUsed: varint 3
		1, 's', 1, 'n', 2, '{', '}',
		2, 'a', 't', 6, 'B', 'e', 'a', 'r', 'e', 'r', 0, 2, 'i', 'd',
		2, 5,
		3, 7, // AuthTime: varint -2, uvarint 7
		1, 'a', 2, 's', 'i', 1, 'd', // ACR, sid, device
		1, // flags: refreshUnknown
	}
	assert.Equal(t, want, mustMarshalSession(t, s))

	var zero Session
	z := binary.AppendVarint(nil, time.Time{}.Unix())
	want = []byte{sessionVersion}
	for range 5 {
		want = append(append(want, z...), 0)
	}
	want = append(want, 0, 0, 0, 0, 0, 0, 0)
	want = append(append(want, z...), 0)
	want = append(append(want, z...), 0, 0, 0, 0, 0) // AuthTime, ACR, sid, device, flags
	assert.Equal(t, want, mustMarshalSession(t, &zero), "zero times are year 1, not the Unix epoch")
}

func TestSessionRecordCopiesStrings(t *testing.T) {
	want := fullSession()
	rec := mustMarshalSession(t, want)
	var got Session
	require.NoError(t, got.unmarshal(rec))
	for i := range rec {
		rec[i] = 'X'
	}
	assert.Equal(t, want.tokens.AccessToken, got.tokens.AccessToken, "strings share no memory with the record")
	assert.Equal(t, want.Subject, got.Subject)
}

func TestSessionRecordCorrupt(t *testing.T) {
	valid := mustMarshalSession(t, fullSession())
	oversized := binary.AppendUvarint(bytes.Clone(valid[:9]), maxSessionRecordLen)
	oversized = append(oversized, make([]byte, maxSessionRecordLen)...)

	cases := []struct {
		name string
		data []byte
	}{
		{"nil", nil},
		{"version 0", append([]byte{0}, valid[1:]...)},
		{"version 1", append([]byte{1}, valid[1:]...)},
		{"version 2", append([]byte{2}, valid[1:]...)},
		{"version 3", append([]byte{3}, valid[1:]...)},
		{"version 4", append([]byte{4}, valid[1:]...)},
		{"version 5", append([]byte{5}, valid[1:]...)},
		{"version 6", append([]byte{6}, valid[1:]...)},
		{"version 8", append([]byte{8}, valid[1:]...)},
		{"unknown flag", append(bytes.Clone(valid[:len(valid)-1]), 4)},
		{"JSON", []byte(`{"sub":"x","access_token":"y"}`)},
		{"length overruns", []byte{sessionVersion, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 'a', 'b'}},
		{"length 2^64-1", binary.AppendUvarint([]byte{sessionVersion, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, math.MaxUint64)},
		{"length varint overflows", []byte{sessionVersion, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"time varint overflows", []byte{sessionVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"a second of nanoseconds", binary.AppendUvarint([]byte{sessionVersion, 0}, uint64(time.Second))},
		{"record over the limit", oversized},
		{"trailing byte", append(bytes.Clone(valid), 0)},
		{"a flow cookie record", newFlow("/", time.Unix(1, 0)).marshal()},
	}
	// Every proper prefix of a record is truncated.
	for n := range len(valid) {
		cases = append(cases, struct {
			name string
			data []byte
		}{fmt.Sprintf("truncated to %d bytes", n), valid[:n]})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := Session{ID: "id", Subject: "unchanged"}
			err := s.unmarshal(tc.data)
			require.ErrorIs(t, err, errCorruptRecord)
			assert.True(t, strings.HasPrefix(err.Error(), "authflow: corrupt record: session: "), err.Error())
			assert.Equal(t, Session{ID: "id", Subject: "unchanged"}, s, "a failed decode changed the receiver")
			for _, secret := range []string{"eyJ", "refresh-token", "alice"} {
				assert.NotContains(t, err.Error(), secret)
			}
		})
	}
}

func TestSessionRecordEncodeLimit(t *testing.T) {
	s := fullSession()
	s.tokens.IDToken = strings.Repeat("i", maxSessionRecordLen)
	rec, err := s.marshal()
	require.Error(t, err, "what unmarshal would refuse is never written")
	assert.Nil(t, rec)
	assert.True(t, strings.HasPrefix(err.Error(), "authflow: session record of "), err.Error())
	assert.NotContains(t, err.Error(), "iiii")
}

func TestFlowRecord(t *testing.T) {
	f := flow{State: "s", Nonce: "n", Verifier: "v", ReturnTo: "/x?y=1", Created: time.Unix(1700000000, 5),
		Prompt: "login consent", MaxAge: 300 * time.Second, ACRValues: []string{"urn:example:mfa", "phr"}}
	rec := f.marshal()
	var got flow
	require.NoError(t, got.unmarshal(rec))
	assert.True(t, f.Created.Equal(got.Created))
	got.Created = f.Created
	assert.Equal(t, f, got)

	plain := flow{State: "s", Created: time.Unix(1700000000, 0).UTC()}
	var back flow
	require.NoError(t, back.unmarshal(plain.marshal()))
	assert.Equal(t, plain, back, "a login that asked nothing decodes to one that asks nothing")

	sess := mustMarshalSession(t, fullSession())
	for name, b := range map[string][]byte{
		"empty":            nil,
		"version 1":        append([]byte{1}, rec[1:]...),
		"version 2":        append([]byte{2}, rec[1:]...),
		"truncated":        rec[:len(rec)-1],
		"trailing byte":    append(bytes.Clone(rec), 0),
		"over the limit":   append(bytes.Clone(rec), make([]byte, maxFlowCookieLen)...),
		"a session record": sess,
	} {
		t.Run(name, func(t *testing.T) {
			got := flow{State: "unchanged"}
			err := got.unmarshal(b)
			require.ErrorIs(t, err, errCorruptRecord)
			assert.True(t, strings.HasPrefix(err.Error(), "authflow: corrupt record: flow cookie: "), err.Error())
			assert.Equal(t, flow{State: "unchanged"}, got)
		})
	}
}

// TestSessionUnmarshalAllocs: RequireLogin decodes a session per request;
// one allocation backs every string in it.
func TestSessionUnmarshalAllocs(t *testing.T) {
	rec := mustMarshalSession(t, fullSession())
	var s Session
	allocs := testing.AllocsPerRun(100, func() {
		if err := s.unmarshal(rec); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, allocs, 1.0)
}

func BenchmarkSessionCodec(b *testing.B) {
	s := fullSession()
	s.tokens.AccessToken = strings.Repeat("a", 1024)
	s.tokens.RefreshToken = strings.Repeat("r", 64)
	s.tokens.IDToken = strings.Repeat("i", 1024)
	rec := mustMarshalSession(b, s)
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var got Session
			if err := got.unmarshal(rec); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.marshal(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzSessionRoundTrip: every session encodes, and decodes to itself.
func FuzzSessionRoundTrip(f *testing.F) {
	f.Add("access", "Bearer", "refresh", "id", "sub", []byte(`{}`), int64(1_900_000_000), int64(5))
	f.Add("", "", "", "", "", []byte(nil), int64(0), int64(0))
	f.Add("\x00", "\xff", "é", "🔑", "\x00", []byte{0}, int64(math.MinInt64), int64(999_999_999))
	f.Add("a", "b", "c", "d", "e", []byte("f"), int64(math.MaxInt64), int64(1))
	f.Fuzz(func(t *testing.T, at, tt, rt, id, sub string, claims []byte, sec, nsec int64) {
		tm := time.Unix(sec, nsec)
		in := &Session{
			Subject: sub, nonce: id, claims: claims, Created: tm, Expiry: tm.Add(time.Hour), IDTokenExpiry: time.Unix(nsec, sec),
			tokens: TokenSet{AccessToken: at, TokenType: tt, RefreshToken: rt, IDToken: id, Expiry: tm},
		}
		rec, err := in.marshal()
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		var out Session
		if err := out.unmarshal(rec); err != nil {
			t.Fatalf("unmarshal: %v", err)
		}
		if !sameRecord(in, &out) {
			t.Fatalf("round trip changed the session")
		}
	})
}

// sameRecord reports whether a and b carry the same record.
func sameRecord(a, b *Session) bool {
	return a.Subject == b.Subject && a.nonce == b.nonce && bytes.Equal(a.claims, b.claims) &&
		a.Created.Equal(b.Created) && a.Expiry.Equal(b.Expiry) && a.IDTokenExpiry.Equal(b.IDTokenExpiry) &&
		a.tokens.AccessToken == b.tokens.AccessToken && a.tokens.TokenType == b.tokens.TokenType &&
		a.tokens.RefreshToken == b.tokens.RefreshToken && a.tokens.IDToken == b.tokens.IDToken &&
		a.tokens.Expiry.Equal(b.tokens.Expiry) &&
		a.AuthTime.Equal(b.AuthTime) && a.ACR == b.ACR && a.sid == b.sid
}
