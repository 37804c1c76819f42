package issuertest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pubauth/awsauth/authflow"
	"github.com/pubauth/awsauth/authflow/bearer"
	"github.com/pubauth/awsauth/awscreds"
	"github.com/pubauth/awsauth/internal/testenv"
)

const (
	poolID   = "eu-west-1_AwsAuthOP"
	clientID = "web"
)

// pool is one user pool issuer type, served by its own provider, with its
// own app (the login flow) and what its login gave.
type pool struct {
	name string
	pool authflow.CognitoPool
	iss  string
	op   *testenv.OIDCProvider
	app  *app

	session string // the signed-in session's id
	tokens  authflow.TokenSet
}

type app struct {
	base string // the app's URL
	ln   net.Listener
	h    *authflow.Handler
	logs *logBuffer
}

// TestCognitoIssuerTypes: for each issuer type, the login flow signs a user
// in with the provider's ID token, the bearer verifier accepts its access
// token with the key set at <issuer>/.well-known/jwks.json (no discovery),
// and CognitoLogins keys its ID token by the issuer without https://; each
// configured for the other type refuses.
func TestCognitoIssuerTypes(t *testing.T) {
	pools := []*pool{
		{name: "original", pool: authflow.CognitoPool{ID: poolID}},
		{name: "updated", pool: authflow.CognitoPool{ID: poolID, IssuerType: "UPDATED"}},
	}
	var redirects []string
	for _, p := range pools {
		iss, err := authflow.CognitoIssuer(p.pool)
		if err != nil {
			t.Fatal(err)
		}
		p.iss = iss
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		p.app = &app{base: "http://" + ln.Addr().String(), ln: ln, logs: &logBuffer{}}
		redirects = append(redirects, p.app.base+"/callback")
	}
	if pools[0].iss != "https://cognito-idp.eu-west-1.amazonaws.com/"+poolID ||
		pools[1].iss != "https://issuer-cognito-idp.eu-west-1.amazonaws.com/"+poolID {
		t.Fatalf("issuers %q, %q", pools[0].iss, pools[1].iss)
	}
	for _, p := range pools {
		// Both apps' callbacks at both providers, for the mix-up below.
		op, err := testenv.StartOIDC(t.Context(), testenv.OIDCConfig{
			IssuerURL: p.iss,
			Clients:   []testenv.OIDCClient{{ID: clientID, RedirectURIs: redirects}},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := op.Stop(); err != nil {
				t.Errorf("stop provider: %v", err)
			}
		})
		p.op = op
	}
	for _, p := range pools {
		p.app.h = startApp(t, p.app, authflowConfig(p, p.iss, p.op.Transport()))
	}

	for _, p := range pools {
		t.Run(p.name+"/login", func(t *testing.T) {
			p.session = p.login(t)
			ts, err := p.app.h.Tokens(t.Context(), p.session)
			if err != nil {
				t.Fatal(err)
			}
			p.tokens = ts
			if iss := claim(t, ts.IDToken, "iss"); iss != p.iss {
				t.Fatalf("ID token iss %q, want %q", iss, p.iss)
			}
		})
	}
	if t.Failed() {
		t.FailNow()
	}

	for i, p := range pools {
		other := pools[1-i]
		t.Run(p.name+"/bearer", func(t *testing.T) {
			rec := &recorder{next: p.op.Transport()}
			v, err := bearer.New(t.Context(), bearer.Config{
				Issuers:    []bearer.Issuer{bearer.Cognito(p.pool, clientID)},
				HTTPClient: &http.Client{Transport: rec, Timeout: 10 * time.Second},
			})
			if err != nil {
				t.Fatal(err)
			}
			c, err := v.Verify(t.Context(), p.tokens.AccessToken)
			if err != nil {
				t.Fatalf("the provider's %s access token: %v", p.name, err)
			}
			if c.Issuer != p.iss || c.TokenUse != bearer.TokenUseAccess || c.ClientID != clientID ||
				c.Subject != "alice" || !c.HasScope("orders/read") {
				t.Errorf("claims %+v", c)
			}
			// The other type's token, real and valid at its own issuer, and
			// the ID token of this one: refused.
			for name, tok := range map[string]string{
				other.name + "'s access token": other.tokens.AccessToken,
				"the ID token":                 p.tokens.IDToken,
			} {
				if _, err := v.Verify(t.Context(), tok); !errors.Is(err, bearer.ErrInvalidToken) {
					t.Errorf("%s: %v, want ErrInvalidToken", name, err)
				}
			}
			// The key set came from <issuer>/.well-known/jwks.json; no
			// discovery, nothing else.
			urls := rec.urls()
			if len(urls) == 0 {
				t.Error("no key set fetched")
			}
			for _, u := range urls {
				if u != p.iss+"/.well-known/jwks.json" {
					t.Errorf("bearer fetched %s", u)
				}
			}
		})

		t.Run(p.name+"/logins", func(t *testing.T) {
			m, err := awscreds.CognitoLogins(p.iss, p.app.h.IDTokenFunc(p.session))(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			key := strings.TrimPrefix(p.iss, "https://")
			if len(m) != 1 || m[key] != p.tokens.IDToken {
				t.Errorf("Logins has keys %v, want exactly %q with the session's ID token", keys(m), key)
			}
			// Configured for the other type, the session's real ID token is
			// refused before any call to Cognito.
			_, err = awscreds.CognitoLogins(other.iss, p.app.h.IDTokenFunc(p.session))(t.Context())
			if !errors.Is(err, awscreds.ErrConfiguration) {
				t.Errorf("configured for %s: %v, want ErrConfiguration", other.name, err)
			}
		})

		t.Run(p.name+"/login refuses the other type", func(t *testing.T) {
			// The app configured for the other type, whose discovery this
			// provider answers: its document names this type's issuer (OIDC
			// Discovery 1.0 §4.3).
			tr := alias{from: other.iss, to: p.iss, next: p.op.Transport()}
			_, err := authflow.New(t.Context(), authflowConfig(other, other.iss, tr))
			// "did not match" is go-oidc's word for it.
			if err == nil || !strings.Contains(err.Error(), "authflow: discovery") || !strings.Contains(err.Error(), "did not match") {
				t.Errorf("New for %s against the %s provider: %v, want a discovery refusal", other.name, p.name, err)
			}

			// Mix-up: a login the other type's app started, completed at this
			// provider (its authorization request sent here instead), comes
			// back with this type's iss (RFC 9207) and is refused: no session.
			jar, _ := cookiejar.New(nil)
			authURL := other.app.startLogin(t, jar)
			authURL = p.iss + strings.TrimPrefix(authURL, other.iss)
			cb := p.providerLogin(t, jar, authURL)
			if got := cb.Query().Get("iss"); got != p.iss {
				t.Fatalf("callback iss %q", got)
			}
			resp := get(t, jar, cb.String())
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("callback: %d, want 400", resp.StatusCode)
			}
			if resp := get(t, jar, other.app.base+"/me"); resp.StatusCode != http.StatusFound {
				t.Errorf("after a refused callback: %d, want a redirect to login", resp.StatusCode)
			}
			if !strings.Contains(other.app.logs.String(), "iss mismatch") {
				t.Errorf("logs:\n%s", other.app.logs)
			}
		})
	}

	for _, p := range pools {
		// One code redeemed at each provider, at its own login: the mix-up
		// was refused before any token request.
		if n := p.op.TokenRequests(); n != 1 {
			t.Errorf("%s: %d token requests, want 1", p.name, n)
		}
		for _, tok := range []string{p.tokens.AccessToken, p.tokens.IDToken, p.tokens.RefreshToken} {
			if tok != "" && strings.Contains(p.app.logs.String(), tok[len(tok)/2:]) {
				t.Errorf("%s: a token reached the logs", p.name)
			}
		}
	}
}

