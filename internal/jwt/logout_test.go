package jwt

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// logoutClaims are the claims of a good logout token for testClient, issued at testNow (OIDC
// Back-Channel Logout 1.0 §2.4).
func logoutClaims() map[string]any {
	return map[string]any{
		"iss": testIssuer, "sub": "alice", "aud": testClient, "sid": "op-session-1", "jti": "j-1",
		"iat": testNow.Unix(), "exp": testNow.Add(2 * time.Minute).Unix(),
		"events": map[string]any{EventBackChannelLogout: map[string]any{}},
	}
}

// TestLogoutTokenProfile: SECURITY.md item 38's token checks in the core (the handler's tests
// add the replayed jti and "no session touched").
func TestLogoutTokenProfile(t *testing.T) {
	v := newVerifier(t, offlineKeys(t), LogoutToken([]string{testClient}, nil))
	sec := func(d time.Duration) int64 { return testNow.Add(d).Unix() }
	logoutTyp := map[string]any{"typ": "logout+jwt"}
	cases := []struct {
		name   string
		header map[string]any
		claims map[string]any
		want   error // nil: accepted
	}{
		{"good", logoutTyp, logoutClaims(), nil},
		{"no typ", nil, logoutClaims(), nil},
		{"typ JWT", map[string]any{"typ": "JWT"}, logoutClaims(), nil},
		{"typ application/logout+jwt", map[string]any{"typ": "application/logout+jwt"}, logoutClaims(), nil},
		{"typ at+jwt", map[string]any{"typ": "at+jwt"}, logoutClaims(), ErrType},
		{"typ secevent+jwt", map[string]any{"typ": "secevent+jwt"}, logoutClaims(), ErrType},
		{"sid only", logoutTyp, with(logoutClaims(), map[string]any{"sub": nil}), nil},
		{"sub only", logoutTyp, with(logoutClaims(), map[string]any{"sid": nil}), nil},
		{"neither sid nor sub", logoutTyp, with(logoutClaims(), map[string]any{"sid": nil, "sub": nil}), ErrSubject},
		{"empty sid, no sub", logoutTyp, with(logoutClaims(), map[string]any{"sid": "", "sub": nil}), ErrSubject},
		{"no exp", logoutTyp, with(logoutClaims(), map[string]any{"exp": nil}), nil},
		{"exp past", logoutTyp, with(logoutClaims(), map[string]any{"exp": sec(-2 * time.Minute)}), ErrExpired},
		{"iat missing", logoutTyp, with(logoutClaims(), map[string]any{"iat": nil}), ErrNoIssuedAt},
		{"iat future", logoutTyp, with(logoutClaims(), map[string]any{"iat": sec(2 * time.Minute)}), ErrIssuedAt},
		{"iat past the skew", logoutTyp, with(logoutClaims(), map[string]any{"iat": sec(-2 * time.Minute), "exp": sec(time.Hour)}), ErrIssuedAt},
		{"iat within skew", logoutTyp, with(logoutClaims(), map[string]any{"iat": sec(-30 * time.Second)}), nil},
		{"wrong iss", logoutTyp, with(logoutClaims(), map[string]any{"iss": testIssuer + "/x"}), ErrIssuer},
		{"wrong aud", logoutTyp, with(logoutClaims(), map[string]any{"aud": "other"}), ErrAudience},
		{"aud missing", logoutTyp, with(logoutClaims(), map[string]any{"aud": nil}), ErrAudience},
		{"nonce present", logoutTyp, with(logoutClaims(), map[string]any{"nonce": "n-1"}), ErrNonce},
		{"events missing", logoutTyp, with(logoutClaims(), map[string]any{"events": nil}), ErrEvent},
		{"events without the member", logoutTyp, with(logoutClaims(), map[string]any{"events": map[string]any{"urn:other": map[string]any{}}}), ErrEvent},
		{"event not an object", logoutTyp, with(logoutClaims(), map[string]any{"events": map[string]any{EventBackChannelLogout: "yes"}}), ErrClaimType},
		{"events an array", logoutTyp, with(logoutClaims(), map[string]any{"events": []string{EventBackChannelLogout}}), ErrClaimType},
		{"Events case-folded", logoutTyp, with(logoutClaims(), map[string]any{"Events": map[string]any{}}), ErrClaimFold},
		{"jti missing", logoutTyp, with(logoutClaims(), map[string]any{"jti": nil}), ErrNoID},
		{"an ID token", nil, idClaims(), ErrEvent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := v.Verify(context.Background(), mint(t, 0, c.header, c.claims), Options{})
			if c.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if !slices.Contains(got.Events, EventBackChannelLogout) {
					t.Fatalf("events = %q", got.Events)
				}
				return
			}
			if !errors.Is(err, c.want) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
	t.Run("bad signature", func(t *testing.T) {
		tok := mint(t, 1, map[string]any{"typ": "logout+jwt"}, logoutClaims())
		if _, err := v.Verify(context.Background(), tok, Options{}); !errors.Is(err, ErrSignature) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a logout token is no ID token", func(t *testing.T) {
		idv := newVerifier(t, offlineKeys(t), IDToken([]string{testClient}, nil, true))
		tok := mint(t, 0, map[string]any{"typ": "logout+jwt"}, logoutClaims())
		if _, err := idv.Verify(context.Background(), tok, Options{}); !errors.Is(err, ErrType) {
			t.Fatalf("err = %v", err)
		}
	})
}
