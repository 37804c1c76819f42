package tokenstore_test

import (
	"bytes"
	"encoding"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/tokenstore"
)

var (
	_ encoding.BinaryAppender    = tokenstore.TokenSet{}
	_ encoding.BinaryMarshaler   = tokenstore.TokenSet{}
	_ encoding.BinaryUnmarshaler = (*tokenstore.TokenSet)(nil)
)

func fullTokenSet() tokenstore.TokenSet {
	return tokenstore.TokenSet{
		AccessToken:  "eyJhbGciOiJSUzI1NiJ9.access.sig",
		TokenType:    "Bearer",
		RefreshToken: "refresh-token-value",
		IDToken:      "eyJhbGciOiJSUzI1NiJ9.id.sig",
		Expiry:       time.Date(2031, 7, 1, 12, 30, 45, 123456789, time.UTC),
	}
}

func TestTokenSetRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		ts   tokenstore.TokenSet
	}{
		{"zero", tokenstore.TokenSet{}},
		{"full", fullTokenSet()},
		{"access token only", tokenstore.TokenSet{AccessToken: "a", TokenType: "Bearer"}},
		{"zero bytes and non-UTF-8", tokenstore.TokenSet{AccessToken: "\x00a\x00", RefreshToken: "\xff\xfe", IDToken: "é🔑"}},
		{"1 MiB tokens", tokenstore.TokenSet{AccessToken: strings.Repeat("a", 1<<20), IDToken: strings.Repeat("i", 1<<20)}},
		{"before 1970", tokenstore.TokenSet{AccessToken: "a", Expiry: time.Date(1969, 12, 31, 23, 59, 59, 1, time.UTC)}},
		{"local zone and monotonic clock", tokenstore.TokenSet{AccessToken: "a", Expiry: time.Now().In(time.FixedZone("X", 3600))}},
		{"range limits", tokenstore.TokenSet{Expiry: time.Unix(0, math.MaxInt64)}},
		{"range limits low", tokenstore.TokenSet{Expiry: time.Unix(0, math.MinInt64)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := tc.ts.MarshalBinary()
			require.NoError(t, err)
			var got tokenstore.TokenSet
			require.NoError(t, got.UnmarshalBinary(data))
			assert.Equal(t, tc.ts.AccessToken, got.AccessToken)
			assert.Equal(t, tc.ts.TokenType, got.TokenType)
			assert.Equal(t, tc.ts.RefreshToken, got.RefreshToken)
			assert.Equal(t, tc.ts.IDToken, got.IDToken)
			assert.True(t, tc.ts.Expiry.Equal(got.Expiry), "Expiry %v, want %v", got.Expiry, tc.ts.Expiry)
			if !got.Expiry.IsZero() {
				assert.Equal(t, time.UTC, got.Expiry.Location(), "Expiry is in UTC")
			}
		})
	}
}

func TestTokenSetEncodingIsStable(t *testing.T) {
	// Records outlive the code that wrote them: version 1 must keep reading
	// exactly this layout.
	ts := tokenstore.TokenSet{AccessToken: "at", TokenType: "Bearer", RefreshToken: "", IDToken: "id", Expiry: time.Unix(1, 5)}
	data, err := ts.MarshalBinary()
	require.NoError(t, err)
	want := []byte{1, 2, 'a', 't', 6, 'B', 'e', 'a', 'r', 'e', 'r', 0, 2, 'i', 'd'}
	want = binary.AppendVarint(want, 1_000_000_005)
	require.Equal(t, want, data)
}

func TestConsumeTokenSet(t *testing.T) {
	a, b := fullTokenSet(), tokenstore.TokenSet{AccessToken: "second"}
	buf := []byte("prefix")
	buf, err := a.AppendBinary(buf)
	require.NoError(t, err)
	buf, err = b.AppendBinary(buf)
	require.NoError(t, err)
	buf = append(buf, "tail"...)

	require.Equal(t, "prefix", string(buf[:6]))
	gotA, rest, err := tokenstore.ConsumeTokenSet(buf[6:])
	require.NoError(t, err)
	gotB, rest, err := tokenstore.ConsumeTokenSet(rest)
	require.NoError(t, err)
	assert.Equal(t, "tail", string(rest))
	assert.Equal(t, a.AccessToken, gotA.AccessToken)
	assert.True(t, a.Expiry.Equal(gotA.Expiry))
	assert.Equal(t, b, gotB)

	// The result shares no memory with the input.
	for i := range buf {
		buf[i] = 'X'
	}
	assert.Equal(t, a.AccessToken, gotA.AccessToken)

	var ts tokenstore.TokenSet
	err = ts.UnmarshalBinary(append(mustMarshal(t, a), 0))
	require.ErrorIs(t, err, tokenstore.ErrCorrupt, "trailing bytes")
}

func mustMarshal(t testing.TB, ts tokenstore.TokenSet) []byte {
	t.Helper()
	data, err := ts.MarshalBinary()
	require.NoError(t, err)
	return data
}

