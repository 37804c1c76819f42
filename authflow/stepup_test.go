package authflow

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// opAuthn makes op keep the user's session at the provider as a real one
// does: an authentication at authTime reaching class "pwd", renewed for
// prompt=login or a max_age it is older than, and "mfa" when acr_values
// ask for it (unless weakACR: a provider that can't do more). Its ID tokens
// carry auth_time and acr. Tests read and set its fields under op.mu.
type opAuthn struct {
	authTime time.Time
	acr      string
	weakACR  bool
}

func newOPAuthn(op *testOP, clk *testClock) *opAuthn {
	a := &opAuthn{}
	op.now = clk.Now
	op.idClaimsMod = func(c map[string]any, refresh bool) { // op.mu is held
		if !refresh {
			q := op.lastAuth
			now := clk.Now()
			maxAge, hasMaxAge := q["max_age"]
			switch {
			case a.authTime.IsZero(), slices.Contains(strings.Fields(q.Get("prompt")), "login"):
				a.authTime, a.acr = now, "pwd"
			case hasMaxAge:
				if s, _ := strconv.Atoi(maxAge[0]); now.Sub(a.authTime) > time.Duration(s)*time.Second {
					a.authTime, a.acr = now, "pwd"
				}
			}
			if slices.Contains(strings.Fields(q.Get("acr_values")), "mfa") && !a.weakACR {
				a.acr = "mfa"
			}
		}
		c["auth_time"], c["acr"] = a.authTime.Unix(), a.acr
	}
	return a
}

// authorize follows a redirect to the provider's authorization endpoint and
// its redirect back, and runs the callback; it returns the callback's answer.
func (app *testApp) authorize(c *http.Client, authURL string) *http.Response {
	app.t.Helper()
	resp := app.get(c, authURL)
	require.Equal(app.t, http.StatusFound, resp.StatusCode)
	return app.get(c, resp.Header.Get("Location"))
}

// stepUpApp is a test app on one clock with the provider, alice signed in at
// the provider and the app at the clock's start.
func stepUpApp(t *testing.T) (*testOP, *testApp, *testClock, *opAuthn, *http.Client) {
	op := newTestOP(t)
	clk := newTestClock()
	authn := newOPAuthn(op, clk)
	app := newTestApp(t, op, func(c *Config) { c.Now = clk.Now })
	c := app.browser()
	app.login(c, "/")
	return op, app, clk, authn, c
}

// Per-login parameters reach the authorization request exactly, next to
// those of every login, and replace Config.AuthParams' of the same name.
func TestLoginOptionsReachAuthorizeURL(t *testing.T) {
	op := newTestOP(t)
	app := newTestApp(t, op, func(c *Config) {
		c.AuthParams = map[string]string{"prompt": "consent", "resource": "https://api.example.com"}
	})
	opts := LoginOptions{
		Prompt: "login consent", MaxAge: 300 * time.Second, ACRValues: []string{"mfa", "urn:example:phr"},
		LoginHint: "alice@example.com", IdentityProvider: "Google", Lang: "pt-BR",
	}
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/start", nil)
	require.NoError(t, app.h.StartLogin(w, r, "/orders?id=7", opts))
	require.Equal(t, http.StatusFound, w.Code)
	u, err := url.Parse(w.Header().Get("Location"))
	require.NoError(t, err)
	q := u.Query()
	want := map[string]string{
		"prompt": "login consent", "max_age": "300", "acr_values": "mfa urn:example:phr",
		"login_hint": "alice@example.com", "identity_provider": "Google", "lang": "pt-BR",
		"resource": "https://api.example.com",
	}
	for k, v := range want {
		assert.Equal(t, []string{v}, q[k], k)
	}
	for _, k := range []string{"response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge", "code_challenge_method"} {
		assert.Len(t, q[k], 1, k)
		delete(q, k)
	}
	for k := range want {
		delete(q, k)
	}
	assert.Empty(t, q, "nothing else is sent")

	// The flow cookie seals what the callback checks.
	cookies := w.Result().Cookies()
	require.Len(t, cookies, 1)
	plain, err := app.h.keys.open(cookies[0].Name, cookies[0].Value, maxFlowCookieLen)
	require.NoError(t, err)
	var f flow
	require.NoError(t, f.unmarshal(plain))
	assert.Equal(t, "login consent", f.Prompt)
	assert.Equal(t, 300*time.Second, f.MaxAge)
	assert.Equal(t, []string{"mfa", "urn:example:phr"}, f.ACRValues)
	assert.Equal(t, "/orders?id=7", f.ReturnTo)

	// IDPIdentifier, Cognito's other way to choose the provider.
	w = httptest.NewRecorder()
	require.NoError(t, app.h.StartLogin(w, r, "/", LoginOptions{IDPIdentifier: "example.com"}))
	u, _ = url.Parse(w.Header().Get("Location"))
	assert.Equal(t, "example.com", u.Query().Get("idp_identifier"))
	assert.Equal(t, "consent", u.Query().Get("prompt"), "AuthParams' prompt when the login sets none")
}

