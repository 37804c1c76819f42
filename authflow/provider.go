package authflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/pubauth/awsauth/internal/clientauth"
	"github.com/pubauth/awsauth/internal/httpx"
	"github.com/pubauth/awsauth/internal/jwt"
)

// ErrProviderUnavailable wraps the reason the flow can't reach its OpenID
// provider yet: discovery failed at New (the provider down) and has not
// succeeded since. Login and Callback answer 503 with it, a refresh fails
// with ErrRefreshFailed (the session is kept), and the next attempt runs
// after a backoff (see New).
var ErrProviderUnavailable = errors.New("authflow: OpenID provider unavailable")

// Discovery's bounds: one attempt is given discoveryTimeout; after a failed
// one none starts for minRetry, doubling per failure up to maxRetry.
const (
	discoveryTimeout = 10 * time.Second
	minRetry         = time.Second
	maxRetry         = time.Minute
)

// providerMetadata is the part of the discovery document (OpenID Connect
// Discovery 1.0 §3, RFC 8414) that the flow uses.
type providerMetadata struct {
	Issuer                 string   `json:"issuer"`
	AuthorizationEndpoint  string   `json:"authorization_endpoint"`
	TokenEndpoint          string   `json:"token_endpoint"`
	JWKSURI                string   `json:"jwks_uri"`
	EndSessionEndpoint     string   `json:"end_session_endpoint"`
	RevocationEndpoint     string   `json:"revocation_endpoint"`
	IDTokenSigningAlgs     []string `json:"id_token_signing_alg_values_supported"`
	CodeChallengeMethods   []string `json:"code_challenge_methods_supported"`
	AuthorizationIssParam  bool     `json:"authorization_response_iss_parameter_supported"`
	TokenEndpointAuthMeths []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthAlgs  []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	ScopesSupported        []string `json:"scopes_supported"`
}

// supportedAlgs are the ID token algorithms the flow accepts: asymmetric only.
var supportedAlgs = []string{
	oidc.RS256, oidc.RS384, oidc.RS512, oidc.PS256, oidc.PS384, oidc.PS512,
	oidc.ES256, oidc.ES384, oidc.ES512, oidc.EdDSA,
}

// idTokenAlgs are the ID token algorithms of a provider: those it
// advertises that the flow accepts, RS256 when it advertises none of them.
func (m *providerMetadata) idTokenAlgs() []string {
	if algs := intersect(supportedAlgs, m.IDTokenSigningAlgs); len(algs) > 0 {
		return algs
	}
	return []string{oidc.RS256}
}

// check requires the endpoints the flow needs, and every endpoint to be
// https (http only on a loopback host): SECURITY.md A.4.
func (m *providerMetadata) check() error {
	for _, e := range []struct{ name, url string }{
		{"authorization_endpoint", m.AuthorizationEndpoint},
		{"token_endpoint", m.TokenEndpoint},
		{"jwks_uri", m.JWKSURI},
	} {
		if e.url == "" {
			return fmt.Errorf("authflow: discovery document has no %s", e.name)
		}
	}
	for _, e := range []struct{ name, url string }{
		{"authorization_endpoint", m.AuthorizationEndpoint},
		{"token_endpoint", m.TokenEndpoint},
		{"jwks_uri", m.JWKSURI},
		{"end_session_endpoint", m.EndSessionEndpoint},
		{"revocation_endpoint", m.RevocationEndpoint},
	} {
		if e.url != "" {
			if err := checkEndpoint(e.name, e.url); err != nil {
				return fmt.Errorf("authflow: discovery: %w", err)
			}
		}
	}
	return nil
}

// discover fetches the provider's metadata (its Cognito settings applied).
// Errors that may heal by waiting match httpx.ErrUnavailable.
func discover(ctx context.Context, client *http.Client, cfg *Config) (providerMetadata, error) {
	var m providerMetadata
	if err := httpx.Discover(ctx, client, cfg.Issuer, &m); err != nil {
		return m, fmt.Errorf("authflow: %w", err)
	}
	if cfg.Cognito != nil {
		cfg.Cognito.apply(&m)
	}
	return m, nil
}

