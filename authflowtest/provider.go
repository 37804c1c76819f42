package authflowtest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pubauth/awsauth/authflow"
	"github.com/pubauth/awsauth/internal/cognito"
)

// Defaults of Options.
const (
	// DefaultClientID is Options.ClientID's default.
	DefaultClientID = "authflowtest-client"
	// DefaultTokenLifetime is Options.TokenLifetime's default: Amazon
	// Cognito's default for access and ID tokens.
	DefaultTokenLifetime = time.Hour
)

// Options configure NewProvider. The zero value of a field selects its default.
type Options struct {
	// CognitoPool, when set, makes the provider an Amazon Cognito user
	// pool: its issuer is the pool's (authflow.CognitoIssuer), its discovery
	// document and key set are at <issuer>/.well-known/openid-configuration
	// and <issuer>/.well-known/jwks.json, its authorization, token and
	// revocation endpoints and /logout are on the managed login domain
	// (CognitoDomain), and, as Cognito's, its discovery document names no
	// revocation or end-session endpoint (authflow.Config.Cognito supplies
	// them: use Provider.Cognito). Those https URLs are reached only through
	// HTTPClient, which routes them to the provider on loopback. Nil means a
	// generic provider whose issuer is its http://127.0.0.1 URL.
	CognitoPool *authflow.CognitoPool
	// CognitoDomain is the managed login domain with CognitoPool. Default
	// "authflowtest.auth.<region>.amazoncognito.com".
	CognitoDomain string

	// ClientID is the client of minted tokens whose Token.ClientID is empty.
	// Default DefaultClientID. The endpoints take any client id.
	ClientID string
	// Audience, when set, is the aud of access tokens (RFC 9068 §3, the
	// resource server's identifier), which then have a generic provider's
	// RFC 9068 shape: typ at+jwt, aud and client_id, no token_use. Empty
	// means Cognito's shape: no typ, no aud, token_use "access".
	Audience string
	// User is who the authorization endpoint signs in when SignIn did not
	// choose (a test that follows the redirects with its own client).
	// Default User{Subject: "alice"}.
	User User
	// TokenLifetime is the lifetime of access and ID tokens. Default
	// DefaultTokenLifetime.
	TokenLifetime time.Duration
	// RotateRefreshTokens makes each refresh return a new refresh token and
	// retire the one used (Cognito's refresh token rotation, RFC 9700 §4.14.2).
	// Default false: a refresh returns no refresh token, as Cognito's does
	// without rotation, and the old one stays valid.
	RotateRefreshTokens bool
}

// Provider is an OpenID provider (OpenID Connect Core 1.0, OAuth 2.0
// RFC 6749) served by an httptest.Server on loopback for one test, with its
// own signing keys and clock. Create it with NewProvider; it is closed when
// the test ends. It is safe for concurrent use.
type Provider struct {
	t          testing.TB
	opts       Options
	srv        *httptest.Server
	issuer     string // iss of its tokens
	issuerPath string // the path of issuer, "" for a generic provider
	endpoints  string // base URL of authorize, token, revoke and logout
	client     *http.Client

	mu       sync.Mutex
	now      time.Time
	keys     []signingKey // published in the JWKS; the last one signs
	stranger *signingKey  // signs UnknownKey tokens; never published
	codes    map[string]*grant
	refresh  map[string]*grant
	counts   map[string]int // token requests by grant_type
}

// grant is what one authorization (or one client-credentials request) was
// given: the user, the client, the scopes, and the login's parameters.
type grant struct {
	user        User
	clientID    string
	scopes      []string
	redirectURI string
	challenge   string
	nonce       string
	sid         string
	authTime    time.Time
	used        bool // the authorization code has been redeemed
}

// NewProvider starts a provider for the test t, with optFns applied to its
// Options, and closes it when t ends (t.Cleanup). It generates its signing
// key (RSA 2048, RS256), and its clock starts at the current time, to the
// second. It calls t.Fatalf when it can't start.
func NewProvider(t testing.TB, optFns ...func(*Options)) *Provider {
	t.Helper()
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	if o.ClientID == "" {
		o.ClientID = DefaultClientID
	}
	if o.TokenLifetime == 0 {
		o.TokenLifetime = DefaultTokenLifetime
	}
	if o.User.Subject == "" {
		o.User = User{Subject: "alice"}
	}
	p := &Provider{
		t:       t,
		opts:    o,
		now:     time.Now().Truncate(time.Second),
		codes:   map[string]*grant{},
		refresh: map[string]*grant{},
		counts:  map[string]int{},
	}
	k, err := newSigningKey()
	if err != nil {
		t.Fatalf("authflowtest: %v", err)
	}
	p.keys = []signingKey{k}

	// The server starts once its issuer is known: its handlers read it.
	p.srv = httptest.NewUnstartedServer(p.handler())
	t.Cleanup(p.srv.Close)
	srvURL := "http://" + p.srv.Listener.Addr().String()
	hosts := map[string]bool{}
	if pool := o.CognitoPool; pool != nil {
		iss, err := authflow.CognitoIssuer(*pool)
		if err != nil {
			t.Fatalf("authflowtest: %v", err)
		}
		if o.CognitoDomain == "" {
			region, _ := cognito.RegionOf(pool.ID)
			o.CognitoDomain = "authflowtest.auth." + region + ".amazoncognito.com"
			p.opts.CognitoDomain = o.CognitoDomain
		}
		u, _ := url.Parse(iss)
		p.issuer, p.issuerPath = iss, u.Path
		p.endpoints = "https://" + o.CognitoDomain
		hosts[u.Host] = true
		hosts[o.CognitoDomain] = true
	} else {
		p.issuer, p.endpoints = srvURL, srvURL
	}
	hosts[strings.TrimPrefix(srvURL, "http://")] = true
	p.srv.Start()
	p.client = &http.Client{
		Transport: &loopback{hosts: hosts, addr: p.srv.Listener.Addr().String(), next: p.srv.Client().Transport},
		Timeout:   10 * time.Second,
	}
	return p
}