// Login and LoginWith read only return_to from the query: nothing there can
// add, change or drop a login's parameters (SECURITY.md item 41).
func TestLoginQueryCannotInjectParameters(t *testing.T) {
	op := newTestOP(t)
	app := newTestApp(t, op)
	c := app.browser()
	hostile := url.Values{
		"return_to": {"/me"}, "prompt": {"none"}, "max_age": {"999999"}, "acr_values": {"weak"},
		"login_hint": {"mallory"}, "identity_provider": {"Evil"}, "idp_identifier": {"evil.example"},
		"lang": {"xx"}, "nonce": {"n"}, "state": {"s"}, "scope": {"admin"}, "redirect_uri": {"https://evil.example/"},
	}.Encode()
	for path, want := range map[string]url.Values{
		"/login":        {},
		"/login/stepup": {"prompt": {"login"}, "max_age": {"300"}, "acr_values": {"mfa"}},
	} {
		t.Run(path, func(t *testing.T) {
			resp := app.get(c, path+"?"+hostile)
			require.Equal(t, http.StatusFound, resp.StatusCode)
			u, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			q := u.Query()
			for _, k := range []string{"prompt", "max_age", "acr_values", "login_hint", "identity_provider", "idp_identifier", "lang"} {
				assert.Equal(t, want[k], q[k], k)
			}
			assert.Equal(t, app.srv.URL+"/callback", q.Get("redirect_uri"))
			assert.NotEqual(t, "n", q.Get("nonce"))
			assert.NotEqual(t, "s", q.Get("state"))
			assert.NotContains(t, q.Get("scope"), "admin")
		})
	}
}

func TestLoginOptionsValidation(t *testing.T) {
	op := newTestOP(t)
	app := newTestApp(t, op)
	for name, o := range map[string]LoginOptions{
		"unknown prompt":          {Prompt: "always"},
		"prompt none and login":   {Prompt: "none login"},
		"prompt twice":            {Prompt: "login login"},
		"prompt double space":     {Prompt: "login  consent"},
		"negative max_age":        {MaxAge: -time.Second},
		"fractional max_age":      {MaxAge: 1500 * time.Millisecond},
		"empty acr value":         {ACRValues: []string{""}},
		"acr value with a space":  {ACRValues: []string{"a b"}},
		"acr value with a quote":  {ACRValues: []string{`a"b`}},
		"control in login_hint":   {LoginHint: "alice\r\nX-Evil: 1"},
		"long lang":               {Lang: strings.Repeat("x", 300)},
		"both Cognito providers":  {IdentityProvider: "Google", IDPIdentifier: "example.com"},
		"not UTF-8 identity name": {IdentityProvider: "\xff"},
	} {
		t.Run(name, func(t *testing.T) {
			w := httptest.NewRecorder()
			err := app.h.StartLogin(w, httptest.NewRequest(http.MethodGet, "/", nil), "/", o)
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "authflow: invalid LoginOptions: "), err.Error())
			assert.Empty(t, w.Header(), "nothing written")

			w = httptest.NewRecorder()
			app.h.LoginWith(o).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/login", nil))
			assert.Equal(t, http.StatusInternalServerError, w.Code)
			assert.Empty(t, w.Result().Cookies())
		})
	}
	err := app.h.StartLogin(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil), "//evil.example/", LoginOptions{})
	assert.ErrorIs(t, err, ErrInvalidReturnTo)

	for _, k := range []string{"max_age", "acr_values"} {
		_, err := startTestApp(t, op, func(c *Config) { c.AuthParams = map[string]string{k: "1"} })
		require.Error(t, err, k)
		assert.Contains(t, err.Error(), "LoginOptions")
	}
}