// provider is what the flow uses of its OpenID provider: the metadata, the
// x/oauth2 configuration on its endpoints, the client that calls them, and
// the ID-token verifier. It does not change once built.
type provider struct {
	meta     providerMetadata
	oauth    oauth2.Config
	client   *http.Client // h.client, plus private_key_jwt's assertions when configured
	idTokens *jwt.Verifier

	logoutTokens *jwt.Verifier // BackChannelLogout's (backchannel.go)
}

// newProvider checks meta and builds the flow on it, on h's client and key
// set. Its errors are the configuration's or the provider's.
func (h *Handler) newProvider(meta providerMetadata) (*provider, error) {
	if err := meta.check(); err != nil {
		return nil, err
	}
	client := h.client
	if h.cfg.ClientAssertionKey != nil {
		signer, err := clientauth.NewSigner(h.cfg.ClientID, h.cfg.ClientAssertionKey, h.cfg.ClientAssertionKeyID, h.cfg.Now)
		if err != nil {
			return nil, fmt.Errorf("authflow: ClientAssertionKey: %w", err)
		}
		if err := signer.CheckProvider(meta.TokenEndpointAuthMeths, meta.TokenEndpointAuthAlgs); err != nil {
			return nil, fmt.Errorf("authflow: ClientAssertionKey: %w", err)
		}
		// Every token request (code exchange, refresh) and the revocation
		// request get a fresh assertion; x/oauth2 sends client_id in the form.
		c := *client
		c.Transport = signer.Transport(c.Transport, meta.TokenEndpoint, meta.RevocationEndpoint)
		client = &c
	}
	scopes := h.cfg.Scopes
	if h.defaultScopes && slices.Contains(meta.ScopesSupported, "offline_access") {
		scopes = append(slices.Clip(scopes), "offline_access") // see Config.Scopes
	}
	if len(meta.CodeChallengeMethods) > 0 && !slices.Contains(meta.CodeChallengeMethods, "S256") {
		// RFC 9700 §2.1.1: S256 is sent regardless; never downgrade to plain.
		h.cfg.Logger.Warn("authflow: provider does not advertise PKCE S256; sending it anyway")
	}
	idTokens, err := newIDTokenVerifier(&h.cfg, h.keySet, meta.idTokenAlgs())
	if err != nil {
		return nil, fmt.Errorf("authflow: ID token verifier: %w", err)
	}
	logoutTokens, err := newLogoutTokenVerifier(&h.cfg, h.keySet, meta.idTokenAlgs())
	if err != nil {
		return nil, fmt.Errorf("authflow: logout token verifier: %w", err)
	}
	authStyle := oauth2.AuthStyleInHeader
	if h.cfg.ClientSecret == "" {
		authStyle = oauth2.AuthStyleInParams
	}
	return &provider{
		meta: meta,
		oauth: oauth2.Config{
			ClientID:     h.cfg.ClientID,
			ClientSecret: h.cfg.ClientSecret,
			RedirectURL:  h.cfg.RedirectURL,
			Scopes:       scopes,
			Endpoint: oauth2.Endpoint{
				AuthURL:   meta.AuthorizationEndpoint,
				TokenURL:  meta.TokenEndpoint,
				AuthStyle: authStyle,
			},
		},
		client:   client,
		idTokens: idTokens,

		logoutTokens: logoutTokens,
	}, nil
}

// clientContext carries p's HTTP client to x/oauth2, which takes it from
// the context.
func (p *provider) clientContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, p.client)
}

// providerSource hands the flow its provider, in one of three ways:
//
//   - discovered at New: ready from the start;
//   - derived from a Cognito user pool and Config.Cognito (no discovery at
//     New): usable from the start, and compared with the pool's discovery
//     document at first use (first login, callback, refresh or logout),
//     synchronously, once it succeeds. An issuer of another type or no such
//     pool (any answer but one that may heal) refuses the flow for good;
//     other differences are logged and the derived endpoints kept. While
//     discovery can't be reached the derived provider serves, and the
//     comparison is tried again after a backoff;
//   - the provider was down at New: discovered at first use, then ready.
//
// Attempts are single-flight: all callers wait on one, each within its own
// ctx, while the attempt runs under discoveryTimeout whoever gave up. After
// a failed attempt none starts before a backoff (minRetry doubling to
// maxRetry) on Config.Now's clock; callers in between get the last error at
// once, with no request.
type providerSource struct {
	cfg     *Config
	client  *http.Client
	build   func(providerMetadata) (*provider, error)
	derived *provider // a Cognito pool's, from configuration; nil otherwise

	ready atomic.Pointer[provider] // discovered, or derived and checked
	group singleflight.Group

	mu      sync.Mutex // guards the fields below
	next    time.Time  // no attempt before, after a failure
	backoff time.Duration
	lastErr error
	refused error // the derived provider's discovery refused it: final
}