// authflowConfig configures the login flow of p's app for issuer, reaching the
// provider through tr. The access token is a Cognito-shaped JWT for
// testenv.DefaultAPIResource with the scope orders/read.
func authflowConfig(p *pool, issuer string, tr http.RoundTripper) authflow.Config {
	return authflow.Config{
		Issuer:      issuer,
		ClientID:    clientID,
		RedirectURL: p.app.base + "/callback",
		Scopes:      []string{"openid", "orders/read"},
		AuthParams:  map[string]string{"resource": testenv.DefaultAPIResource},
		CookieKeys:  [][]byte{bytes.Repeat([]byte{7}, 32)},
		HTTPClient:  &http.Client{Transport: tr, Timeout: 10 * time.Second},
		Logger:      slog.New(slog.NewTextHandler(p.app.logs, nil)),
	}
}

// startApp serves the login flow on a's listener: /login, /callback, and /me,
// which answers a signed-in user with the session's id.
func startApp(t *testing.T, a *app, cfg authflow.Config) *authflow.Handler {
	t.Helper()
	h, err := authflow.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /login", h.Login())
	mux.Handle("GET /callback", h.Callback())
	mux.Handle("GET /me", h.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, authflow.SessionFrom(r.Context()).ID)
	})))
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = a.ln
	srv.Start()
	t.Cleanup(srv.Close)
	return h
}

