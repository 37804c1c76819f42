package m2m

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

// tokenEndpoint is a token endpoint the test programs: it counts requests,
// can hold them until released, and answers with the next response.
type tokenEndpoint struct {
	srv      *httptest.Server
	requests atomic.Int64
	hold     chan struct{} // when non-nil, each request waits for a receive
	mu       sync.Mutex
	status   int
	body     string
	last     *http.Request
	lastForm url.Values
}

func newTokenEndpoint(t *testing.T) *tokenEndpoint {
	e := &tokenEndpoint{status: http.StatusOK}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := e.requests.Add(1)
		r.ParseForm()
		e.mu.Lock()
		e.last, e.lastForm = r, r.PostForm
		status, body, hold := e.status, e.body, e.hold
		e.mu.Unlock()
		if hold != nil {
			<-hold
		}
		if body == "" {
			body = fmt.Sprintf(`{"access_token":"at-%d","token_type":"Bearer","expires_in":600}`, n)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *tokenEndpoint) answer(status int, body string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.status, e.body = status, body
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newSource(t *testing.T, e *tokenEndpoint, mods ...func(*Config)) (*Source, *clock, *bytes.Buffer) {
	t.Helper()
	// x/oauth2 computes Expiry from expires_in with the real clock.
	clk := &clock{now: time.Now()}
	logs := &bytes.Buffer{}
	cfg := Config{
		TokenURL:     e.srv.URL + "/oauth2/token",
		ClientID:     "svc",
		ClientSecret: "s3cret",
		Scopes:       []string{"orders/read"},
		Now:          clk.Now,
		Logger:       slog.New(slog.NewTextHandler(logs, nil)),
	}
	for _, m := range mods {
		m(&cfg)
	}
	s, err := New(t.Context(), cfg)
	require.NoError(t, err)
	return s, clk, logs
}

func TestTokenRequestShape(t *testing.T) {
	e := newTokenEndpoint(t)
	s, _, _ := newSource(t, e, func(c *Config) { c.EndpointParams = url.Values{"resource": {"https://api.example.com"}} })
	tok, err := s.Token(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "at-1", tok.AccessToken)
	assert.Equal(t, "Bearer", tok.TokenType)

	id, secret, ok := e.last.BasicAuth()
	assert.True(t, ok, "Cognito wants client_secret_basic")
	assert.Equal(t, "svc", id)
	assert.Equal(t, "s3cret", secret)
	assert.Equal(t, "client_credentials", e.lastForm.Get("grant_type"))
	assert.Equal(t, "orders/read", e.lastForm.Get("scope"))
	assert.Equal(t, "https://api.example.com", e.lastForm.Get("resource"))
	assert.False(t, e.lastForm.Has("client_secret"))
}

func TestConcurrentCallersShareOneRequest(t *testing.T) {
	e := newTokenEndpoint(t)
	e.hold = make(chan struct{})
	s, _, _ := newSource(t, e)

	var wg sync.WaitGroup
	toks := make([]string, 100)
	errs := make([]error, 100)
	for i := range 100 {
		wg.Go(func() {
			tok, err := s.Token(t.Context())
			errs[i] = err
			if err == nil {
				toks[i] = tok.AccessToken
			}
		})
	}
	close(e.hold) // whoever is waiting, and whoever comes later, gets the one token
	wg.Wait()
	for i := range 100 {
		require.NoError(t, errs[i])
		assert.Equal(t, "at-1", toks[i])
	}
	assert.EqualValues(t, 1, e.requests.Load())
}

func TestEarlyRefresh(t *testing.T) {
	e := newTokenEndpoint(t)
	s, clk, _ := newSource(t, e, func(c *Config) { c.ExpiryWindow = 2 * time.Minute })
	tok, err := s.Token(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "at-1", tok.AccessToken)

	clk.add(7 * time.Minute) // 3 minutes left: outside the window
	tok, _ = s.Token(t.Context())
	assert.Equal(t, "at-1", tok.AccessToken)
	assert.EqualValues(t, 1, e.requests.Load())

	clk.add(90 * time.Second) // 90 s left: inside the window, still valid
	tok, err = s.Token(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "at-2", tok.AccessToken, "refreshed before it expired")
	assert.EqualValues(t, 2, e.requests.Load())

	t.Run("the window is at most half the token's lifetime", func(t *testing.T) {
		e := newTokenEndpoint(t)
		e.answer(http.StatusOK, `{"access_token":"short","token_type":"Bearer","expires_in":60}`)
		s, clk, _ := newSource(t, e, func(c *Config) { c.ExpiryWindow = 5 * time.Minute })
		for range 3 {
			_, err := s.Token(t.Context())
			require.NoError(t, err)
		}
		assert.EqualValues(t, 1, e.requests.Load(), "a 60 s token is not refetched on every call")
		clk.add(31 * time.Second)
		_, err := s.Token(t.Context())
		require.NoError(t, err)
		assert.EqualValues(t, 2, e.requests.Load())
	})
}

func TestRefreshFailure(t *testing.T) {
	e := newTokenEndpoint(t)
	s, clk, logs := newSource(t, e)
	_, err := s.Token(t.Context())
	require.NoError(t, err)

	e.answer(http.StatusBadRequest, `{"error":"invalid_client","error_description":"secret-ish detail"}`)
	clk.add(9*time.Minute + 30*time.Second) // in the window, not expired
	tok, err := s.Token(t.Context())
	require.NoError(t, err, "the current token serves while the refresh fails")
	assert.Equal(t, "at-1", tok.AccessToken)
	assert.Contains(t, logs.String(), "token refresh failed")
	assert.NotContains(t, logs.String(), "at-1")
	assert.NotContains(t, logs.String(), "secret-ish detail")

	clk.add(time.Minute) // expired
	_, err = s.Token(t.Context())
	require.Error(t, err)
	var re *oauth2.RetrieveError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "invalid_client", re.ErrorCode)
	assert.NotContains(t, err.Error(), "secret-ish detail", "the response body stays out of the message")
	assert.EqualValues(t, 3, e.requests.Load(), "failures are not cached: each call tries again")

	e.answer(http.StatusOK, "")
	tok, err = s.Token(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "at-4", tok.AccessToken)
}

func TestRefusedResponses(t *testing.T) {
	for name, body := range map[string]string{
		"token_type DPoP":   `{"access_token":"x","token_type":"DPoP","expires_in":60}`,
		"no access_token":   `{"token_type":"Bearer","expires_in":60}`,
		"HTML":              `<html>`,
		"error with 200 OK": `{"error":"invalid_grant"}`,
	} {
		t.Run(name, func(t *testing.T) {
			e := newTokenEndpoint(t)
			e.answer(http.StatusOK, body)
			s, _, _ := newSource(t, e)
			_, err := s.Token(t.Context())
			assert.Error(t, err)
		})
	}
}

func TestCallerContext(t *testing.T) {
	e := newTokenEndpoint(t)
	e.hold = make(chan struct{})
	s, _, _ := newSource(t, e)

	ctx, cancel := context.WithCancel(t.Context())
	first := make(chan error, 1)
	go func() {
		_, err := s.Token(ctx)
		first <- err
	}()
	second := make(chan string, 1)
	go func() {
		// Joins the flight the first caller started, or starts it.
		tok, err := s.Token(t.Context())
		if err != nil {
			second <- err.Error()
			return
		}
		second <- tok.AccessToken
	}()
	cancel()
	assert.ErrorIs(t, <-first, context.Canceled, "a caller's ctx bounds its own wait")
	close(e.hold)
	assert.Equal(t, "at-1", <-second, "one caller giving up does not fail the request the others share")
}

func TestTransportAndTokenSource(t *testing.T) {
	e := newTokenEndpoint(t)
	s, _, _ := newSource(t, e)
	var auth atomic.Value
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
	}))
	defer api.Close()

	c := &http.Client{Transport: s.Transport(nil)}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, api.URL, nil)
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "Bearer at-1", auth.Load())
	assert.Empty(t, req.Header.Get("Authorization"), "the caller's request is not changed")

	tok, err := s.TokenSource(t.Context()).Token()
	require.NoError(t, err)
	assert.Equal(t, "at-1", tok.AccessToken)
	assert.EqualValues(t, 1, e.requests.Load())
}

