package authflow

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 8: two apps on one host share the browser's cookies whatever their
// ports (RFC 6265 §8.5). With the default names shared, signing in to one
// signs the user out of the other; with names of their own, both stay.
func TestTwoAppsOnOneHost(t *testing.T) {
	for _, tt := range []struct {
		name       string
		a, b       func(*Config)
		bothSigned bool
	}{
		{"default names shared", func(*Config) {}, func(*Config) {}, false},
		{"names of their own", func(c *Config) {
			c.SessionCookieName, c.FlowCookiePrefix = "__Host-a-session", "__Host-a-flow-"
		}, func(c *Config) {
			c.SessionCookieName, c.FlowCookiePrefix = "__Host-b-session", "__Host-b-flow-"
		}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			op := newTestOP(t)
			a := newTestApp(t, op, tt.a)
			b := newTestApp(t, op, tt.b)
			c := a.browser() // one browser, one cookie jar
			a.login(c, "/")
			status, _ := a.me(c)
			require.Equal(t, http.StatusOK, status)

			b.login(c, "/")
			status, _ = b.me(c)
			require.Equal(t, http.StatusOK, status)
			status, _ = a.me(c)
			if tt.bothSigned {
				assert.Equal(t, http.StatusOK, status, "signed in to a and b at once")
			} else {
				assert.Equal(t, http.StatusUnauthorized, status, "b's cookie replaced a's")
			}
		})
	}
}

func TestCookieNamesConfig(t *testing.T) {
	op := newTestOP(t)
	for _, tt := range []struct {
		name     string
		session  string
		flow     string
		errorHas string
	}{
		{"defaults", "", "", ""},
		{"own __Host- names", "__Host-app2", "__Host-app2-login-", ""},
		{"names without a prefix", "app2_session", "app2_flow_", ""},
		{"separator in name", "app;2", "", "SessionCookieName"},
		{"space in prefix", "", "my flow", "FlowCookiePrefix"},
		{"session name a flow name could take", "__Host-awsauth-flow-x", "", "must not start with FlowCookiePrefix"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			app, err := startTestApp(t, op, func(c *Config) {
				c.SessionCookieName, c.FlowCookiePrefix = tt.session, tt.flow
			})
			if tt.errorHas != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.errorHas)
				return
			}
			require.NoError(t, err)
			c := app.browser()
			resp := app.get(c, "/login")
			require.Equal(t, http.StatusFound, resp.StatusCode)
			flow := resp.Cookies()[0]
			wantFlow := tt.flow
			if wantFlow == "" {
				wantFlow = defaultFlowCookiePrefix
			}
			assert.True(t, strings.HasPrefix(flow.Name, wantFlow), flow.Name)
			resp = app.get(c, app.startLogin(c, "/"))
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
			var session *http.Cookie
			for _, ck := range resp.Cookies() {
				if ck.MaxAge > 0 {
					session = ck
				}
			}
			require.NotNil(t, session)
			wantSession := tt.session
			if wantSession == "" {
				wantSession = defaultSessionCookieName
			}
			assert.Equal(t, wantSession, session.Name)
			// The __Host- requirements hold for every name (RFC 6265bis §4.1.3.2).
			assert.True(t, session.Secure)
			assert.Equal(t, "/", session.Path)
			assert.Empty(t, session.Domain)
		})
	}
}
