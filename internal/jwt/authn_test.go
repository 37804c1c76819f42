package jwt

import (
	"fmt"
	"testing"
	"time"
)

func TestAuthTimeWithin(t *testing.T) {
	const maxAge, skew = 5 * time.Minute, time.Minute
	cases := []struct {
		name     string
		authTime time.Time
		want     bool
	}{
		{"unknown", time.Time{}, false},
		{"now", testNow, true},
		{"at max_age", testNow.Add(-maxAge), true},
		{"at max_age plus skew", testNow.Add(-maxAge - skew), true},
		{"past max_age plus skew", testNow.Add(-maxAge - skew - time.Nanosecond), false},
		{"ahead within skew", testNow.Add(skew), true},
		{"ahead beyond skew", testNow.Add(skew + time.Second), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := AuthTimeWithin(c.authTime, testNow, maxAge, skew); got != c.want {
				t.Fatalf("AuthTimeWithin = %v, want %v", got, c.want)
			}
		})
	}
}

func TestACRAccepted(t *testing.T) {
	for _, c := range []struct {
		acr    string
		values []string
		want   bool
	}{
		{"mfa", []string{"pwd", "mfa"}, true},
		{"pwd", []string{"mfa"}, false},
		{"", []string{"mfa"}, false},
		{"", []string{""}, false},
		{"mfa", nil, false},
	} {
		if got := ACRAccepted(c.acr, c.values); got != c.want {
			t.Errorf("ACRAccepted(%q, %q) = %v, want %v", c.acr, c.values, got, c.want)
		}
	}
}

func TestReasonAuthentication(t *testing.T) {
	for err, want := range map[error]string{
		ErrAuthTime:                            "auth_time",
		ErrACR:                                 "acr",
		fmt.Errorf("wrapped: %w", ErrACR):      "acr",
		fmt.Errorf("wrapped: %w", ErrAuthTime): "auth_time",
	} {
		if got := Reason(err); got != want {
			t.Errorf("Reason(%v) = %q, want %q", err, got, want)
		}
	}
}
