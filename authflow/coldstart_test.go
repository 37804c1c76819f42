package authflow

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/internal/jwks"
)

// testClock is a clock the test moves: the handler's backoff and the
// provider's tokens run on it.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: time.Now()} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Issue 10, "Show": New with the provider down returns a Handler; requests
// get 503 and a log line; once the provider is up, the next login works
// without a restart.
func TestNewWithProviderDown(t *testing.T) {
	op := newTestOP(t)
	clk := newTestClock()
	op.now = clk.Now
	op.down()
	app := newTestApp(t, op, func(c *Config) { c.Now = clk.Now })
	assert.Contains(t, app.logs.String(), "the OpenID provider is unavailable")

	c := app.browser()
	resp := app.get(c, "/login?return_to=/me")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Contains(t, readAll(t, resp.Body), "Sign-in is temporarily unavailable")
	assert.Contains(t, app.logs.String(), "authflow: login unavailable")
	assert.Empty(t, c.Jar.Cookies(mustURL(t, app.srv.URL)), "no flow cookie")

	// A bearer token checked on the handler's key set: unavailable (503),
	// not refused (401).
	_, err := app.h.KeySet().Key(t.Context(), "k1", "RS256")
	assert.ErrorIs(t, err, jwks.ErrFetch)

	op.up()
	// Still within the backoff: answered at once, with no request.
	resp = app.get(c, "/login")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Zero(t, op.discoveryCalls.Load())

	clk.Advance(minRetry)
	assert.Equal(t, "/me", app.login(c, "/me"))
	status, body := app.me(c)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "alice", body["sub"])
	assert.EqualValues(t, 1, op.discoveryCalls.Load())
	assert.Contains(t, app.logs.String(), "authflow: provider discovered")

	// The provider goes down again: the discovered metadata stays, and the
	// signed-in user is served from the session.
	op.down()
	status, _ = app.me(c)
	assert.Equal(t, http.StatusOK, status)
}

// Discovery after New: one request for all waiting callers, each waiting
// within its own context; a caller that gives up does not stop it.
func TestLazyDiscoverySingleFlight(t *testing.T) {
	op := newTestOP(t)
	clk := newTestClock()
	op.now = clk.Now
	op.down()
	app := newTestApp(t, op, func(c *Config) { c.Now = clk.Now })

	entered, release := make(chan struct{}), make(chan struct{})
	op.discoveryMod = func(map[string]any) {
		entered <- struct{}{}
		<-release
	}
	op.up()
	clk.Advance(minRetry)

	ctx, cancel := context.WithCancel(t.Context())
	first := make(chan error)
	go func() {
		_, err := app.h.provider(ctx)
		first <- err
	}()
	<-entered
	cancel()
	err := <-first
	require.ErrorIs(t, err, ErrProviderUnavailable)
	require.ErrorIs(t, err, context.Canceled)

	var wg sync.WaitGroup
	var ok atomic.Int64
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p, err := app.h.provider(t.Context()); err == nil && p != nil {
				ok.Add(1)
			}
		}()
	}
	close(release)
	wg.Wait()
	assert.EqualValues(t, 50, ok.Load())
	assert.EqualValues(t, 1, op.discoveryCalls.Load(), "one discovery request")
}

// After each failed attempt none starts before the backoff, which doubles
// up to maxRetry.
func TestLazyDiscoveryBackoff(t *testing.T) {
	op := newTestOP(t)
	clk := newTestClock()
	op.down()
	var requests atomic.Int64
	app := newTestApp(t, op, func(c *Config) {
		c.Now = clk.Now
		c.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			requests.Add(1)
			return http.DefaultTransport.RoundTrip(r)
		})}
	})
	require.EqualValues(t, 1, requests.Load(), "New's attempt")
	want := minRetry
	for i := range 10 {
		_, err := app.h.provider(t.Context())
		require.ErrorIs(t, err, ErrProviderUnavailable)
		require.EqualValues(t, i+1, requests.Load(), "no request within the backoff")
		clk.Advance(want)
		_, err = app.h.provider(t.Context())
		require.ErrorIs(t, err, ErrProviderUnavailable)
		require.EqualValues(t, i+2, requests.Load(), "one request once the backoff passed")
		want = min(2*want, maxRetry)
	}
	assert.Equal(t, maxRetry, want)
	assert.Equal(t, maxRetry, app.h.source.backoff)
}

