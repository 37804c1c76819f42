package authflow_test

// The login flow with private_key_jwt client authentication, end to end
// against the real OpenID provider (node oidc-provider, started by
// internal/testenv; install it with scripts/deps.sh): the code exchange and
// the refresh at the token endpoint, and the revocation at logout, each
// carrying a client assertion instead of a secret.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pubauth/awsauth/authflow"
	"github.com/pubauth/awsauth/internal/clientauth"
	"github.com/pubauth/awsauth/internal/testenv"
)

// syncBuf is a log sink safe for the handler's goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestPrivateKeyJWTLoginFlow(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "web-key-1", Use: "sig", Algorithm: "ES256"}}})
	require.NoError(t, err)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base := "http://" + ln.Addr().String()
	op, err := testenv.StartOIDC(t.Context(), testenv.OIDCConfig{Clients: []testenv.OIDCClient{{
		ID: "web-jwt", JWKS: jwks, RedirectURIs: []string{base + "/callback"}, PostLogoutRedirectURIs: []string{base + "/"},
	}}})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Stop() })

	// The app's clock runs ahead while jumped, until the provider has been
	// asked for new tokens (whose lifetime counts from real time).
	var mu sync.Mutex
	var jumpUntil int64
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		if op.TokenRequests() < jumpUntil {
			return time.Now().Add(9*time.Minute + 30*time.Second)
		}
		return time.Now()
	}
	logs := &syncBuf{}
	h, err := authflow.New(t.Context(), authflow.Config{
		Issuer:               op.Issuer,
		ClientID:             "web-jwt",
		ClientAssertionKey:   key,
		ClientAssertionKeyID: "web-key-1",
		RedirectURL:          base + "/callback",
		CookieKeys:           [][]byte{bytes.Repeat([]byte{9}, 32)},
		Logger:               slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:                  now,
	})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/login", h.Login())
	mux.Handle("/callback", h.Callback())
	mux.Handle("/logout", h.Logout())
	mux.Handle("/me", h.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := authflow.SessionFrom(r.Context())
		json.NewEncoder(w).Encode(map[string]string{"sub": s.Subject, "id": s.ID, "csrf": h.CSRFToken(r)})
	})))
	var handler atomic.Value // the app's routes, swapped by a subtest
	handler.Store(http.Handler(mux))
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.Load().(http.Handler).ServeHTTP(w, r)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) *http.Response {
		t.Helper()
		resp, err := browser.Get(u)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	me := func() map[string]string {
		t.Helper()
		resp := get(base + "/me")
		require.Equal(t, http.StatusOK, resp.StatusCode, logs.String())
		var v map[string]string
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
		return v
	}

	// Login: the code exchange authenticates with an assertion.
	resp := get(base + "/login?return_to=/me")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	cb, err := testenv.ProviderLoginHTTP(t.Context(), browser, resp.Header.Get("Location"), "alice")
	require.NoError(t, err, op.Logs())
	resp = get(cb.String())
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, logs.String()+op.Logs())
	assert.EqualValues(t, 1, op.TokenRequests())
	session := me()
	assert.Equal(t, "alice", session["sub"])

	// Refresh: near expiry the next request refreshes, with an assertion.
	mu.Lock()
	jumpUntil = op.TokenRequests() + 1
	mu.Unlock()
	assert.Equal(t, "alice", me()["sub"])
	assert.EqualValues(t, 2, op.TokenRequests(), "one refresh at the token endpoint")
	assert.Contains(t, logs.String(), "tokens refreshed")

	tokens, err := h.Tokens(t.Context(), session["id"])
	require.NoError(t, err)
	require.NotEmpty(t, tokens.RefreshToken)

	// Logout: revocation authenticates with an assertion too.
	form := url.Values{authflow.CSRFField: {session["csrf"]}}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/logout", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err = browser.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, logs.String())
	assert.NotContains(t, logs.String(), "revocation failed", op.Logs())

	// The provider revoked the refresh token: redeeming it now fails, even
	// with valid client authentication.
	var d struct {
		TokenEndpoint string `json:"token_endpoint"`
	}
	dr, err := http.Get(op.Issuer + "/.well-known/openid-configuration")
	require.NoError(t, err)
	json.NewDecoder(dr.Body).Decode(&d)
	dr.Body.Close()
	signer, err := clientauth.NewSigner("web-jwt", key, "web-key-1", nil)
	require.NoError(t, err)
	rp := oauth2.Config{ClientID: "web-jwt", Endpoint: oauth2.Endpoint{TokenURL: d.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams}}
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, &http.Client{Transport: signer.Transport(nil, d.TokenEndpoint)})
	_, err = rp.TokenSource(ctx, &oauth2.Token{RefreshToken: tokens.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "invalid_grant", re.ErrorCode)

	t.Run("a key the provider does not know fails the login", func(t *testing.T) {
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		h2, err := authflow.New(t.Context(), authflow.Config{
			Issuer: op.Issuer, ClientID: "web-jwt", ClientAssertionKey: other, ClientAssertionKeyID: "web-key-1",
			RedirectURL: base + "/callback", CookieKeys: [][]byte{bytes.Repeat([]byte{9}, 32)},
			Logger: slog.New(slog.DiscardHandler),
		})
		require.NoError(t, err)
		mux2 := http.NewServeMux()
		mux2.Handle("/login", h2.Login())
		mux2.Handle("/callback", h2.Callback())
		handler.Store(http.Handler(mux2))
		t.Cleanup(func() { handler.Store(http.Handler(mux)) })
		jar, _ := cookiejar.New(nil)
		browser.Jar = jar
		resp := get(base + "/login?return_to=/me")
		cb, err := testenv.ProviderLoginHTTP(t.Context(), browser, resp.Header.Get("Location"), "bob")
		require.NoError(t, err)
		resp = get(cb.String())
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "invalid_client from the token endpoint")
	})
}

func TestClientAssertionKeyConfig(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	base := authflow.Config{
		Issuer: "https://op.example.com", ClientID: "c", RedirectURL: "https://app.example.com/callback",
		ClientAssertionKey: key, CookieKeys: [][]byte{bytes.Repeat([]byte{1}, 32)},
	}
	for name, mod := range map[string]func(*authflow.Config){
		"with a client secret": func(c *authflow.Config) { c.ClientSecret = "s" },
		"at Cognito": func(c *authflow.Config) {
			c.Issuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"
		},
		"with Cognito endpoints": func(c *authflow.Config) { c.Cognito = &authflow.Cognito{Domain: "auth.example.com"} },
		"a key id without a key": func(c *authflow.Config) { c.ClientAssertionKey, c.ClientAssertionKeyID = nil, "k" },
	} {
		t.Run(name, func(t *testing.T) {
			c := base
			mod(&c)
			_, err := authflow.New(t.Context(), c)
			assert.ErrorContains(t, err, "invalid config")
		})
	}
}