// Issuer is the provider's issuer: iss of its tokens, and the URL to set as
// authflow.Config.Issuer and bearer.Issuer.Issuer.
func (p *Provider) Issuer() string { return p.issuer }

// HTTPClient is the client for the application's configuration
// (authflow.Config.HTTPClient, bearer.Config.HTTPClient): it reaches the
// provider on loopback, its Cognito issuer and domain included, and refuses
// every other host, so a test makes no request beyond the provider.
func (p *Provider) HTTPClient() *http.Client { return p.client }

// Cognito is the authflow.Cognito of a provider made with
// Options.CognitoPool (its managed login domain), for authflow.Config.Cognito;
// nil for a generic provider.
func (p *Provider) Cognito() *authflow.Cognito {
	if p.opts.CognitoPool == nil {
		return nil
	}
	return &authflow.Cognito{Domain: p.opts.CognitoDomain}
}

// Now is the provider's clock: when it issues tokens, and what iat and exp
// count from. Set it as the application's clock (authflow.Config.Now,
// bearer.Config.Now) so that Advance moves both.
func (p *Provider) Now() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.now
}

// Advance moves the provider's clock forward by d: tokens issued before
// expire as if d had passed, with no sleep.
func (p *Provider) Advance(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.now = p.now.Add(d)
}

// RotateKeys makes a new signing key, as a provider rotating its keys does:
// tokens signed from now on carry the new key's kid, and the key set (JWKS)
// publishes it next to the earlier ones, so tokens signed before still
// verify. A verifier that cached the old key set meets an unknown kid and
// refetches it. A verifier on the provider's clock does so at most once per
// its refetch interval (bearer.Config.RefetchInterval, default 10 s; ID
// tokens at the callback always may): Advance past it after a fetch. For a
// key the verifier can't find at all, use UnknownKey.
// Call it from the test's goroutine: it calls t.Fatalf when it fails.
func (p *Provider) RotateKeys() {
	p.t.Helper()
	k, err := newSigningKey()
	if err != nil {
		p.t.Fatalf("authflowtest: %v", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = append(p.keys, k)
}

// GlobalSignOut revokes every refresh token issued to subject, as Cognito's
// GlobalSignOut does: the next refresh of any of the user's sessions gets
// invalid_grant, and the application ends them. Tokens already issued stay
// valid until they expire.
func (p *Provider) GlobalSignOut(subject string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for rt, g := range p.refresh {
		if g.user.Subject == subject {
			delete(p.refresh, rt)
		}
	}
}

// TokenRequests reports how many requests the token endpoint has answered
// with grant_type grantType ("authorization_code", "refresh_token",
// "client_credentials"), successful or not.
func (p *Provider) TokenRequests(grantType string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[grantType]
}

// loopback routes requests for the provider's hosts (its loopback address,
// and with a Cognito pool the issuer's host and the managed login domain)
// to the provider's listener over plain HTTP, and refuses any other host.
type loopback struct {
	hosts map[string]bool
	addr  string
	next  http.RoundTripper
}

func (l *loopback) RoundTrip(r *http.Request) (*http.Response, error) {
	if !l.hosts[r.URL.Host] {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, fmt.Errorf("authflowtest: %s is not the provider's host", r.URL.Host)
	}
	r2 := r.Clone(r.Context())
	r2.URL.Scheme, r2.URL.Host = "http", l.addr
	return l.next.RoundTrip(r2)
}

// userKey carries SignIn's chosen user to the authorization endpoint, which
// SignIn calls in process.
type userKey struct{}

func withUser(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// randomString returns n random bytes, base64url-encoded.
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// signingKey is one of the provider's RSA keys and its kid.
type signingKey struct {
	kid string
	key *rsa.PrivateKey
}

func newSigningKey() (signingKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return signingKey{}, fmt.Errorf("authflowtest: generating a key: %w", err)
	}
	return signingKey{kid: randomString(9), key: k}, nil
}