// A provider that answers at New with a bad document still refuses to
// start (SECURITY.md A.4): only an unreachable one is left for later.
func TestNewRefusesWhatDiscoverySays(t *testing.T) {
	for name, mod := range map[string]func(map[string]any){
		"issuer mismatch":   func(d map[string]any) { d["issuer"] = "https://evil.example" },
		"no token_endpoint": func(d map[string]any) { delete(d, "token_endpoint") },
	} {
		t.Run(name, func(t *testing.T) {
			op := newTestOP(t)
			op.discoveryMod = mod
			_, err := startTestApp(t, op)
			require.Error(t, err)
			assert.NotErrorIs(t, err, ErrProviderUnavailable)
		})
	}
	t.Run("HTTP 404", func(t *testing.T) {
		op := newTestOP(t)
		_, err := startTestApp(t, op, func(c *Config) { c.Issuer = op.issuer() + "/no-such-realm" })
		require.ErrorContains(t, err, "404")
	})
	t.Run("connection aborted: started", func(t *testing.T) {
		op := newTestOP(t)
		op.discoveryMod = func(map[string]any) { panic(http.ErrAbortHandler) }
		app, err := startTestApp(t, op)
		require.NoError(t, err)
		assert.Contains(t, app.logs.String(), "unavailable")
	})
}

// cognitoRoutes stands in for AWS in front of the test OP: the pool issuer's
// discovery document and key set are served by the OP; every request is
// recorded; failDiscovery makes the discovery request fail.
type cognitoRoutes struct {
	iss           string
	op            *testOP
	failDiscovery atomic.Bool

	mu   sync.Mutex
	urls []string
}

func (c *cognitoRoutes) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.urls = append(c.urls, r.URL.String())
	c.mu.Unlock()
	if !strings.HasSuffix(r.URL.Hostname(), ".amazonaws.com") {
		return http.DefaultTransport.RoundTrip(r)
	}
	var path string
	switch r.URL.String() {
	case c.iss + "/.well-known/openid-configuration":
		if c.failDiscovery.Load() {
			return nil, errors.New("connection refused")
		}
		path = "/.well-known/openid-configuration"
	case c.iss + "/.well-known/jwks.json":
		path = "/jwks"
	default:
		return nil, errors.New("no route")
	}
	u, _ := url.Parse(c.op.issuer() + path)
	r = r.Clone(r.Context())
	r.URL, r.Host = u, u.Host
	return http.DefaultTransport.RoundTrip(r)
}

func (c *cognitoRoutes) requests() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.urls...)
}

func (c *cognitoRoutes) count(suffix string) int {
	n := 0
	for _, u := range c.requests() {
		if strings.HasSuffix(u, suffix) {
			n++
		}
	}
	return n
}

// cognitoPoolOP is a test OP that answers as the user pool testOriginalIss
// behind cognitoRoutes: its discovery document (as the pool's) names
// discoveryIss and the domain's endpoints, the domain being the OP.
func cognitoPoolOP(t *testing.T, discoveryIss string) (*testOP, *cognitoRoutes) {
	t.Helper()
	op := newTestOP(t)
	op.issParam = false // Cognito sends no RFC 9207 iss
	op.idClaimsMod = func(c map[string]any, refresh bool) { c["iss"] = testOriginalIss }
	op.discoveryMod = func(d map[string]any) {
		d["issuer"] = discoveryIss
		d["authorization_endpoint"] = op.issuer() + "/oauth2/authorize"
		d["token_endpoint"] = op.issuer() + "/oauth2/token"
		d["jwks_uri"] = discoveryIss + "/.well-known/jwks.json"
		delete(d, "revocation_endpoint")
		delete(d, "end_session_endpoint")
	}
	return op, &cognitoRoutes{iss: testOriginalIss, op: op}
}

// cognitoPoolApp is an app for the user pool testOriginalIss with
// Config.Cognito, its domain the test OP, reaching AWS through routes.
func cognitoPoolApp(t *testing.T, op *testOP, routes *cognitoRoutes, mods ...func(*Config)) *testApp {
	t.Helper()
	return newTestApp(t, op, append([]func(*Config){func(c *Config) {
		c.Issuer = testOriginalIss
		c.Cognito = &Cognito{Domain: op.issuer()}
		c.HTTPClient = &http.Client{Transport: routes}
	}}, mods...)...)
}