// The callback checks the ID token against what the flow cookie says was
// asked: max_age → auth_time required and recent (OIDC Core §3.1.3.7 step
// 13); prompt=login → authenticated since the login began; acr_values → acr
// among them. A refusal stores nothing.
func TestCallbackChecksAuthentication(t *testing.T) {
	cases := []struct {
		name   string
		claims func(now time.Time) map[string]any // nil value: delete
		ok     bool
	}{
		{"all met", func(now time.Time) map[string]any { return map[string]any{"auth_time": now.Unix(), "acr": "mfa"} }, true},
		{"auth_time missing", func(now time.Time) map[string]any { return map[string]any{"auth_time": nil, "acr": "mfa"} }, false},
		{"auth_time too old", func(now time.Time) map[string]any {
			return map[string]any{"auth_time": now.Add(-7 * time.Minute).Unix(), "acr": "mfa"}
		}, false},
		{"auth_time before the login began", func(now time.Time) map[string]any {
			return map[string]any{"auth_time": now.Add(-2 * time.Minute).Unix(), "acr": "mfa"}
		}, false},
		{"auth_time a string", func(now time.Time) map[string]any {
			return map[string]any{"auth_time": strconv.FormatInt(now.Unix(), 10), "acr": "mfa"}
		}, false},
		{"acr missing", func(now time.Time) map[string]any { return map[string]any{"auth_time": now.Unix(), "acr": nil} }, false},
		{"acr not asked", func(now time.Time) map[string]any { return map[string]any{"auth_time": now.Unix(), "acr": "pwd"} }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			op := newTestOP(t)
			op.idClaimsMod = func(c map[string]any, _ bool) {
				for k, v := range tc.claims(time.Now()) {
					if v == nil {
						delete(c, k)
					} else {
						c[k] = v
					}
				}
			}
			app := newTestApp(t, op)
			c := app.browser()
			resp := app.get(c, "/login/stepup?return_to=/me") // prompt=login, max_age=300, acr_values=mfa
			require.Equal(t, http.StatusFound, resp.StatusCode)
			resp = app.authorize(c, resp.Header.Get("Location"))
			if tc.ok {
				require.Equal(t, http.StatusSeeOther, resp.StatusCode, app.logs.String())
				status, body := app.me(c)
				require.Equal(t, http.StatusOK, status)
				assert.Equal(t, "mfa", body["acr"])
				assert.InDelta(t, time.Now().Unix(), body["auth_time"], 5)
				return
			}
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Nil(t, app.sessionCookie(c))
			assert.Zero(t, app.store.sets.Load(), "nothing stored")
			want := ErrInsufficientAuthentication
			if strings.Contains(tc.name, "string") {
				want = ErrIDToken // malformed: NumericDate is never a string
			}
			assert.Contains(t, app.logs.String(), want.Error())
			if want == ErrInsufficientAuthentication {
				assert.Equal(t, "insufficient_authentication", loginRefusal(http.StatusBadRequest, ErrInsufficientAuthentication))
			}
		})
	}
}

