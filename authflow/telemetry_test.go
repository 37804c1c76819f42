package authflow

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/internal/telemetry/telemetrytest"
)

// Issue 10: one login, one refused login, one refresh and one logout, recorded through the
// OpenTelemetry SDK's in-memory reader and span recorder, give the documented instruments
// and attributes (README.md, Telemetry), and no token, code, state or cookie value reaches
// any attribute.
func TestTelemetry(t *testing.T) {
	rec := telemetrytest.New(t)
	op := newTestOP(t)
	app := newTestApp(t, op, func(c *Config) { c.MeterProvider, c.TracerProvider = rec.MP, rec.TP })

	// A refused login: a callback whose state matches no flow.
	c := app.browser()
	cb := app.startLogin(c, "/")
	u, err := url.Parse(cb)
	require.NoError(t, err)
	q := u.Query()
	secrets := []string{q.Get("code"), q.Get("state")}
	q.Set("state", "forged-state-value")
	u.RawQuery = q.Encode()
	require.Equal(t, http.StatusBadRequest, app.get(c, u.String()).StatusCode)

	// One login and one refresh (its access token is inside the refresh window).
	c = loginExpiring(t, op, app)
	cookie := app.sessionCookie(c).Value
	before, err := app.h.load(context.Background(), cookie)
	require.NoError(t, err)
	status, _ := app.me(c)
	require.Equal(t, http.StatusOK, status)
	after, err := app.h.load(context.Background(), cookie)
	require.NoError(t, err)
	require.NotEqual(t, before.tokens.AccessToken, after.tokens.AccessToken, "refreshed")

	// Logout ends the session.
	resp := app.postLogout(c, url.Values{"csrf_token": {app.csrf(c)}}, "Origin", app.srv.URL)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)

	m := rec.Metrics(t)
	v := func(name string, attrs map[string]string) float64 { return telemetrytest.Value(m, name, attrs) }
	assert.Equal(t, 2.0, v("awsauth.login.starts", nil))
	assert.Equal(t, 1.0, v("awsauth.login.completions", nil))
	assert.Equal(t, 1.0, v("awsauth.login.refusals", map[string]string{"error.type": "state_mismatch"}))
	assert.Equal(t, 1.0, v("awsauth.login.callback.duration", map[string]string{"error.type": ""}))
	assert.Equal(t, 1.0, v("awsauth.login.callback.duration", map[string]string{"error.type": "state_mismatch"}))
	assert.Equal(t, 1.0, v("awsauth.session.refreshes", map[string]string{"awsauth.refresh.outcome": "ok"}))
	assert.Equal(t, 1.0, v("awsauth.session.refresh.duration", map[string]string{"awsauth.refresh.outcome": "ok"}))
	assert.Equal(t, 1.0, v("awsauth.session.ends", map[string]string{"awsauth.session.end_reason": "logout"}))
	assert.Equal(t, 1.0, v("awsauth.jwks.fetches", map[string]string{"error.type": ""}))
	assert.Equal(t, 1.0, v("awsauth.jwks.fetch.duration", nil))
	assert.Positive(t, v("awsauth.store.operation.duration", map[string]string{"awsauth.store.operation": "get", "error.type": ""}))
	assert.Positive(t, v("awsauth.store.operation.duration", map[string]string{"awsauth.store.operation": "set"}))
	assert.Positive(t, v("awsauth.store.operation.duration", map[string]string{"awsauth.store.operation": "acquire"}))

	for name, n := range map[string]int{
		"awsauth.login.callback": 2, "awsauth.token.exchange": 1, "awsauth.token.refresh": 1,
		"awsauth.token.revoke": 1, "awsauth.session.refresh": 1, "awsauth.jwks.fetch": 1,
	} {
		assert.Len(t, rec.Spans(name), n, name)
	}
	ex := rec.Spans("awsauth.token.exchange")[0]
	assert.Equal(t, "awsauth.login.callback", spanName(rec, ex.Parent().SpanID()), "the exchange nests in the callback")
	host, _ := url.Parse(op.issuer())
	assert.Equal(t, host.Hostname(), telemetrytest.SpanAttrs(ex)["server.address"])
	for _, s := range rec.Spans("awsauth.login.callback") {
		assert.NotContains(t, telemetrytest.SpanAttrs(s), "user.id", "user.id is opt-in")
	}

	secrets = append(secrets, cookie, before.tokens.AccessToken, before.tokens.RefreshToken, before.tokens.IDToken,
		after.tokens.AccessToken, after.tokens.RefreshToken, after.tokens.IDToken, before.Subject)
	for _, ck := range resp.Cookies() {
		secrets = append(secrets, ck.Value)
	}
	rec.NoSecrets(t, secrets...)
}

// TraceUserID adds the subject to the callback and refresh spans, and to no metric.
func TestTelemetryTraceUserID(t *testing.T) {
	rec := telemetrytest.New(t)
	op := newTestOP(t)
	app := newTestApp(t, op, func(c *Config) { c.MeterProvider, c.TracerProvider, c.TraceUserID = rec.MP, rec.TP, true })
	c := app.browser()
	app.login(c, "/")
	s, err := app.h.load(context.Background(), app.sessionCookie(c).Value)
	require.NoError(t, err)
	spans := rec.Spans("awsauth.login.callback")
	require.Len(t, spans, 1)
	assert.Equal(t, s.Subject, telemetrytest.SpanAttrs(spans[0])["user.id"])
	for name, points := range rec.Metrics(t) {
		for _, p := range points {
			assert.NotContains(t, p.Attrs, "user.id", name)
		}
	}
}

func spanName(rec *telemetrytest.Recorder, id interface{ String() string }) string {
	for _, name := range []string{"awsauth.login.callback", "awsauth.session.refresh"} {
		for _, s := range rec.Spans(name) {
			if s.SpanContext().SpanID().String() == id.String() {
				return name
			}
		}
	}
	return ""
}