// Issue 10, "Cold start" (a): a user pool with Config.Cognito makes no
// request at New; its endpoints are the domain's; the first login compares
// them with the pool's discovery document, once.
func TestCognitoPoolWithoutDiscovery(t *testing.T) {
	op, routes := cognitoPoolOP(t, testOriginalIss)
	app := cognitoPoolApp(t, op, routes)
	assert.Empty(t, routes.requests(), "New made a request")

	c := app.browser()
	resp := app.get(c, "/login")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.True(t, strings.HasPrefix(resp.Header.Get("Location"), op.issuer()+"/oauth2/authorize?"), resp.Header.Get("Location"))
	assert.Equal(t, []string{testOriginalIss + "/.well-known/openid-configuration"}, routes.requests(),
		"the first login compares with discovery first")

	assert.Equal(t, "/", app.login(app.browser(), "/"))
	assert.Equal(t, "/", app.login(app.browser(), "/"))
	assert.Equal(t, 1, routes.count("/.well-known/openid-configuration"), "compared once")
	assert.Equal(t, 2, routes.count("/oauth2/token"))
	assert.Equal(t, 1, routes.count("/.well-known/jwks.json"))
	assert.NotContains(t, app.logs.String(), "names another endpoint")

	// Logout revokes at the domain's /oauth2/revoke and sends the browser
	// to its /logout.
	c = app.browser()
	app.login(c, "/")
	_, body := app.me(c)
	form := url.Values{"csrf_token": {body["csrf"].(string)}}
	req, _ := http.NewRequest(http.MethodPost, app.srv.URL+"/logout", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", app.srv.URL)
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.True(t, strings.HasPrefix(resp.Header.Get("Location"), op.issuer()+"/logout?"), resp.Header.Get("Location"))
	assert.EqualValues(t, 1, op.revokeCalls.Load())
}

// The pool's discovery document refuses the configured issuer (the pool
// uses the other issuer type): sign-in answers 503, for good, and says why.
func TestCognitoPoolIssuerMismatch(t *testing.T) {
	op, routes := cognitoPoolOP(t, testUpdatedIss)
	app := cognitoPoolApp(t, op, routes)
	assert.Empty(t, routes.requests())
	for range 3 {
		resp := app.get(app.browser(), "/login")
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	}
	assert.Equal(t, 1, routes.count("/.well-known/openid-configuration"), "refused for good: asked once")
	assert.Contains(t, app.logs.String(), "refuses the configured issuer")
	assert.Contains(t, app.logs.String(), "did not match")
	assert.Zero(t, op.tokenCalls.Load())
}

// While the pool's discovery can't be reached the domain's endpoints serve;
// the comparison is tried again after the backoff.
func TestCognitoPoolDiscoveryUnreachable(t *testing.T) {
	clk := newTestClock()
	op, routes := cognitoPoolOP(t, testOriginalIss)
	op.now = clk.Now
	app := cognitoPoolApp(t, op, routes, func(c *Config) { c.Now = clk.Now })
	routes.failDiscovery.Store(true)
	assert.Equal(t, "/", app.login(app.browser(), "/"))
	assert.Equal(t, "/", app.login(app.browser(), "/"))
	assert.Equal(t, 1, routes.count("/.well-known/openid-configuration"), "no retry within the backoff")
	assert.Contains(t, app.logs.String(), "discovery failed")

	routes.failDiscovery.Store(false)
	clk.Advance(minRetry)
	assert.Equal(t, "/", app.login(app.browser(), "/"))
	assert.Equal(t, 2, routes.count("/.well-known/openid-configuration"))
	assert.Equal(t, "/", app.login(app.browser(), "/"))
	assert.Equal(t, 2, routes.count("/.well-known/openid-configuration"), "checked: never again")
}

// Another endpoint in the pool's document is logged; the domain's stays.
func TestCognitoPoolEndpointMismatchLogged(t *testing.T) {
	op, routes := cognitoPoolOP(t, testOriginalIss)
	app := cognitoPoolApp(t, op, routes)
	mod := op.discoveryMod
	op.discoveryMod = func(d map[string]any) {
		mod(d)
		d["token_endpoint"] = "https://myapp.auth.eu-west-1.amazoncognito.com/oauth2/token"
	}
	assert.Equal(t, "/", app.login(app.browser(), "/"))
	assert.Contains(t, app.logs.String(), "names another endpoint")
	assert.Contains(t, app.logs.String(), "endpoint=token_endpoint")
	assert.Equal(t, 1, routes.count(op.issuer()+"/oauth2/token"))
}

// Config.JWKS: the key set starts primed, so a login fetches no key set;
// a key rotated in since is still found, with one fetch.
func TestPrimedJWKS(t *testing.T) {
	op, routes := cognitoPoolOP(t, testOriginalIss)
	app := cognitoPoolApp(t, op, routes, func(c *Config) { c.JWKS = op.jwksDoc() })
	assert.Equal(t, "/", app.login(app.browser(), "/"))
	assert.Zero(t, routes.count("/.well-known/jwks.json"), "primed: no key set fetched")

	op.rotateKey("k2")
	assert.Equal(t, "/", app.login(app.browser(), "/"))
	assert.Equal(t, 1, routes.count("/.well-known/jwks.json"), "an unknown kid: one fetch")

	_, err := startTestApp(t, op, func(c *Config) {
		c.Issuer, c.Cognito = testOriginalIss, &Cognito{Domain: op.issuer()}
		c.JWKS = []byte(`{"keys":[]}`)
	})
	assert.ErrorContains(t, err, "authflow: JWKS")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u
}
