package authflow

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoginHappyPath(t *testing.T) {
	op := newTestOP(t)
	app := newTestApp(t, op)
	c := app.browser()

	require.Equal(t, "/me?x=1", app.login(c, "/me?x=1"))
	status, body := app.me(c)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "alice", body["sub"])
	assert.Equal(t, "alice@example.com", body["claims"].(map[string]any)["email"])

	// A.1, A.3: the authorization request.
	q := op.lastAuth
	assert.Equal(t, "S256", q.Get("code_challenge_method"))
	assert.Len(t, q.Get("code_challenge"), 43)
	assert.GreaterOrEqual(t, len(q.Get("state")), 22, "state carries at least 128 bits")
	assert.NotEmpty(t, q.Get("nonce"))
	assert.Contains(t, strings.Fields(q.Get("scope")), "openid")
	assert.Equal(t, app.srv.URL+"/callback", q.Get("redirect_uri"))

	// G.28: the session cookie is an opaque random id with safe attributes.
	ck := app.sessionCookie(c)
	require.NotNil(t, ck)
	assert.True(t, validSessionID(ck.Value))
	assert.Equal(t, int64(1), app.store.sets.Load())
}

func TestCookieAttributes(t *testing.T) {
	op := newTestOP(t)
	app := newTestApp(t, op)
	c := app.browser()
	resp := app.get(c, "/login")
	flowCookies := resp.Cookies()
	require.Len(t, flowCookies, 1)
	fc := flowCookies[0]
	assert.True(t, strings.HasPrefix(fc.Name, "__Host-"))
	assert.True(t, fc.Secure)
	assert.True(t, fc.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, fc.SameSite)
	assert.Equal(t, "/", fc.Path)
	assert.Empty(t, fc.Domain)
	assert.Positive(t, fc.MaxAge)

	resp = app.get(c, resp.Header.Get("Location"))
	resp = app.get(c, resp.Header.Get("Location"))
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	var session, cleared *http.Cookie
	for _, ck := range resp.Cookies() {
		switch {
		case ck.Name == defaultSessionCookieName:
			session = ck
		case ck.Name == fc.Name:
			cleared = ck
		}
	}
	require.NotNil(t, session)
	require.NotNil(t, cleared, "the flow cookie is deleted at the callback")
	assert.Negative(t, cleared.MaxAge)
	assert.True(t, strings.HasPrefix(session.Name, "__Host-"))
	assert.True(t, session.Secure && session.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, session.SameSite)
	assert.NotContains(t, session.Value, ".", "no JWT in the cookie")
}

func TestParallelLoginsInTwoTabs(t *testing.T) {
	op := newTestOP(t)
	app := newTestApp(t, op)
	c := app.browser()
	first := app.startLogin(c, "/me?tab=1")
	second := app.startLogin(c, "/me?tab=2")
	// Complete them in the opposite order.
	resp := app.get(c, second)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/me?tab=2", resp.Header.Get("Location"))
	resp = app.get(c, first)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/me?tab=1", resp.Header.Get("Location"))
	status, _ := app.me(c)
	assert.Equal(t, http.StatusOK, status)
}

func TestNewSessionIDAtEveryLogin(t *testing.T) {
	op := newTestOP(t)
	app := newTestApp(t, op)
	c := app.browser()
	app.login(c, "")
	id1 := app.sessionCookie(c).Value
	app.login(c, "")
	id2 := app.sessionCookie(c).Value
	assert.NotEqual(t, id1, id2)
	_, err := app.store.Get(context.Background(), storeKey(id1))
	assert.Error(t, err, "the replaced session's record is deleted")
}