// get returns the provider, discovering (or checking) it first when that
// is due. Its errors wrap ErrProviderUnavailable.
func (s *providerSource) get(ctx context.Context) (*provider, error) {
	if p := s.ready.Load(); p != nil {
		return p, nil
	}
	err := s.discover(ctx)
	if p := s.ready.Load(); p != nil {
		return p, nil
	}
	if s.derived != nil && errors.Is(err, httpx.ErrUnavailable) {
		// The comparison could not run. The pool's endpoints are known, and
		// every ID token is still verified against the configured issuer.
		return s.derived, nil
	}
	return nil, fmt.Errorf("%w: %w", ErrProviderUnavailable, err)
}

// discover runs an attempt, or joins the one running, unless backing off.
func (s *providerSource) discover(ctx context.Context) error {
	s.mu.Lock()
	switch {
	case s.refused != nil:
		s.mu.Unlock()
		return s.refused
	case s.lastErr != nil && s.cfg.Now().Before(s.next):
		err := s.lastErr
		s.mu.Unlock()
		return err
	}
	// Under s.mu, so that a caller who saw no backoff joins the attempt that
	// is about to set one: attempt takes s.mu before it returns.
	ch := s.group.DoChan("discover", func() (any, error) {
		return nil, s.attempt(context.WithoutCancel(ctx))
	})
	s.mu.Unlock()
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		return fmt.Errorf("waiting for discovery: %w: %w", httpx.ErrUnavailable, ctx.Err())
	}
}

// attempt discovers the provider and records the outcome.
func (s *providerSource) attempt(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	meta, err := discover(ctx, s.client, s.cfg)
	var p *provider
	switch {
	case err == nil && s.derived != nil:
		p = s.derived
		s.compare(meta)
	case err == nil:
		p, err = s.build(meta)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err == nil:
		s.ready.Store(p)
		s.lastErr, s.backoff = nil, 0
		s.cfg.Logger.Info("authflow: provider discovered", "issuer", s.cfg.Issuer)
		return nil
	case s.derived != nil && !errors.Is(err, httpx.ErrUnavailable):
		s.refused = err
		s.cfg.Logger.Error("authflow: the Cognito user pool's discovery document refuses the configured issuer; "+
			"sign-in stays unavailable until the configuration is fixed", slogErr(err))
		return err
	}
	s.failed(err)
	s.cfg.Logger.Warn("authflow: discovery failed", "retry_after", s.backoff, slogErr(err))
	return err
}

// failed records a failed attempt and backs off; the caller holds s.mu (or
// is New, before s is shared).
func (s *providerSource) failed(err error) {
	s.backoff = min(max(2*s.backoff, minRetry), maxRetry)
	s.next = s.cfg.Now().Add(s.backoff)
	s.lastErr = err
}

// compare logs where the pool's discovery document names other endpoints
// than those derived from the configuration; the derived ones stay in use
// (a pool answers on its prefix domain and its custom domain alike).
func (s *providerSource) compare(got providerMetadata) {
	want := s.derived.meta
	for _, e := range []struct{ name, want, got string }{
		{"authorization_endpoint", want.AuthorizationEndpoint, got.AuthorizationEndpoint},
		{"token_endpoint", want.TokenEndpoint, got.TokenEndpoint},
		{"jwks_uri", want.JWKSURI, got.JWKSURI},
	} {
		if e.got != e.want {
			s.cfg.Logger.Warn("authflow: the Cognito user pool's discovery document names another endpoint; using the configured one",
				slog.String("endpoint", e.name), slog.String("configured", e.want), slog.String("discovered", e.got))
		}
	}
}
