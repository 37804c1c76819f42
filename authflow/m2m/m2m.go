package m2m

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/sync/singleflight"

	"github.com/pubauth/awsauth/internal/clientauth"
	"github.com/pubauth/awsauth/internal/cognito"
	"github.com/pubauth/awsauth/internal/expiry"
	"github.com/pubauth/awsauth/internal/httpx"
)

// Config configures a Source. New validates all of it up front.
type Config struct {
	// TokenURL is the token endpoint (RFC 6749 §3.2); for Cognito,
	// CognitoTokenURL(domain). Set TokenURL, Issuer or Fetch: exactly one.
	TokenURL string

	// Issuer is an OpenID provider's issuer URL: New reads token_endpoint
	// (and, with ClientAssertionKey, the supported client authentication
	// methods) from its discovery document, whose issuer must equal it
	// exactly (OpenID Connect Discovery 1.0 §4.3).
	Issuer string

	// Fetch, when set, gets a token instead of a token endpoint request: for
	// example a call to Cognito's GetClientToken API through your
	// cognitoidentityprovider client (see the package doc). It returns the
	// access token and its Expiry (zero means it never expires), and is
	// called under the same single flight, Timeout and ExpiryWindow. With
	// Fetch, ClientID and the client authentication fields are not used.
	Fetch func(ctx context.Context) (*oauth2.Token, error)

	// ClientID is the OAuth 2.0 client (Cognito: app client) id.
	ClientID string

	// ClientSecret authenticates the client with HTTP Basic
	// (client_secret_basic, RFC 6749 §2.3.1), as Cognito requires.
	ClientSecret string

	// ClientAssertionKey, instead of ClientSecret, authenticates the client
	// with private_key_jwt (RFC 7523 §2.2, OpenID Connect Core 1.0 §9): RSA
	// (RS256, 2048 bits or more), ECDSA P-256/P-384/P-521 (ES256/384/512) or
	// Ed25519 (EdDSA). Any crypto.Signer works, a KMS-held key included.
	// Cognito does not support it.
	ClientAssertionKey crypto.Signer

	// ClientAssertionKeyID is the kid under which the provider knows
	// ClientAssertionKey's public key (in the client's registered jwks or
	// jwks_uri). Empty sends no kid.
	ClientAssertionKeyID string

	// Scopes requested (RFC 6749 §3.3), such as Cognito resource server
	// scopes "orders/read". Empty sends no scope: the provider's default
	// (Cognito: every custom scope the app client may have).
	Scopes []string

	// EndpointParams are extra token request parameters, such as "resource"
	// (RFC 8707) or Auth0's "audience". They can't set grant_type, scope,
	// or client authentication.
	EndpointParams url.Values

	// ExpiryWindow is how long before the token expires it is refreshed: at
	// most half the token's lifetime as issued, so that a short-lived token
	// is not fetched on every call. Default 1 minute.
	ExpiryWindow time.Duration

	// Timeout bounds one token request. It is independent of the callers'
	// contexts, so one caller giving up does not fail the others sharing
	// the request. Default 15s.
	Timeout time.Duration

	// HTTPClient is used for discovery and token requests. Redirects are
	// never followed: a 307 from a token endpoint would re-send the client
	// credentials elsewhere. Nil means a client with a 10s timeout.
	HTTPClient *http.Client

	// Logger receives operational events. Tokens, secrets and assertions are
	// never logged. Nil means slog.Default().
	Logger *slog.Logger

	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

const (
	defaultExpiryWindow = time.Minute
	defaultTimeout      = 15 * time.Second
)

// reservedParams are set by the grant or by client authentication.
var reservedParams = []string{
	"grant_type", "scope", "client_id", "client_secret", "client_assertion", "client_assertion_type",
}

// Source returns access tokens from the client credentials grant, cached
// until ExpiryWindow before they expire. It is safe for concurrent use.
// Create it with New.
type Source struct {
	cfg    Config
	fetch  func(ctx context.Context) (*oauth2.Token, error)
	flight singleflight.Group

	mu     sync.Mutex
	tok    *oauth2.Token
	issued time.Time // when tok came back from the token endpoint
}

// New validates cfg and returns a Source. With Config.Issuer it fetches
// the discovery document, under ctx; otherwise it does no I/O. It requests
// no token: the first Token call does.
func New(ctx context.Context, cfg Config) (*Source, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Source{cfg: cfg}
	if cfg.Fetch != nil {
		s.fetch = func(ctx context.Context) (*oauth2.Token, error) {
			t, err := cfg.Fetch(ctx)
			if err != nil {
				return nil, fmt.Errorf("m2m: Fetch: %w", err)
			}
			return t, nil
		}
		return s, nil
	}
	client := httpx.NoRedirectClient(cfg.HTTPClient)

	var signer *clientauth.Signer
	if cfg.ClientAssertionKey != nil {
		signer, err = clientauth.NewSigner(cfg.ClientID, cfg.ClientAssertionKey, cfg.ClientAssertionKeyID, cfg.Now)
		if err != nil {
			return nil, fmt.Errorf("m2m: %w", err)
		}
	}
	tokenURL := cfg.TokenURL
	if cfg.Issuer != "" {
		p, err := oidc.NewProvider(oidc.ClientContext(ctx, client), cfg.Issuer)
		if err != nil {
			return nil, fmt.Errorf("m2m: discovery: %w", err)
		}
		var meta struct {
			TokenEndpoint string   `json:"token_endpoint"`
			AuthMethods   []string `json:"token_endpoint_auth_methods_supported"`
			AuthAlgs      []string `json:"token_endpoint_auth_signing_alg_values_supported"`
		}
		if err := p.Claims(&meta); err != nil {
			return nil, fmt.Errorf("m2m: discovery document: %w", err)
		}
		if meta.TokenEndpoint == "" {
			return nil, errors.New("m2m: the discovery document has no token_endpoint")
		}
		if err := httpx.CheckEndpoint("token_endpoint", meta.TokenEndpoint); err != nil {
			return nil, fmt.Errorf("m2m: discovery: %w", err)
		}
		if signer != nil {
			if err := signer.CheckProvider(meta.AuthMethods, meta.AuthAlgs); err != nil {
				return nil, fmt.Errorf("m2m: %w", err)
			}
		}
		tokenURL = meta.TokenEndpoint
	}

	cc := &clientcredentials.Config{
		ClientID:       cfg.ClientID,
		ClientSecret:   cfg.ClientSecret,
		TokenURL:       tokenURL,
		Scopes:         cfg.Scopes,
		EndpointParams: cfg.EndpointParams,
		AuthStyle:      oauth2.AuthStyleInHeader,
	}
	if signer != nil {
		// The assertion travels in the form; client_id too (RFC 7521 §4.2).
		cc.AuthStyle = oauth2.AuthStyleInParams
		client.Transport = signer.Transport(client.Transport, tokenURL)
	}
	s.fetch = func(ctx context.Context) (*oauth2.Token, error) {
		t, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, client))
		if err != nil {
			return nil, &tokenError{err}
		}
		return t, nil
	}
	return s, nil
}

