package authflow

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/pubauth/awsauth/internal/clientauth"
	"github.com/pubauth/awsauth/internal/jwks"
	"github.com/pubauth/awsauth/internal/jwt"
)

// Handler serves the login, callback and logout endpoints and guards routes
// with RequireLogin. It is safe for concurrent use. Create it with New.
type Handler struct {
	cfg      Config
	oauth    oauth2.Config
	client   *http.Client
	idTokens *jwt.Verifier // the ID-token profile, at the callback and after refresh
	keys     *keyRing
	keySet   *jwks.KeySet // the provider's JWKS, shared through Handler.KeySet
	meta     providerMetadata
	refresh  singleflight.Group
	tel      *flowTelemetry
}

// providerMetadata is the part of the discovery document (OpenID Connect
// Discovery 1.0 §3, RFC 8414) that the flow uses beyond go-oidc's fields.
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

// New validates cfg, fetches the provider's discovery document and returns a
// Handler. It fails when the discovery issuer differs from cfg.Issuer (OIDC
// Discovery §4.3) or when an endpoint is not https (http is allowed only on
// loopback hosts). ctx bounds the discovery request only.
func New(ctx context.Context, cfg Config) (*Handler, error) {
	defaultScopes := len(cfg.Scopes) == 0
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	client := noRedirectClient(cfg.HTTPClient)

	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, client), cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("authflow: discovery: %w", err)
	}
	var meta providerMetadata
	if err := provider.Claims(&meta); err != nil {
		return nil, fmt.Errorf("authflow: discovery document: %w", err)
	}
	if cfg.Cognito != nil {
		meta.RevocationEndpoint = cfg.Cognito.RevocationEndpoint()
		meta.EndSessionEndpoint = "" // Cognito's logout takes logout_uri instead
	}
	for _, e := range []struct{ name, url string }{
		{"authorization_endpoint", meta.AuthorizationEndpoint},
		{"token_endpoint", meta.TokenEndpoint},
		{"jwks_uri", meta.JWKSURI},
	} {
		if e.url == "" {
			return nil, fmt.Errorf("authflow: discovery document has no %s", e.name)
		}
	}
	for _, e := range []struct{ name, url string }{
		{"authorization_endpoint", meta.AuthorizationEndpoint},
		{"token_endpoint", meta.TokenEndpoint},
		{"jwks_uri", meta.JWKSURI},
		{"end_session_endpoint", meta.EndSessionEndpoint},
		{"revocation_endpoint", meta.RevocationEndpoint},
	} {
		if e.url == "" {
			continue
		}
		if err := checkEndpoint(e.name, e.url); err != nil {
			return nil, fmt.Errorf("authflow: discovery: %w", err)
		}
	}
	if cfg.ClientAssertionKey != nil {
		signer, err := clientauth.NewSigner(cfg.ClientID, cfg.ClientAssertionKey, cfg.ClientAssertionKeyID, cfg.Now)
		if err != nil {
			return nil, fmt.Errorf("authflow: ClientAssertionKey: %w", err)
		}
		if err := signer.CheckProvider(meta.TokenEndpointAuthMeths, meta.TokenEndpointAuthAlgs); err != nil {
			return nil, fmt.Errorf("authflow: ClientAssertionKey: %w", err)
		}
		// Every token request (code exchange, refresh) and the revocation
		// request get a fresh assertion; x/oauth2 sends client_id in the form.
		client.Transport = signer.Transport(client.Transport, meta.TokenEndpoint, meta.RevocationEndpoint)
	}
	if defaultScopes && slices.Contains(meta.ScopesSupported, "offline_access") {
		cfg.Scopes = append(cfg.Scopes, "offline_access") // see Config.Scopes
	}
	if len(meta.CodeChallengeMethods) > 0 && !slices.Contains(meta.CodeChallengeMethods, "S256") {
		// RFC 9700 §2.1.1: S256 is sent regardless; never downgrade to plain.
		cfg.Logger.Warn("authflow: provider does not advertise PKCE S256; sending it anyway")
	}

	algs := intersect(supportedAlgs, meta.IDTokenSigningAlgs)
	if len(algs) == 0 {
		algs = []string{oidc.RS256}
	}
	keySet, err := jwks.New(jwks.Config{
		URL:            meta.JWKSURI,
		HTTPClient:     client,
		Algorithms:     algs,
		Now:            cfg.Now,
		Logger:         cfg.Logger,
		MeterProvider:  cfg.MeterProvider,
		TracerProvider: cfg.TracerProvider,
	})
	if err != nil {
		return nil, fmt.Errorf("authflow: key set: %w", err)
	}

	idTokens, err := newIDTokenVerifier(&cfg, keySet, algs)
	if err != nil {
		return nil, fmt.Errorf("authflow: ID token verifier: %w", err)
	}

	secrets := cfg.CookieKeys
	if len(secrets) == 0 {
		cfg.Logger.Warn("authflow: no CookieKeys configured; using a random per-process key. " +
			"Logins that start on one instance and return to another will fail, and all flows end at restart.")
		k := make([]byte, 32)
		rand.Read(k)
		secrets = [][]byte{k}
	}
	keys, err := newKeyRing(secrets)
	if err != nil {
		return nil, fmt.Errorf("authflow: cookie keys: %w", err)
	}

	authStyle := oauth2.AuthStyleInHeader
	if cfg.ClientSecret == "" {
		authStyle = oauth2.AuthStyleInParams
	}
	h := &Handler{
		cfg: cfg,
		oauth: oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			RedirectURL:  cfg.RedirectURL,
			Scopes:       cfg.Scopes,
			Endpoint: oauth2.Endpoint{
				AuthURL:   meta.AuthorizationEndpoint,
				TokenURL:  meta.TokenEndpoint,
				AuthStyle: authStyle,
			},
		},
		client:   client,
		idTokens: idTokens,
		keys:     keys,
		keySet:   keySet,
		meta:     meta,
		tel:      newFlowTelemetry(&cfg, meta.TokenEndpoint),
	}
	return h, nil
}

// clientContext carries the handler's HTTP client to x/oauth2, which takes it
// from the context.
func (h *Handler) clientContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, h.client)
}

func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// errorCode returns an RFC 6749 §5.2 error code from a token endpoint error,
// or "".
func errorCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

// originOf returns scheme://host of an absolute URL.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
