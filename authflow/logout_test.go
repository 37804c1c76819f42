package authflow

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func (app *testApp) postLogout(c *http.Client, form url.Values, hdr ...string) *http.Response {
	app.t.Helper()
	req, err := http.NewRequest(http.MethodPost, app.srv.URL+"/logout", strings.NewReader(form.Encode()))
	require.NoError(app.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	require.NoError(app.t, err)
	app.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (app *testApp) csrf(c *http.Client) string {
	app.t.Helper()
	status, body := app.me(c)
	require.Equal(app.t, http.StatusOK, status)
	return body["csrf"].(string)
}

func TestLogout(t *testing.T) {
	op := newTestOP(t)
	ended := make(chan string, 1)
	app := newTestApp(t, op, func(c *Config) { c.OnSessionEnd = func(id string) { ended <- id } })
	c := app.browser()
	app.login(c, "/")
	id := app.sessionCookie(c).Value
	token := app.csrf(c)
	stored, err := app.h.load(context.Background(), id)
	require.NoError(t, err)

	resp := app.postLogout(c, url.Values{"csrf_token": {token}}, "Origin", app.srv.URL)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, op.issuer()+"/session/end", loc.Scheme+"://"+loc.Host+loc.Path)
	assert.Equal(t, app.srv.URL+"/", loc.Query().Get("post_logout_redirect_uri"))
	assert.Equal(t, stored.tokens.IDToken, loc.Query().Get("id_token_hint"))
	assert.Equal(t, testClientID, loc.Query().Get("client_id"))

	assert.Equal(t, []string{stored.tokens.RefreshToken}, op.revoked, "refresh token revoked")
	assert.Equal(t, sessionHandle(id), <-ended, "OnSessionEnd told the handle")
	assert.Nil(t, app.sessionCookie(c))
	_, err = app.h.load(context.Background(), id)
	assert.ErrorIs(t, err, ErrSessionEnded)
	resp = app.get(c, "/me")
	assert.Equal(t, http.StatusFound, resp.StatusCode)
	assert.True(t, strings.HasPrefix(resp.Header.Get("Location"), "/login"))
}

// F.26: logout only by POST with CSRF protection.
func TestLogoutRefusals(t *testing.T) {
	op := newTestOP(t)
	app := newTestApp(t, op)
	c := app.browser()
	app.login(c, "/")
	token := app.csrf(c)

	resp := app.get(c, "/logout")
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	resp = app.postLogout(c, nil)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "no CSRF token")
	resp = app.postLogout(c, url.Values{"csrf_token": {"forged"}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "wrong CSRF token")
	resp = app.postLogout(c, url.Values{"csrf_token": {token}}, "Origin", "https://evil.example")
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "cross-origin")

	// A token from another session does not work either.
	other := app.browser()
	app.login(other, "/")
	resp = app.postLogout(c, url.Values{"csrf_token": {app.csrf(other)}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)

	assert.Zero(t, op.revokeCalls.Load())
	status, _ := app.me(c)
	assert.Equal(t, http.StatusOK, status, "still signed in")

	// The header form works too.
	resp = app.postLogout(c, nil, "X-CSRF-Token", token)
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
}

// F.27: a failed revocation still ends the local session.
func TestLogoutRevocationFailure(t *testing.T) {
	op := newTestOP(t)
	op.discoveryMod = func(d map[string]any) { d["revocation_endpoint"] = op.issuer() + "/broken" }
	app := newTestApp(t, op)
	c := app.browser()
	app.login(c, "/")
	id := app.sessionCookie(c).Value
	resp := app.postLogout(c, url.Values{"csrf_token": {app.csrf(c)}})
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	_, err := app.h.load(context.Background(), id)
	assert.ErrorIs(t, err, ErrSessionEnded)
	assert.Contains(t, app.logs.String(), "revocation failed")
	assert.NotContains(t, app.logs.String(), "at-", "no token in logs")
}

func TestLogoutCognito(t *testing.T) {
	op := newTestOP(t)
	op.discoveryMod = func(d map[string]any) {
		delete(d, "end_session_endpoint")
		delete(d, "revocation_endpoint")
	}
	app := newTestApp(t, op, func(c *Config) {
		c.Cognito = &Cognito{Domain: op.issuer()}
		c.PostLogoutRedirectURL = "http://127.0.0.1/bye"
	})
	c := app.browser()
	app.login(c, "/")
	resp := app.postLogout(c, url.Values{"csrf_token": {app.csrf(c)}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, op.issuer()+"/logout?client_id=app-client&logout_uri=http%3A%2F%2F127.0.0.1%2Fbye", resp.Header.Get("Location"))
	assert.Equal(t, int64(1), op.revokeCalls.Load(), "revoked at the domain's /oauth2/revoke")
}

func TestLogoutWithoutSession(t *testing.T) {
	op := newTestOP(t)
	app := newTestApp(t, op)
	resp := app.postLogout(app.browser(), nil)
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, app.srv.URL+"/", resp.Header.Get("Location"))
}