// B.5, B.6, B.7, B.8: callbacks that must be refused, leaving no session.
func TestCallbackRejections(t *testing.T) {
	tests := []struct {
		name   string
		opMod  func(*testOP)
		tamper func(t *testing.T, app *testApp, c *http.Client, callback string) string
		status int
		// loggedIn: the tamper step itself signed this browser in.
		loggedIn bool
	}{
		{name: "state missing", tamper: func(t *testing.T, _ *testApp, _ *http.Client, cb string) string {
			return setParam(cb, "state", "")
		}},
		{name: "state wrong", tamper: func(t *testing.T, _ *testApp, _ *http.Client, cb string) string {
			return setParam(cb, "state", randomToken())
		}},
		{name: "state replayed", tamper: func(t *testing.T, app *testApp, c *http.Client, cb string) string {
			resp := app.get(c, cb)
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
			app.store.sets.Store(0)
			return cb
		}, loggedIn: true},
		{name: "state from another browser (login CSRF)", tamper: func(t *testing.T, app *testApp, c *http.Client, cb string) string {
			// The victim's browser has no flow cookie for the attacker's state.
			c.Jar, _ = newJar()
			return cb
		}},
		{name: "flow cookie tampered", tamper: func(t *testing.T, app *testApp, c *http.Client, cb string) string {
			u, _ := url.Parse(app.srv.URL)
			for _, ck := range c.Jar.Cookies(u) {
				if strings.HasPrefix(ck.Name, defaultFlowCookiePrefix) {
					v := []byte(ck.Value)
					v[len(v)/2] ^= 1
					c.Jar.SetCookies(u, []*http.Cookie{{Name: ck.Name, Value: string(v), Path: "/"}})
				}
			}
			return cb
		}},
		{name: "duplicate state", tamper: func(t *testing.T, _ *testApp, _ *http.Client, cb string) string {
			return cb + "&state=" + randomToken()
		}},
		{name: "duplicate code", tamper: func(t *testing.T, _ *testApp, _ *http.Client, cb string) string {
			return cb + "&code=x"
		}},
		{name: "1 MB query", tamper: func(t *testing.T, _ *testApp, _ *http.Client, cb string) string {
			return cb + "&pad=" + strings.Repeat("a", 1<<20)
		}},
		{name: "code missing", tamper: func(t *testing.T, _ *testApp, _ *http.Client, cb string) string {
			return setParam(cb, "code", "")
		}},
		{name: "code wrong", tamper: func(t *testing.T, _ *testApp, _ *http.Client, cb string) string {
			return setParam(cb, "code", "not-a-code")
		}},
		{name: "iss wrong", tamper: func(t *testing.T, _ *testApp, _ *http.Client, cb string) string {
			return setParam(cb, "iss", "https://evil.example")
		}},
		{name: "iss with trailing slash", tamper: func(t *testing.T, app *testApp, _ *http.Client, cb string) string {
			return setParam(cb, "iss", app.h.cfg.Issuer+"/")
		}},
		{name: "iss missing while advertised", tamper: func(t *testing.T, _ *testApp, _ *http.Client, cb string) string {
			return setParam(cb, "iss", "")
		}},
		{name: "iss wrong while not advertised", opMod: func(op *testOP) { op.issParam = false; op.sendIss = "https://evil.example" }},
		{name: "provider error with markup", tamper: func(t *testing.T, _ *testApp, _ *http.Client, cb string) string {
			u, _ := url.Parse(cb)
			q := url.Values{"error": {"<script>alert(1)</script>"}, "error_description": {"<b>bad</b>"}, "state": {u.Query().Get("state")}}
			u.RawQuery = q.Encode()
			return u.String()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := newTestOP(t)
			if tt.opMod != nil {
				tt.opMod(op)
			}
			app := newTestApp(t, op)
			c := app.browser()
			cb := app.startLogin(c, "/me")
			if tt.tamper != nil {
				cb = tt.tamper(t, app, c, cb)
			}
			resp := app.get(c, cb)
			want := tt.status
			if want == 0 {
				want = http.StatusBadRequest
			}
			body := readAll(t, resp.Body)
			assert.Equal(t, want, resp.StatusCode)
			assert.NotContains(t, body, "<script>")
			assert.NotContains(t, body, "<b>bad")
			assert.Zero(t, app.store.sets.Load(), "nothing stored")
			for _, ck := range resp.Cookies() {
				assert.NotEqual(t, defaultSessionCookieName, ck.Name, "no session cookie set")
			}
			if !tt.loggedIn {
				assert.Nil(t, app.sessionCookie(c), "no session cookie")
				status, _ := app.me(c)
				assert.Equal(t, http.StatusUnauthorized, status)
			}
			// The next good login works.
			op.sendIss = ""
			app.login(app.browser(), "/")
		})
	}
}

