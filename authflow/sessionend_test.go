package authflow

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 9 item 5: every way a session ends reaches OnSessionEnd and
// OnSessionEndDetail once, with its reason, and is logged with it.
func TestSessionEndReasons(t *testing.T) {
	cases := []struct {
		reason EndReason
		mod    func(*Config)
		// end ends the signed-in browser c's session; then /me is requested.
		end func(t *testing.T, op *testOP, app *testApp, clock *offsetClock, c *http.Client)
	}{
		{EndLogout, nil, func(t *testing.T, op *testOP, app *testApp, _ *offsetClock, c *http.Client) {
			resp := app.postLogout(c, url.Values{"csrf_token": {app.csrf(c)}})
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		}},
		{EndIdle, func(c *Config) { c.IdleTimeout = 10 * time.Minute }, func(t *testing.T, _ *testOP, _ *testApp, clock *offsetClock, _ *http.Client) {
			clock.set(10 * time.Minute)
		}},
		{EndAbsolute, func(c *Config) { c.SessionLifetime = time.Hour }, func(t *testing.T, _ *testOP, _ *testApp, clock *offsetClock, _ *http.Client) {
			clock.set(time.Hour)
		}},
		{EndInvalidGrant, nil, func(t *testing.T, op *testOP, app *testApp, _ *offsetClock, c *http.Client) {
			stale(t, app, c)
			op.expireRefreshTokens()
		}},
		{EndIDTokenRefused, nil, func(t *testing.T, op *testOP, app *testApp, _ *offsetClock, c *http.Client) {
			stale(t, app, c)
			op.mu.Lock()
			op.idClaimsMod = func(c map[string]any, refresh bool) {
				if refresh {
					c["sub"] = "someone-else"
				}
			}
			op.mu.Unlock()
		}},
		{EndNoRefreshToken, nil, func(t *testing.T, _ *testOP, app *testApp, _ *offsetClock, c *http.Client) {
			app.editSession(app.sessionCookie(c).Value, func(s *Session) {
				s.tokens.RefreshToken = ""
				s.tokens.Expiry = time.Now().Add(-time.Second)
			})
		}},
		{EndByApp, nil, func(t *testing.T, _ *testOP, app *testApp, _ *offsetClock, c *http.Client) {
			id := app.sessionCookie(c).Value
			s, err := app.h.load(context.Background(), id)
			require.NoError(t, err)
			require.NoError(t, app.h.EndSession(context.Background(), s.Subject, s.Handle()))
			require.ErrorIs(t, app.h.EndSession(context.Background(), s.Subject, s.Handle()), ErrSessionEnded, "ended already: no hook")
		}},
		{EndReplaced, nil, func(t *testing.T, _ *testOP, app *testApp, _ *offsetClock, c *http.Client) {
			// A second sign-in in the same browser; /me then serves the new session.
			app.login(c, "/")
		}},
	}
	for _, tc := range cases {
		t.Run(string(tc.reason), func(t *testing.T) {
			clock := &offsetClock{}
			ends := &endRecorder{}
			op := newTestOP(t)
			op.now = clock.Now
			app := newTestApp(t, op, func(c *Config) {
				c.Now = clock.Now
				ends.wire(c)
				if tc.mod != nil {
					tc.mod(c)
				}
			})
			c := app.browser()
			app.login(c, "/")
			id := app.sessionCookie(c).Value
			s, err := app.h.load(context.Background(), id)
			require.NoError(t, err)

			tc.end(t, op, app, clock, c)
			status, _ := app.me(c)
			if tc.reason == EndReplaced {
				assert.Equal(t, http.StatusOK, status)
			} else {
				assert.Equal(t, http.StatusUnauthorized, status)
			}
			app.me(c) // a second request sees no session: no second end

			ids, got := ends.take()
			assert.Equal(t, []string{s.Handle()}, ids, "OnSessionEnd once, with the handle")
			assert.Equal(t, []SessionEnd{{Handle: s.Handle(), Subject: s.Subject, Reason: tc.reason}}, got, "OnSessionEndDetail once")
			assert.Contains(t, app.logs.String(), "reason="+string(tc.reason))
			_, err = app.h.load(context.Background(), id)
			assert.ErrorIs(t, err, ErrSessionEnded)
		})
	}
}

// stale puts c's session inside its refresh window.
func stale(t *testing.T, app *testApp, c *http.Client) {
	t.Helper()
	app.editSession(app.sessionCookie(c).Value, func(s *Session) {
		s.issued = s.issued.Add(-time.Hour)
		s.tokens.Expiry = time.Now().Add(30 * time.Second)
	})
}

// editSession rewrites session id's record through edit.
func (app *testApp) editSession(id string, edit func(*Session)) {
	app.t.Helper()
	s, err := app.h.load(context.Background(), id)
	require.NoError(app.t, err)
	edit(s)
	rec, err := s.marshal()
	require.NoError(app.t, err)
	require.NoError(app.t, app.h.cfg.Store.Set(context.Background(), storeKey(id), rec, s.Expiry))
}

// Issue 9 item 6: logout without a refresh token revokes the access token
// (RFC 7009 token_type_hint=access_token), except at Cognito, whose
// revocation endpoint takes refresh tokens only.
func TestLogoutRevokesAccessTokenWithoutRefreshToken(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cognito bool
		want    bool
	}{
		{"OIDC provider", false, true},
		{"Cognito", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := newTestOP(t)
			app := newTestApp(t, op, func(c *Config) {
				if tc.cognito {
					c.Cognito = &Cognito{Domain: op.issuer()}
				}
			})
			c := app.browser()
			app.login(c, "/")
			id := app.sessionCookie(c).Value
			var access string
			app.editSession(id, func(s *Session) {
				s.tokens.RefreshToken = ""
				access = s.tokens.AccessToken
			})
			resp := app.postLogout(c, url.Values{"csrf_token": {app.csrf(c)}})
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
			op.mu.Lock()
			defer op.mu.Unlock()
			if tc.want {
				assert.Equal(t, []string{access}, op.revoked)
				assert.Equal(t, []string{"access_token"}, op.hints)
			} else {
				assert.Empty(t, op.revoked, "Cognito revokes refresh tokens only")
			}
		})
	}
}

func TestLogoutRevokesRefreshTokenWithHint(t *testing.T) {
	op := newTestOP(t)
	app := newTestApp(t, op)
	c := app.browser()
	app.login(c, "/")
	resp := app.postLogout(c, url.Values{"csrf_token": {app.csrf(c)}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	op.mu.Lock()
	defer op.mu.Unlock()
	assert.Equal(t, []string{"refresh_token"}, op.hints)
}