func (c Config) withDefaults() (Config, error) {
	var errs []error
	set := 0
	for _, v := range []bool{c.TokenURL != "", c.Issuer != "", c.Fetch != nil} {
		if v {
			set++
		}
	}
	if set != 1 {
		errs = append(errs, errors.New("set exactly one of TokenURL, Issuer and Fetch"))
	}
	if c.TokenURL != "" {
		if err := httpx.CheckEndpoint("TokenURL", c.TokenURL); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Issuer != "" {
		if err := httpx.CheckEndpoint("Issuer", c.Issuer); err != nil {
			errs = append(errs, err)
		} else if err := cognito.CheckIssuer(c.Issuer); err != nil {
			errs = append(errs, err)
		} else if _, ok := cognito.ParseIssuer(c.Issuer); ok {
			// Cognito's discovery document names the user pool's token
			// endpoint only when it has a domain; the domain is not derivable.
			errs = append(errs, errors.New("for a Cognito user pool set TokenURL to CognitoTokenURL(domain), not Issuer"))
		}
	}
	if c.Fetch == nil {
		if c.ClientID == "" {
			errs = append(errs, errors.New("missing ClientID"))
		}
		switch {
		case c.ClientSecret != "" && c.ClientAssertionKey != nil:
			errs = append(errs, errors.New("set ClientSecret or ClientAssertionKey, not both"))
		case c.ClientSecret == "" && c.ClientAssertionKey == nil:
			errs = append(errs, errors.New("the client credentials grant needs ClientSecret or ClientAssertionKey"))
		}
	}
	for _, k := range reservedParams {
		if c.EndpointParams.Has(k) {
			errs = append(errs, fmt.Errorf("EndpointParams may not set %q", k))
		}
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"ExpiryWindow", &c.ExpiryWindow, defaultExpiryWindow},
		{"Timeout", &c.Timeout, defaultTimeout},
	} {
		switch {
		case *d.v < 0:
			errs = append(errs, fmt.Errorf("%s must not be negative", d.name))
		case *d.v == 0:
			*d.v = d.def
		}
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("m2m: invalid config: %w", errors.Join(errs...))
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// Token returns a valid access token: the cached one, or, within
// ExpiryWindow of its expiry, a new one from a token request that all
// concurrent callers share. ctx bounds this call's wait only; the request
// runs under Timeout with ctx's values but not its cancellation.
//
// When a refresh fails and the cached token has not expired yet, Token logs
// a warning and returns the cached token; the next call tries again.
// Otherwise it returns the error: a failed token request's wraps the
// *oauth2.RetrieveError (RFC 6749 §5.2 error code) when the endpoint
// answered, and its message never holds the response body; ctx.Err() when
// ctx ends first. The returned token is the caller's own copy.
func (s *Source) Token(ctx context.Context) (*oauth2.Token, error) {
	if t := s.current(true); t != nil {
		return t, nil
	}
	ch := s.flight.DoChan("token", func() (any, error) {
		if t := s.current(true); t != nil {
			return t, nil // refreshed by a flight that ended just now
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Timeout)
		defer cancel()
		return s.refresh(rctx)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			if t := s.current(false); t != nil {
				s.cfg.Logger.Warn("m2m: token refresh failed; using the current token until it expires", "error", res.Err)
				return t, nil
			}
			return nil, res.Err
		}
		t := *res.Val.(*oauth2.Token)
		return &t, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// current returns a copy of the cached token if it is valid: unexpired,
// and, with early, outside its refresh window. Nil otherwise.
func (s *Source) current(early bool) *oauth2.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok == nil {
		return nil
	}
	if exp := s.tok.Expiry; !exp.IsZero() {
		var w time.Duration
		if early {
			w = expiry.Window(s.cfg.ExpiryWindow, s.issued, exp)
		}
		if !s.cfg.Now().Add(w).Before(exp) {
			return nil
		}
	}
	t := *s.tok
	return &t
}

func (s *Source) refresh(ctx context.Context) (*oauth2.Token, error) {
	issued := s.cfg.Now()
	t, err := s.fetch(ctx)
	if err != nil {
		return nil, err
	}
	if t == nil || t.AccessToken == "" {
		return nil, errors.New("m2m: token response has no access_token")
	}
	if t.TokenType != "" && !strings.EqualFold(t.TokenType, "bearer") {
		return nil, fmt.Errorf("m2m: token_type %q is not Bearer", t.TokenType)
	}
	t.TokenType = "Bearer"
	s.mu.Lock()
	s.tok, s.issued = t, issued
	s.mu.Unlock()
	s.cfg.Logger.Debug("m2m: token obtained", "expiry", t.Expiry)
	return t, nil
}

// tokenError is a failed token request. Its message summarizes the failure
// without the response body (which oauth2.RetrieveError prints); errors.As
// still finds the *oauth2.RetrieveError with the RFC 6749 §5.2 fields.
type tokenError struct{ err error }

func (e *tokenError) Error() string { return "m2m: token request: " + httpx.DescribeTokenError(e.err) }
func (e *tokenError) Unwrap() error { return e.err }

// Transport returns an http.RoundTripper that sends each request through
// base (nil means http.DefaultTransport) with "Authorization: Bearer" and a
// token from Token, under the request's own context. The caller's request
// is not changed. A request that already has an Authorization header is
// sent as it is.
func (s *Source) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{s: s, base: base}
}

type transport struct {
	s    *Source
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Authorization") != "" {
		return t.base.RoundTrip(req)
	}
	tok, err := t.s.Token(req.Context())
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	out := req.Clone(req.Context())
	tok.SetAuthHeader(out)
	return t.base.RoundTrip(out)
}

// TokenSource adapts s to oauth2.TokenSource for APIs that take one
// (oauth2.NewClient, gRPC's oauth.TokenSource): each Token call uses ctx,
// so pass a context that lives as long as the TokenSource, such as the
// service's. Prefer Source.Token or Source.Transport, which take the
// context of each call.
func (s *Source) TokenSource(ctx context.Context) oauth2.TokenSource {
	return tokenSource{s: s, ctx: ctx}
}

type tokenSource struct {
	s   *Source
	ctx context.Context // the caller's choice, documented on TokenSource
}

func (ts tokenSource) Token() (*oauth2.Token, error) { return ts.s.Token(ts.ctx) }

// CognitoTokenURL returns the token endpoint of an Amazon Cognito user pool
// domain: https://<domain>/oauth2/token. domain is a prefix domain
// ("myapp.auth.eu-west-1.amazoncognito.com"), a custom domain
// ("auth.example.com") or a base URL. See
// https://docs.aws.amazon.com/cognito/latest/developerguide/token-endpoint.html.
func CognitoTokenURL(domain string) string { return cognito.DomainURL(domain) + "/oauth2/token" }
