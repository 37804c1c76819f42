package authflow

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func fullTokenSet() TokenSet {
	return TokenSet{
		AccessToken:  "eyJhbGciOiJSUzI1NiJ9.access.sig",
		TokenType:    "Bearer",
		RefreshToken: "refresh-token-value",
		IDToken:      "eyJhbGciOiJSUzI1NiJ9.id.sig",
		Expiry:       time.Date(2031, 7, 1, 12, 30, 45, 123456789, time.UTC),
	}
}

func TestTokenSetExpiresWithin(t *testing.T) {
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
			ts := TokenSet{AccessToken: "a", Expiry: tc.expiry}
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