// A plain login records auth_time, acr and sid when the ID token has them,
// and requires none of them.
func TestSessionRecordsAuthentication(t *testing.T) {
	op := newTestOP(t)
	authTime := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	op.idClaimsMod = func(c map[string]any, _ bool) {
		c["auth_time"], c["acr"], c["sid"] = authTime.Unix(), "pwd", "op-sid-1"
	}
	app := newTestApp(t, op)
	c := app.browser()
	app.login(c, "/")
	s, err := app.h.load(context.Background(), app.sessionCookie(c).Value)
	require.NoError(t, err)
	assert.Equal(t, authTime.UTC(), s.AuthTime)
	assert.Equal(t, "pwd", s.ACR)
	assert.Equal(t, "op-sid-1", s.sid)

	op.idClaimsMod = nil
	app.login(c, "/")
	s, err = app.h.load(context.Background(), app.sessionCookie(c).Value)
	require.NoError(t, err)
	assert.True(t, s.AuthTime.IsZero())
	assert.Empty(t, s.ACR+s.sid)
}

// RequireRecentLogin sends a browser whose authentication is too old through
// a step-up login and back to the same page; a recent one passes.
func TestRequireRecentLoginRoundTrip(t *testing.T) {
	op, app, clk, authn, c := stepUpApp(t)
	resp := app.get(c, "/recent?x=1")
	require.Equal(t, http.StatusOK, resp.StatusCode, "a login just now is recent")
	assert.Equal(t, "page /recent?x=1", readAll(t, resp.Body))
	first := app.sessionCookie(c).Value

	clk.Advance(10 * time.Minute)
	resp = app.get(c, "/recent?x=1")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	auth, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(auth.String(), op.issuer()+"/authorize?"), "straight to the provider")
	assert.Equal(t, "login", auth.Query().Get("prompt"))
	assert.Equal(t, "300", auth.Query().Get("max_age"))

	resp = app.authorize(c, auth.String())
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, app.logs.String())
	assert.Equal(t, "/recent?x=1", resp.Header.Get("Location"), "back to the same page")
	resp = app.get(c, "/recent?x=1")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "page /recent?x=1", readAll(t, resp.Body))
	assert.NotEqual(t, first, app.sessionCookie(c).Value, "a new session")
	op.mu.Lock()
	assert.Equal(t, clk.Now(), authn.authTime, "the provider authenticated anew")
	op.mu.Unlock()

	// Without a session it is RequireLogin.
	resp = app.get(app.browser(), "/recent")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, "/login?return_to=%2Frecent", resp.Header.Get("Location"))
}

// A step-up login's authorization request edited on its way to the provider
// can't weaken it: the callback refuses what the flow cookie did not ask
// for, and the session stays as it was.
func TestStepUpCannotBeDowngraded(t *testing.T) {
	edits := map[string]func(q url.Values){
		"max_age and prompt dropped": func(q url.Values) { q.Del("max_age"); q.Del("prompt") },
		"max_age raised":             func(q url.Values) { q.Set("max_age", "86400"); q.Del("prompt") },
		"acr_values weakened":        func(q url.Values) { q.Set("acr_values", "pwd") },
		"acr_values dropped":         func(q url.Values) { q.Del("acr_values") },
	}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			_, app, clk, _, c := stepUpApp(t)
			before := app.sessionCookie(c).Value
			page := "/recent"
			if strings.HasPrefix(name, "acr") {
				page = "/mfa"
			}
			clk.Advance(10 * time.Minute)
			resp := app.get(c, page)
			require.Equal(t, http.StatusFound, resp.StatusCode)
			auth, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			q := auth.Query()
			edit(q)
			auth.RawQuery = q.Encode()

			resp = app.authorize(c, auth.String())
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Contains(t, app.logs.String(), ErrInsufficientAuthentication.Error())
			assert.Equal(t, before, app.sessionCookie(c).Value, "the session is untouched")
			resp = app.get(c, page, "Accept", "application/json")
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "and still not stepped up")
		})
	}
}

