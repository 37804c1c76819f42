package expiry

import (
	"testing"
	"time"
)

func TestWindow(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		configured time.Duration
		issued     time.Time
		lifetime   time.Duration
		want       time.Duration
	}{
		{"long token: the configured window", time.Minute, t0, time.Hour, time.Minute},
		{"20 s token: half its life", time.Minute, t0, 20 * time.Second, 10 * time.Second},
		{"unknown issue time: the configured window", time.Minute, time.Time{}, 20 * time.Second, time.Minute},
		{"expired at issue: none", time.Minute, t0, -time.Second, 0},
		{"negative configured: none", -time.Second, t0, time.Hour, 0},
	} {
		if got := Window(tc.configured, tc.issued, t0.Add(tc.lifetime)); got != tc.want {
			t.Errorf("%s: Window = %v, want %v", tc.name, got, tc.want)
		}
	}
}