// B.9: unusable token responses.
func TestTokenResponseRejections(t *testing.T) {
	tests := []struct {
		name string
		hook func(w http.ResponseWriter, r *http.Request)
	}{
		{"HTML", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html><body>maintenance</body></html>"))
		}},
		{"truncated JSON", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"access_token":"x","token_type":"Bearer","id_tok`))
		}},
		{"oversized", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"access_token":"` + strings.Repeat("a", 2<<20) + `","token_type":"Bearer"}`))
		}},
		{"invalid_grant with status 200", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, map[string]any{"error": "invalid_grant"})
		}},
		{"token_type MAC", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, map[string]any{"access_token": "x", "token_type": "mac", "id_token": "a.b.c"})
		}},
		{"token_type missing", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, map[string]any{"access_token": "x", "id_token": "a.b.c"})
		}},
		{"id_token missing", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, map[string]any{"access_token": "x", "token_type": "Bearer"})
		}},
		{"500", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "boom", http.StatusInternalServerError)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := newTestOP(t)
			var hooked atomic.Bool
			hooked.Store(true)
			op.tokenHook = func(w http.ResponseWriter, r *http.Request) bool {
				if !hooked.Load() {
					return false
				}
				tt.hook(w, r)
				return true
			}
			app := newTestApp(t, op)
			c := app.browser()
			resp := app.get(c, app.startLogin(c, "/"))
			assert.Contains(t, []int{http.StatusBadRequest, http.StatusBadGateway}, resp.StatusCode)
			assert.Zero(t, app.store.sets.Load())
			assert.Nil(t, app.sessionCookie(c))
			assert.NotContains(t, app.logs.String(), "maintenance", "response bodies are not logged")
			hooked.Store(false)
			app.login(app.browser(), "/")
		})
	}
}

// B.10: a token endpoint that redirects must not get the request re-sent.
func TestTokenEndpointRedirectNotFollowed(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
	}))
	defer other.Close()
	op := newTestOP(t)
	op.tokenHook = func(w http.ResponseWriter, r *http.Request) bool {
		http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
		return true
	}
	app := newTestApp(t, op)
	c := app.browser()
	resp := app.get(c, app.startLogin(c, "/"))
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
	assert.Zero(t, elsewhere.Load(), "credentials and code were not forwarded")
	assert.Zero(t, app.store.sets.Load())
}

// A.2, A.4: discovery.
func TestDiscovery(t *testing.T) {
	t.Run("no S256 advertised: S256 still sent", func(t *testing.T) {
		op := newTestOP(t)
		op.discoveryMod = func(d map[string]any) { d["code_challenge_methods_supported"] = []string{"plain"} }
		app := newTestApp(t, op)
		app.login(app.browser(), "/")
		assert.Equal(t, "S256", op.lastAuth.Get("code_challenge_method"))
	})
	t.Run("issuer mismatch refuses to start", func(t *testing.T) {
		op := newTestOP(t)
		op.discoveryMod = func(d map[string]any) { d["issuer"] = "https://evil.example" }
		_, err := startTestApp(t, op)
		require.Error(t, err)
	})
	t.Run("non-https endpoint refuses to start", func(t *testing.T) {
		op := newTestOP(t)
		op.discoveryMod = func(d map[string]any) { d["token_endpoint"] = "http://login.example.com/token" }
		_, err := startTestApp(t, op)
		require.ErrorContains(t, err, "https")
	})
	t.Run("scope gets openid", func(t *testing.T) {
		op := newTestOP(t)
		app := newTestApp(t, op, func(c *Config) { c.Scopes = []string{"email", "profile"} })
		app.login(app.browser(), "/")
		assert.Equal(t, []string{"openid", "email", "profile"}, strings.Fields(op.lastAuth.Get("scope")))
	})
}

func TestConfigValidation(t *testing.T) {
	op := newTestOP(t)
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"bad issuer", func(c *Config) { c.Issuer = "not a url" }, "Issuer"},
		{"http issuer off loopback", func(c *Config) { c.Issuer = "http://idp.example.com" }, "https"},
		{"relative redirect", func(c *Config) { c.RedirectURL = "/callback" }, "RedirectURL"},
		{"missing client id", func(c *Config) { c.ClientID = "" }, "ClientID"},
		{"short cookie key", func(c *Config) { c.CookieKeys = [][]byte{[]byte("short")} }, "CookieKeys"},
		{"reserved auth param", func(c *Config) { c.AuthParams = map[string]string{"state": "x"} }, "state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := startTestApp(t, op, tt.mod)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func setParam(raw, name, value string) string {
	u, _ := url.Parse(raw)
	q := u.Query()
	if value == "" {
		q.Del(name)
	} else {
		q.Set(name, value)
	}
	u.RawQuery = q.Encode()
	return u.String()
}
