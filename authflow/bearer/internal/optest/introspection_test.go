package optest

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/pubauth/awsauth/authflow/bearer"
	"github.com/pubauth/awsauth/internal/testenv"
)

const (
	appID, appSecret = "app", "app-secret"
	rsID, rsSecret   = "orders-api", "orders-api-secret" // the resource server, a client of its own
	redirectURI      = "http://127.0.0.1:1/cb"
)

// clock is the revocation cache's clock, moved by the test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// login signs alice in at the provider (authorization code with PKCE) and
// returns the token response; extra parameters go to the authorization request.
func login(t *testing.T, p *oidc.Provider, extra ...oauth2.AuthCodeOption) *oauth2.Token {
	t.Helper()
	ctx := t.Context()
	conf := oauth2.Config{
		ClientID: appID, ClientSecret: appSecret, RedirectURL: redirectURI, Scopes: []string{oidc.ScopeOpenID},
		Endpoint: p.Endpoint(),
	}
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("state-1", append(extra, oauth2.S256ChallengeOption(verifier))...)
	cb, err := testenv.ProviderLoginHTTP(ctx, nil, authURL, "alice")
	if err != nil {
		t.Fatal(err)
	}
	code := cb.Query().Get("code")
	if code == "" {
		t.Fatalf("no code in the callback: %s", cb.Query())
	}
	tok, err := conf.Exchange(ctx, code, append(extra, oauth2.VerifierOption(verifier))...)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// revoke revokes token at the provider's revocation endpoint (RFC 7009 §2.1) as the app.
func revoke(t *testing.T, endpoint, token string) {
	t.Helper()
	ctx := t.Context()
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(appID, appSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revocation: %s", resp.Status)
	}
}

// TestIntrospectionOIDCProvider: against oidc-provider, the introspection
// endpoint found by discovery answers active for alice's access token; once
// the app revokes that token at the revocation endpoint, the provider
// answers inactive and the RevocationCheck refuses the token
// (ErrTokenRevoked) as soon as its TTL has passed on the check's clock,
// never later. A JWT access token, which oidc-provider refuses to
// introspect, is a fault (ErrRevocationUnavailable: 503 closed).
func TestIntrospectionOIDCProvider(t *testing.T) {
	ctx := t.Context()
	op, err := testenv.StartOIDC(ctx, testenv.OIDCConfig{Clients: []testenv.OIDCClient{
		{ID: appID, Secret: appSecret, RedirectURIs: []string{redirectURI}},
		{ID: rsID, Secret: rsSecret, RedirectURIs: []string{"http://127.0.0.1:1/unused"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := op.Stop(); err != nil {
			t.Errorf("stop provider: %v", err)
		}
		if t.Failed() {
			t.Logf("oidc-provider output:\n%s", op.Logs())
		}
	})
	p, err := oidc.NewProvider(ctx, op.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Revocation string `json:"revocation_endpoint"`
	}
	if err := p.Claims(&meta); err != nil || meta.Revocation == "" {
		t.Fatalf("no revocation_endpoint: %v", err)
	}

	in, err := bearer.NewIntrospection(ctx, bearer.IntrospectionConfig{Issuer: op.Issuer, ClientID: rsID, ClientSecret: rsSecret})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(in.Endpoint(), op.Issuer+"/") {
		t.Errorf("introspection endpoint %q is not the provider's", in.Endpoint())
	}
	const ttl = 20 * time.Second
	clk := &clock{now: time.Now()}
	rc, err := bearer.NewRevocationCheck(bearer.RevocationConfig{
		Checker: in, TTL: ttl, Now: clk.Now, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}

	tok := login(t, p)
	if strings.Count(tok.AccessToken, ".") == 2 {
		t.Fatal("the provider issued a JWT access token; this test needs an opaque one")
	}
	// Verifier verifies JWTs only: an opaque token's claims are what the token response says.
	claims := &bearer.Claims{Issuer: op.Issuer, Expiry: tok.Expiry}
	if err := rc.Check(ctx, tok.AccessToken, claims); err != nil {
		t.Fatalf("active token: %v", err)
	}

	revoke(t, meta.Revocation, tok.AccessToken)
	if err := in.Active(ctx, tok.AccessToken, claims); !errors.Is(err, bearer.ErrTokenRevoked) {
		t.Fatalf("the provider, asked directly after revocation: %v, want ErrTokenRevoked", err)
	}
	clk.Add(ttl - time.Second)
	if err := rc.Check(ctx, tok.AccessToken, claims); err != nil {
		t.Fatalf("within TTL, the cached answer: %v", err)
	}
	clk.Add(time.Second)
	if err := rc.Check(ctx, tok.AccessToken, claims); !errors.Is(err, bearer.ErrTokenRevoked) || !errors.Is(err, bearer.ErrInvalidToken) {
		t.Fatalf("at TTL after the revocation: %v, want ErrTokenRevoked", err)
	}

	// A JWT access token (resource indicator): oidc-provider won't introspect it.
	jwtTok := login(t, p, oauth2.SetAuthURLParam("resource", testenv.DefaultAPIResource))
	if strings.Count(jwtTok.AccessToken, ".") != 2 {
		t.Fatal("no JWT access token for the API resource")
	}
	err = rc.Check(ctx, jwtTok.AccessToken, &bearer.Claims{Issuer: op.Issuer, Expiry: jwtTok.Expiry})
	if !errors.Is(err, bearer.ErrRevocationUnavailable) {
		t.Fatalf("a JWT at oidc-provider's introspection: %v, want ErrRevocationUnavailable", err)
	}
	for _, s := range []string{tok.AccessToken, jwtTok.AccessToken} {
		if strings.Contains(err.Error(), s) {
			t.Error("an error holds a token")
		}
	}
}