// RequireACR: a session whose acr is not among those asked is stepped up
// with acr_values; a provider that does less is refused at the callback.
func TestRequireACR(t *testing.T) {
	op, app, _, authn, c := stepUpApp(t)
	resp := app.get(c, "/mfa")
	require.Equal(t, http.StatusFound, resp.StatusCode, "acr pwd is not among mfa, phr")
	auth := resp.Header.Get("Location")
	u, _ := url.Parse(auth)
	assert.Equal(t, "mfa phr", u.Query().Get("acr_values"))
	assert.Empty(t, u.Query().Get("max_age"))

	op.mu.Lock()
	authn.weakACR = true
	op.mu.Unlock()
	resp = app.authorize(c, auth)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "acr pwd after asking mfa phr")

	op.mu.Lock()
	authn.weakACR = false
	op.mu.Unlock()
	resp = app.get(c, "/mfa")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	resp = app.authorize(c, resp.Header.Get("Location"))
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, app.logs.String())
	assert.Equal(t, "/mfa", resp.Header.Get("Location"))
	resp = app.get(c, "/mfa")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	_, body := app.me(c)
	assert.Equal(t, "mfa", body["acr"])
}

// API and XHR callers, and non-navigations, get RFC 9470's 401.
func TestStepUpAPICallers(t *testing.T) {
	_, app, clk, _, c := stepUpApp(t)
	clk.Advance(10 * time.Minute)
	cases := []struct {
		name, method, path string
		hdr                []string
		challenge          string
	}{
		{"JSON recent", http.MethodGet, "/recent", []string{"Accept", "application/json"},
			`Bearer error="insufficient_user_authentication", error_description="A more recent authentication is required.", max_age="300"`},
		{"XHR recent", http.MethodGet, "/recent", []string{"X-Requested-With", "XMLHttpRequest"},
			`Bearer error="insufficient_user_authentication", error_description="A more recent authentication is required.", max_age="300"`},
		{"form POST recent", http.MethodPost, "/recent", nil,
			`Bearer error="insufficient_user_authentication", error_description="A more recent authentication is required.", max_age="300"`},
		{"JSON acr", http.MethodGet, "/mfa", []string{"Accept", "application/json"},
			`Bearer error="insufficient_user_authentication", error_description="A different authentication level is required.", acr_values="mfa phr"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, app.srv.URL+tc.path, nil)
			require.NoError(t, err)
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				req.Header.Set(tc.hdr[i], tc.hdr[i+1])
			}
			resp, err := c.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			assert.Equal(t, tc.challenge, resp.Header.Get("WWW-Authenticate"))
			assert.Empty(t, resp.Cookies(), "no login started")
			if tc.hdr != nil {
				var body map[string]string
				require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
				assert.Equal(t, "insufficient_user_authentication", body["error"])
			}
		})
	}
}

func TestStepUpMisconfigured(t *testing.T) {
	op := newTestOP(t)
	app := newTestApp(t, op)
	c := app.browser()
	app.login(c, "/")
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("served") })
	for name, mw := range map[string]func(http.Handler) http.Handler{
		"max age zero":        app.h.RequireRecentLogin(0),
		"max age fraction":    app.h.RequireRecentLogin(1500 * time.Millisecond),
		"no acr values":       app.h.RequireACR(),
		"acr value with ws":   app.h.RequireACR("a b"),
		"acr value too short": app.h.RequireACR(""),
	} {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/x", nil)
			r.AddCookie(app.sessionCookie(c))
			w := httptest.NewRecorder()
			mw(ok).ServeHTTP(w, r)
			assert.Equal(t, http.StatusInternalServerError, w.Code)
		})
	}
}