func TestPrivateKeyJWTRequest(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	e := newTokenEndpoint(t)
	s, _, _ := newSource(t, e, func(c *Config) {
		c.ClientSecret = ""
		c.ClientAssertionKey, c.ClientAssertionKeyID = key, "k1"
	})
	_, err = s.Token(t.Context())
	require.NoError(t, err)
	_, _, basic := e.last.BasicAuth()
	assert.False(t, basic)
	assert.Equal(t, "svc", e.lastForm.Get("client_id"))
	assert.Equal(t, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", e.lastForm.Get("client_assertion_type"))
	assert.Equal(t, 3, len(strings.Split(e.lastForm.Get("client_assertion"), ".")))
}

func TestFetch(t *testing.T) {
	var calls atomic.Int64
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	s, err := New(t.Context(), Config{
		Fetch: func(ctx context.Context) (*oauth2.Token, error) {
			n := calls.Add(1)
			if n == 3 {
				return nil, errors.New("NotAuthorizedException")
			}
			return &oauth2.Token{AccessToken: fmt.Sprint("gct-", n), Expiry: clk.Now().Add(time.Hour)}, nil
		},
		Now: clk.Now,
	})
	require.NoError(t, err)
	tok, err := s.Token(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "gct-1", tok.AccessToken)
	assert.Equal(t, "Bearer", tok.TokenType)
	clk.add(59*time.Minute + 30*time.Second)
	tok, _ = s.Token(t.Context())
	assert.Equal(t, "gct-2", tok.AccessToken)
	clk.add(time.Hour)
	_, err = s.Token(t.Context())
	assert.ErrorContains(t, err, "m2m: Fetch: NotAuthorizedException")
}

func TestConfigRefused(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ok := Config{TokenURL: "https://auth.example.com/oauth2/token", ClientID: "c", ClientSecret: "s"}
	for name, mod := range map[string]func(*Config){
		"no endpoint":         func(c *Config) { c.TokenURL = "" },
		"TokenURL and Issuer": func(c *Config) { c.Issuer = "https://op.example.com" },
		"plain http":          func(c *Config) { c.TokenURL = "http://auth.example.com/oauth2/token" },
		"no client id":        func(c *Config) { c.ClientID = "" },
		"no client auth":      func(c *Config) { c.ClientSecret = "" },
		"secret and key":      func(c *Config) { c.ClientAssertionKey = key },
		"scope in params":     func(c *Config) { c.EndpointParams = url.Values{"scope": {"x"}} },
		"assertion in params": func(c *Config) { c.EndpointParams = url.Values{"client_assertion": {"x"}} },
		"negative window":     func(c *Config) { c.ExpiryWindow = -time.Second },
		"Cognito issuer": func(c *Config) {
			c.TokenURL, c.Issuer = "", "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"
		},
		"Cognito lookalike": func(c *Config) {
			c.TokenURL, c.Issuer = "", "https://cognito-idp.eu-west-1.amazonaws.com.evil.example/eu-west-1_AbC123"
		},
		"Fetch and a TokenURL": func(c *Config) { c.Fetch = func(context.Context) (*oauth2.Token, error) { return nil, nil } },
	} {
		t.Run(name, func(t *testing.T) {
			c := ok
			mod(&c)
			_, err := New(t.Context(), c)
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "s3cret")
		})
	}
	_, err := New(t.Context(), ok)
	assert.NoError(t, err)
}