func TestTokenSetCorrupt(t *testing.T) {
	valid := mustMarshal(t, fullTokenSet())
	huge := binary.AppendUvarint([]byte{1}, 1<<20+1)
	huge = append(huge, make([]byte, 1<<20+1)...)
	huge = append(huge, 0, 0, 0, 0)

	cases := []struct {
		name string
		data []byte
	}{
		{"nil", nil},
		{"version 0", append([]byte{0}, valid[1:]...)},
		{"version 2", append([]byte{2}, valid[1:]...)},
		{"JSON", []byte(`{"access_token":"x"}`)},
		{"length overruns", []byte{1, 5, 'a', 'b'}},
		{"length 2^64-1", binary.AppendUvarint([]byte{1}, math.MaxUint64)},
		{"length varint overflows", []byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"field over 1 MiB", huge},
		{"expiry varint overflows", []byte{1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"trailing byte", append(bytes.Clone(valid), 0)},
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
			ts := tokenstore.TokenSet{AccessToken: "unchanged"}
			err := ts.UnmarshalBinary(tc.data)
			require.ErrorIs(t, err, tokenstore.ErrCorrupt)
			assert.True(t, strings.HasPrefix(err.Error(), "tokenstore: corrupt record"), err.Error())
			assert.Equal(t, tokenstore.TokenSet{AccessToken: "unchanged"}, ts, "failed decode changed the receiver")
		})
	}
}

func TestTokenSetEncodeLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		ts   tokenstore.TokenSet
	}{
		{"token over 1 MiB", tokenstore.TokenSet{IDToken: strings.Repeat("i", 1<<20+1)}},
		{"expiry after 2262", tokenstore.TokenSet{Expiry: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"expiry before 1678", tokenstore.TokenSet{Expiry: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.ts.AppendBinary([]byte("keep"))
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "tokenstore: "), err.Error())
			assert.Equal(t, "keep", string(b), "buffer unchanged on error")
		})
	}
}

func TestConsumeTokenSetAllocs(t *testing.T) {
	// authflow decodes a session per request: one allocation backs all tokens.
	data := mustMarshal(t, fullTokenSet())
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := tokenstore.ConsumeTokenSet(data); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, allocs, 1.0)
}

func TestExpiresWithin(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		expiry time.Time
		window time.Duration
		want   bool
	}{
		{"unknown expiry", time.Time{}, time.Hour, false},
		{"expired", now.Add(-time.Second), 0, true},
		{"expires now", now, 0, true},
		{"valid, no window", now.Add(time.Second), 0, false},
		{"inside window", now.Add(30 * time.Second), time.Minute, true},
		{"at window edge", now.Add(time.Minute), time.Minute, true},
		{"outside window", now.Add(time.Minute + 1), time.Minute, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := tokenstore.TokenSet{AccessToken: "a", Expiry: tc.expiry}
			assert.Equal(t, tc.want, ts.ExpiresWithin(now, tc.window))
		})
	}
}

func TestTokenSetRedacted(t *testing.T) {
	ts := fullTokenSet()
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("tokens", "tokens", ts)
	for _, out := range []string{
		fmt.Sprint(ts), fmt.Sprintf("%v %+v %#v %s", ts, ts, ts, ts), fmt.Sprintf("%v", &ts), logged.String(),
	} {
		for _, secret := range []string{ts.AccessToken, ts.RefreshToken, ts.IDToken, "access.sig", "refresh-token"} {
			assert.NotContains(t, out, secret)
		}
		assert.Contains(t, out, "Bearer")
	}
}

func FuzzTokenSetUnmarshal(f *testing.F) {
	for _, ts := range []tokenstore.TokenSet{{}, fullTokenSet(), {IDToken: "\x00", Expiry: time.Unix(-1, 0)}} {
		data := mustMarshal(f, ts)
		f.Add(data)
		f.Add(data[:len(data)/2])
	}
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, rest, err := tokenstore.ConsumeTokenSet(data)
		if err != nil {
			var u tokenstore.TokenSet
			if u.UnmarshalBinary(data) == nil {
				t.Fatal("UnmarshalBinary accepts what ConsumeTokenSet refuses")
			}
			return
		}
		if len(rest) > len(data) {
			t.Fatalf("rest longer than input")
		}
		// Whatever decodes re-encodes, and decodes to the same value.
		again, err := ts.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded TokenSet does not encode: %v", err)
		}
		if len(again) > len(data)-len(rest) {
			t.Fatalf("re-encoding grew from %d to %d bytes", len(data)-len(rest), len(again))
		}
		var back tokenstore.TokenSet
		if err := back.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if back.AccessToken != ts.AccessToken || back.TokenType != ts.TokenType ||
			back.RefreshToken != ts.RefreshToken || back.IDToken != ts.IDToken || !back.Expiry.Equal(ts.Expiry) {
			t.Fatalf("round trip changed the value: %+v vs %+v", back, ts)
		}
	})
}

func FuzzTokenSetRoundTrip(f *testing.F) {
	f.Add("access", "Bearer", "refresh", "id", int64(1_900_000_000_000_000_000))
	f.Add("", "", "", "", int64(0))
	f.Add("\x00", "\xff", "é", "🔑", int64(math.MinInt64))
	f.Fuzz(func(t *testing.T, at, tt, rt, id string, nanos int64) {
		in := tokenstore.TokenSet{AccessToken: at, TokenType: tt, RefreshToken: rt, IDToken: id}
		if nanos != 0 {
			in.Expiry = time.Unix(0, nanos)
		}
		data, err := in.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary: %v", err)
		}
		var out tokenstore.TokenSet
		if err := out.UnmarshalBinary(data); err != nil {
			t.Fatalf("UnmarshalBinary: %v", err)
		}
		if out.AccessToken != at || out.TokenType != tt || out.RefreshToken != rt || out.IDToken != id || !out.Expiry.Equal(in.Expiry) {
			t.Fatalf("round trip changed the value")
		}
	})
}
