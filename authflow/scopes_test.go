package authflow

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 8: with Scopes unset, offline_access is asked for where the provider
// advertises it, so certified providers issue a refresh token.
func TestDefaultScopes(t *testing.T) {
	for _, tt := range []struct {
		name      string
		supported []string // nil: scopes_supported absent
		scopes    []string
		want      []string
	}{
		{"advertised, Scopes unset", []string{"openid", "offline_access", "email"}, nil, []string{"openid", "offline_access"}},
		{"not advertised (Cognito), Scopes unset", []string{"openid", "email", "phone", "profile"}, nil, []string{"openid"}},
		{"no scopes_supported, Scopes unset", nil, nil, []string{"openid"}},
		{"advertised, Scopes empty", []string{"openid", "offline_access"}, []string{}, []string{"openid", "offline_access"}},
		{"advertised, Scopes set", []string{"openid", "offline_access"}, []string{"email"}, []string{"openid", "email"}},
		{"advertised, Scopes set with it", []string{"openid", "offline_access"}, []string{"openid", "offline_access"}, []string{"openid", "offline_access"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			op := newTestOP(t)
			op.discoveryMod = func(d map[string]any) {
				if tt.supported != nil {
					d["scopes_supported"] = tt.supported
				}
			}
			app := newTestApp(t, op, func(c *Config) { c.Scopes = tt.scopes })
			resp := app.get(app.browser(), "/login")
			require.Equal(t, http.StatusFound, resp.StatusCode)
			loc, err := resp.Location()
			require.NoError(t, err)
			assert.Equal(t, tt.want, strings.Fields(loc.Query().Get("scope")))
		})
	}
}
