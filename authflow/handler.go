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

	"github.com/pubauth/awsauth/internal/cognito"
	"github.com/pubauth/awsauth/internal/httpx"
	"github.com/pubauth/awsauth/internal/jwks"
)

// Handler serves the login, callback and logout endpoints and guards routes
// with RequireLogin. It is safe for concurrent use. Create it with New.
type Handler struct {
	cfg           Config
	defaultScopes bool         // Config.Scopes was empty: see Config.Scopes
	client        *http.Client // never follows redirects
	keys          *keyRing
	keySet        *jwks.KeySet // the provider's JWKS, shared through Handler.KeySet
	source        providerSource
	refresh       singleflight.Group
	ending        singleflight.Group // endSession, by session id
	tel           *flowTelemetry
}

// New validates cfg and returns a Handler. ctx bounds New's one request,
// if any: the provider's discovery document.
//
// For an Amazon Cognito user pool (Issuer a user pool issuer, see
// CognitoIssuer) with Config.Cognito set, New makes no request: the
// endpoints come from the pool and its domain (see Cognito), and are
// compared with the pool's discovery document at the first use of the
// provider (a login, callback, refresh or logout; once it succeeds): a
// document that refuses the configured issuer makes sign-in fail with 503
// for good, other differences are logged. Without Config.Cognito a user
// pool issuer's key set is known (<issuer>/.well-known/jwks.json) but its
// authorize and token endpoints are not: they come from discovery, as for
// any provider.
//
// For any other provider New fetches the discovery document (OpenID
// Connect Discovery 1.0 §4) and fails when its issuer differs from
// cfg.Issuer (§4.3), when an endpoint is missing or not https (http is
// allowed only on loopback hosts), or when it rules out
// ClientAssertionKey. When the provider can't be reached (no answer, a
// timeout, or status 408, 429 or 5xx) New logs it and returns a Handler
// anyway: Login and Callback answer 503 (and log) until discovery
// succeeds, which each of them attempts again once a backoff has passed (1
// s, doubling per failure up to 1 minute), single-flight, each request
// waiting within its own context; bearer verification on KeySet discovers
// through its first key fetch. Once the provider answers, the next login
// works, with no restart.
func New(ctx context.Context, cfg Config) (*Handler, error) {
	defaultScopes := len(cfg.Scopes) == 0
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
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
	h := &Handler{cfg: cfg, defaultScopes: defaultScopes, client: noRedirectClient(cfg.HTTPClient), keys: keys}
	h.tel = newFlowTelemetry(&h.cfg)
	h.source = providerSource{cfg: &h.cfg, client: h.client, build: h.newProvider}

	// The provider's metadata: derived from a Cognito user pool, or
	// discovered; nil while the provider is unreachable.
	var meta *providerMetadata
	derived := cfg.Cognito != nil && cognitoIssuer(cfg.Issuer)
	if derived {
		m := cfg.Cognito.metadata(cfg.Issuer)
		meta = &m
	} else {
		m, err := discover(ctx, h.client, &h.cfg)
		switch {
		case err == nil:
			meta = &m
		case errors.Is(err, httpx.ErrUnavailable):
			cfg.Logger.Error("authflow: the OpenID provider is unavailable; sign-in answers 503 until discovery succeeds",
				slogErr(err))
			h.source.failed(err)
		default:
			return nil, err
		}
	}
	if h.keySet, err = h.newKeySet(meta); err != nil {
		return nil, err
	}
	if meta != nil {
		p, err := h.newProvider(*meta)
		if err != nil {
			return nil, err
		}
		if derived {
			h.source.derived = p
		} else {
			h.source.ready.Store(p)
		}
	}
	return h, nil
}

// newKeySet is the provider's key set, primed with Config.JWKS: on meta's
// jwks_uri, on a Cognito user pool's, or (the provider unreachable at New)
// on the one discovery will name.
func (h *Handler) newKeySet(meta *providerMetadata) (*jwks.KeySet, error) {
	kc := jwks.Config{
		HTTPClient:     h.client,
		Algorithms:     supportedAlgs,
		Now:            h.cfg.Now,
		Logger:         h.cfg.Logger,
		MeterProvider:  h.cfg.MeterProvider,
		TracerProvider: h.cfg.TracerProvider,
	}
	switch {
	case meta != nil:
		kc.URL, kc.Algorithms = meta.JWKSURI, meta.idTokenAlgs()
	case cognitoIssuer(h.cfg.Issuer):
		kc.URL, kc.Algorithms = cognito.JWKSURL(h.cfg.Issuer), []string{oidc.RS256}
	default:
		kc.Locate = func(ctx context.Context) (string, error) {
			p, err := h.source.get(ctx)
			if err != nil {
				return "", err
			}
			return p.meta.JWKSURI, nil
		}
	}
	ks, err := jwks.New(kc)
	if err != nil {
		return nil, fmt.Errorf("authflow: key set: %w", err)
	}
	if h.cfg.JWKS != nil {
		if err := ks.Prime(h.cfg.JWKS); err != nil {
			return nil, fmt.Errorf("authflow: JWKS: %w", err)
		}
	}
	return ks, nil
}

// provider returns the provider, discovering it first when that is due; its
// errors wrap ErrProviderUnavailable.
func (h *Handler) provider(ctx context.Context) (*provider, error) { return h.source.get(ctx) }

// cognitoIssuer reports whether iss is a Cognito user pool's issuer.
func cognitoIssuer(iss string) bool {
	_, ok := cognito.ParseIssuer(iss)
	return ok
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