// login signs alice in at p's app through p's provider and returns the
// session id.
func (p *pool) login(t *testing.T) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	authURL := p.app.startLogin(t, jar)
	if !strings.HasPrefix(authURL, p.iss+"/") {
		t.Fatalf("authorization request to %s, want one under %s", authURL, p.iss)
	}
	cb := p.providerLogin(t, jar, authURL)
	resp := get(t, jar, cb.String())
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/me" {
		t.Fatalf("callback: %d %q\n%s", resp.StatusCode, resp.Header.Get("Location"), p.app.logs)
	}
	resp = get(t, jar, p.app.base+"/me")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/me: %d", resp.StatusCode)
	}
	return resp.body
}

// startLogin opens the app's /login and returns the authorization request.
func (a *app) startLogin(t *testing.T, jar http.CookieJar) string {
	t.Helper()
	resp := get(t, jar, a.base+"/login?return_to=/me")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

// providerLogin signs alice in at p's provider, reached at its issuer's origin
// through testenv's transport only, and returns the callback URL.
func (p *pool) providerLogin(t *testing.T, jar http.CookieJar, authURL string) *url.URL {
	t.Helper()
	cb, err := testenv.ProviderLoginHTTP(t.Context(), &http.Client{Jar: jar, Transport: p.op.Transport()}, authURL, "alice")
	if err != nil {
		t.Fatalf("provider login: %v\n%s", err, p.op.Logs())
	}
	return cb
}

type response struct {
	*http.Response
	body string
}

// get GETs an app URL with jar, following no redirect.
func get(t *testing.T, jar http.CookieJar, u string) response {
	t.Helper()
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp, string(b)}
}

// claim reads a string claim of a JWT the test trusts (no verification).
func claim(t *testing.T, tok, name string) string {
	t.Helper()
	var c map[string]any
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatal("not a compact JWS")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	s, _ := c[name].(string)
	return s
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// recorder records the URLs of the requests it carries.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.seen = append(r.seen, req.URL.String())
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

func (r *recorder) urls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// alias sends requests under the issuer from to the same path under the
// issuer to, through next: the provider of to answers for from.
type alias struct {
	from, to string
	next     http.RoundTripper
}

func (a alias) RoundTrip(req *http.Request) (*http.Response, error) {
	rest, ok := strings.CutPrefix(req.URL.String(), a.from+"/")
	if !ok {
		return nil, errors.New("alias: not under " + a.from)
	}
	u, err := url.Parse(a.to + "/" + rest)
	if err != nil {
		return nil, err
	}
	out := req.Clone(req.Context())
	out.URL, out.Host = u, u.Host
	resp, err := a.next.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	resp.Request = req
	return resp, nil
}

// logBuffer is a log sink the test reads while the servers write.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