func TestDiscovery(t *testing.T) {
	e := newTokenEndpoint(t)
	var meta map[string]any
	op := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(meta)
	}))
	defer op.Close()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cfg := Config{Issuer: op.URL, ClientID: "svc", ClientAssertionKey: key}

	meta = map[string]any{"issuer": op.URL, "token_endpoint": e.srv.URL + "/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "private_key_jwt"}}
	s, err := New(t.Context(), cfg)
	require.NoError(t, err)
	_, err = s.Token(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "/token", e.last.URL.Path)

	for name, m := range map[string]map[string]any{
		"another issuer":      {"issuer": op.URL + "/x", "token_endpoint": e.srv.URL + "/token"},
		"no token_endpoint":   {"issuer": op.URL},
		"no private_key_jwt":  {"issuer": op.URL, "token_endpoint": e.srv.URL + "/token", "token_endpoint_auth_methods_supported": []string{"client_secret_basic"}},
		"not the key's alg":   {"issuer": op.URL, "token_endpoint": e.srv.URL + "/token", "token_endpoint_auth_signing_alg_values_supported": []string{"RS256"}},
		"http token endpoint": {"issuer": op.URL, "token_endpoint": "http://op.example.com/token"},
	} {
		meta = m
		_, err := New(t.Context(), cfg)
		assert.Error(t, err, name)
	}
}

func TestCognitoTokenURL(t *testing.T) {
	for in, want := range map[string]string{
		"myapp.auth.eu-west-1.amazoncognito.com": "https://myapp.auth.eu-west-1.amazoncognito.com/oauth2/token",
		"auth.example.com":                       "https://auth.example.com/oauth2/token",
		"https://auth.example.com/":              "https://auth.example.com/oauth2/token",
	} {
		assert.Equal(t, want, CognitoTokenURL(in), in)
	}
}
