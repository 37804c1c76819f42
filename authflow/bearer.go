package authflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/pubauth/awsauth/internal/jwks"
)

// Token uses (Cognito's token_use claim).
const (
	TokenUseAccess = "access"
	TokenUseID     = "id"
)

// Defaults of BearerConfig.
const (
	DefaultMaxTokenBytes     = 8 << 10
	DefaultBearerClockSkew   = 30 * time.Second
	DefaultBearerMaxLifetime = 24 * time.Hour
)

// BearerIssuer is one issuer whose tokens a Bearer accepts, with the rules
// for them. The zero value of a field selects its default.
type BearerIssuer struct {
	// Issuer is iss, compared byte for byte (no trailing-slash or case
	// folding). For Cognito: CognitoIssuer(region, userPoolID).
	Issuer string
	// TokenUse is the kind of token accepted: TokenUseAccess (default) or
	// TokenUseID. The token's token_use claim must equal it.
	TokenUse string
	// TokenUseOptional accepts a token without token_use (a generic OIDC
	// provider's RFC 9068 access token); a token_use that is present must
	// still equal TokenUse. Pair it with Audiences, or with ClientIDs for
	// access tokens, so that an ID token can't pass for an access token.
	TokenUseOptional bool
	// ClientIDs are the accepted app clients: an access token's client_id,
	// or an ID token's aud (with several audiences, azp too), must be one of
	// them. Required for TokenUseID; for access tokens, ClientIDs or
	// Audiences (or both) must be set.
	ClientIDs []string
	// Audiences, when set, requires an access token's aud to contain one of
	// them (RFC 9068 §4: the resource server's identifier). Cognito access
	// tokens carry no aud unless resource indicators are configured. For ID
	// tokens, Audiences lists the audiences trusted besides ClientIDs
	// (OIDC Core §3.1.3.7 step 3); any other audience refuses the token.
	Audiences []string
	// JWKSURL is the issuer's jwks_uri. Empty means
	// Issuer + "/.well-known/jwks.json" for a Cognito issuer, else the
	// jwks_uri of the issuer's discovery document (fetched by NewBearer),
	// unless JWKS is set, which then makes the key set offline.
	JWKSURL string
	// JWKS primes the key set with a JWKS document (RFC 7517 §5), for
	// offline use or a start without a fetch; with JWKSURL as well, a token
	// naming an unknown kid still causes a refetch.
	JWKS []byte
	// Algorithms is the JWS allow-list: asymmetric algorithms only (RS256,
	// RS384, RS512, PS256..., ES256..., EdDSA). Default ["RS256"] (Cognito's).
	Algorithms []string
}

// BearerConfig configures NewBearer. Issuer, TokenUse, TokenUseOptional,
// ClientIDs, Audiences, JWKSURL, JWKS and Algorithms describe a first issuer
// as in BearerIssuer; Issuers adds more.
type BearerConfig struct {
	Issuer           string
	TokenUse         string
	TokenUseOptional bool
	ClientIDs        []string
	Audiences        []string
	JWKSURL          string
	JWKS             []byte
	Algorithms       []string

	// Issuers are further issuers (other user pools, regions or providers),
	// each with its own rules and key set. A token is checked against the
	// one whose Issuer equals its iss; a token from any other issuer is
	// refused before any key is looked up.
	Issuers []BearerIssuer

	// Check, when set, runs on every accepted token, cached or not, after
	// all other checks; an error refuses the token (401 invalid_token; its
	// text is logged, so keep claim values out of it). Use Requirements for
	// per-route scope or group rules (403).
	Check func(ctx context.Context, c *Claims) error

	// ClockSkew is the leeway for exp, nbf and iat. Default
	// DefaultBearerClockSkew; at most 5 minutes.
	ClockSkew time.Duration
	// MaxLifetime bounds exp - iat and exp - now: a token valid for longer
	// comes from a broken or lying issuer. Default DefaultBearerMaxLifetime
	// (Cognito's tokens live at most 1 day).
	MaxLifetime time.Duration
	// MaxTokenBytes bounds a token; the Authorization header may be 7 bytes
	// longer ("Bearer "). Longer ones are refused before any decoding.
	// Default DefaultMaxTokenBytes.
	MaxTokenBytes int
	// CacheSize bounds the cache of verified tokens. Default
	// DefaultBearerCacheSize; negative disables the cache.
	CacheSize int
	// RefetchInterval is the least time between two JWKS fetches of one
	// issuer for unknown kids. Default jwks.DefaultRefetchInterval (10 s);
	// at most 60 s.
	RefetchInterval time.Duration

	// Realm, when set, is sent as the realm of WWW-Authenticate challenges.
	Realm string
	// ErrorHandler, when set, answers refused requests instead of
	// WriteError. err wraps one of ErrNoBearerToken, ErrInvalidRequest,
	// ErrInvalidToken, ErrInsufficientScope, ErrKeySetUnavailable.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// HTTPClient fetches discovery documents and key sets. Redirects are not
	// followed. Nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	// Logger receives refusals (reason only) and key-set faults, never a
	// token or header. Nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Bearer verifies bearer tokens (RFC 6750) with Amazon Cognito's rules and
// guards net/http handlers. It is safe for concurrent use.
type Bearer struct {
	issuers     []*issuerRules
	check       func(context.Context, *Claims) error
	skew        time.Duration
	maxLifetime time.Duration
	maxToken    int
	cache       *tokenCache
	realm       string
	onError     func(http.ResponseWriter, *http.Request, error)
	log         *slog.Logger
	now         func() time.Time
}

type issuerRules struct {
	BearerIssuer
	keys *jwks.KeySet
	algs []string // the allow-list, checked here too: a shared key set may allow more
}

// NewBearer validates cfg and builds the issuers' key sets. For an issuer
// with neither JWKSURL nor JWKS that is not a Cognito user pool, it fetches
// the discovery document (OIDC Discovery 1.0 §4) within ctx and refuses an
// issuer that differs from the configured one. Key sets are fetched on first
// use, not here.
func NewBearer(ctx context.Context, cfg BearerConfig) (*Bearer, error) {
	return newBearer(ctx, cfg, nil)
}

// NewBearer is the package's NewBearer for an API served beside h's login
// flow: an issuer equal to h's Config.Issuer, with neither JWKSURL nor JWKS,
// uses h's key set rather than a second one. The callback's ID tokens and the
// API's bearer tokens then share one cache of keys and one budget of refetches
// for unknown kids, and no discovery document is fetched again. That key set
// keeps h's settings (its refetch interval, its algorithms from discovery);
// the issuer's Algorithms still bound what the Bearer accepts.
func (h *Handler) NewBearer(ctx context.Context, cfg BearerConfig) (*Bearer, error) {
	return newBearer(ctx, cfg, &sharedKeySet{issuer: h.cfg.Issuer, keys: h.keySet})
}

// sharedKeySet is a key set a Bearer may use for one issuer instead of its own.
type sharedKeySet struct {
	issuer string
	keys   *jwks.KeySet
}

func newBearer(ctx context.Context, cfg BearerConfig, shared *sharedKeySet) (*Bearer, error) {
	var all []BearerIssuer
	if cfg.Issuer != "" || len(cfg.ClientIDs) > 0 || len(cfg.Audiences) > 0 || cfg.JWKSURL != "" || cfg.JWKS != nil {
		all = append(all, BearerIssuer{
			Issuer: cfg.Issuer, TokenUse: cfg.TokenUse, TokenUseOptional: cfg.TokenUseOptional,
			ClientIDs: cfg.ClientIDs, Audiences: cfg.Audiences, JWKSURL: cfg.JWKSURL, JWKS: cfg.JWKS,
			Algorithms: cfg.Algorithms,
		})
	}
	all = append(all, cfg.Issuers...)

	var errs []error
	if len(all) == 0 {
		errs = append(errs, errors.New("no Issuer"))
	}
	seen := map[string]bool{}
	for i := range all {
		iss := &all[i]
		if iss.TokenUse == "" {
			iss.TokenUse = TokenUseAccess
		}
		if err := iss.validate(); err != nil {
			errs = append(errs, err)
		}
		if seen[iss.Issuer] {
			errs = append(errs, fmt.Errorf("issuer %q listed twice", iss.Issuer))
		}
		seen[iss.Issuer] = true
	}
	for _, d := range []struct {
		name     string
		v        *time.Duration
		def, max time.Duration
	}{
		{"ClockSkew", &cfg.ClockSkew, DefaultBearerClockSkew, 5 * time.Minute},
		{"MaxLifetime", &cfg.MaxLifetime, DefaultBearerMaxLifetime, 0},
		{"RefetchInterval", &cfg.RefetchInterval, jwks.DefaultRefetchInterval, jwks.MaxRefetchInterval},
	} {
		switch {
		case *d.v < 0:
			errs = append(errs, fmt.Errorf("%s must not be negative", d.name))
		case *d.v == 0:
			*d.v = d.def
		case d.max > 0 && *d.v > d.max:
			errs = append(errs, fmt.Errorf("%s must be at most %v", d.name, d.max))
		}
	}
	if cfg.MaxTokenBytes < 0 {
		errs = append(errs, errors.New("MaxTokenBytes must not be negative"))
	} else if cfg.MaxTokenBytes == 0 {
		cfg.MaxTokenBytes = DefaultMaxTokenBytes
	}
	if strings.ContainsFunc(cfg.Realm, func(r rune) bool { return r == '"' || r == '\\' || r < 0x20 || r == 0x7f }) {
		errs = append(errs, errors.New("the Realm must not contain quotes, backslashes or control characters"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("authflow: invalid bearer config: %w", errors.Join(errs...))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	client := noRedirectClient(cfg.HTTPClient)

	b := &Bearer{
		check: cfg.Check, skew: cfg.ClockSkew, maxLifetime: cfg.MaxLifetime, maxToken: cfg.MaxTokenBytes,
		realm: cfg.Realm, onError: cfg.ErrorHandler, log: cfg.Logger, now: cfg.Now,
	}
	if cfg.CacheSize >= 0 {
		size := cfg.CacheSize
		if size == 0 {
			size = DefaultBearerCacheSize
		}
		b.cache = newTokenCache(size)
	}
	for _, iss := range all {
		algs := iss.Algorithms
		if len(algs) == 0 {
			algs = []string{oidc.RS256}
		}
		if shared != nil && shared.keys != nil && iss.Issuer == shared.issuer && iss.JWKSURL == "" && iss.JWKS == nil {
			b.issuers = append(b.issuers, &issuerRules{BearerIssuer: iss, keys: shared.keys, algs: algs})
			continue
		}
		url := iss.JWKSURL
		if url == "" && iss.JWKS == nil {
			if isCognitoIssuer(iss.Issuer) {
				url = iss.Issuer + "/.well-known/jwks.json"
			} else {
				var err error
				if url, err = discoverJWKS(ctx, client, iss.Issuer); err != nil {
					return nil, err
				}
			}
		}
		ks, err := jwks.New(jwks.Config{
			URL:             url,
			HTTPClient:      client,
			RefetchInterval: cfg.RefetchInterval,
			Algorithms:      iss.Algorithms,
			MaxTokenBytes:   cfg.MaxTokenBytes,
			Now:             cfg.Now,
			Logger:          cfg.Logger,
		})
		if err != nil {
			return nil, fmt.Errorf("authflow: key set of %q: %w", iss.Issuer, err)
		}
		if iss.JWKS != nil {
			if err := ks.Prime(iss.JWKS); err != nil {
				return nil, fmt.Errorf("authflow: JWKS of %q: %w", iss.Issuer, err)
			}
		}
		b.issuers = append(b.issuers, &issuerRules{BearerIssuer: iss, keys: ks, algs: algs})
	}
	return b, nil
}

func (iss *BearerIssuer) validate() error {
	if iss.Issuer == "" {
		return errors.New("an issuer has no Issuer")
	}
	if err := checkEndpoint("Issuer", iss.Issuer); err != nil {
		return err
	}
	if iss.JWKSURL != "" {
		if err := checkEndpoint("JWKSURL", iss.JWKSURL); err != nil {
			return err
		}
	}
	switch iss.TokenUse {
	case TokenUseAccess:
		if len(iss.ClientIDs) == 0 && len(iss.Audiences) == 0 {
			return fmt.Errorf("issuer %q: access tokens need ClientIDs or Audiences", iss.Issuer)
		}
	case TokenUseID:
		if len(iss.ClientIDs) == 0 {
			return fmt.Errorf("issuer %q: ID tokens need ClientIDs", iss.Issuer)
		}
	default:
		return fmt.Errorf("issuer %q: TokenUse must be %q or %q", iss.Issuer, TokenUseAccess, TokenUseID)
	}
	if slices.Contains(iss.ClientIDs, "") || slices.Contains(iss.Audiences, "") {
		return fmt.Errorf("issuer %q: empty client id or audience", iss.Issuer)
	}
	return nil
}

// isCognitoIssuer reports whether iss has the shape of a Cognito user pool
// issuer, whose jwks_uri is known without discovery.
func isCognitoIssuer(iss string) bool {
	rest, ok := strings.CutPrefix(iss, "https://cognito-idp.")
	if !ok {
		return false
	}
	region, pool, ok := strings.Cut(rest, ".amazonaws.com/")
	return ok && cognitoPoolID.MatchString(pool) && strings.HasPrefix(pool, region+"_")
}

// discoverJWKS reads jwks_uri from the issuer's discovery document; go-oidc
// checks that the document's issuer is the configured one.
func discoverJWKS(ctx context.Context, client *http.Client, issuer string) (string, error) {
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, client), issuer)
	if err != nil {
		return "", fmt.Errorf("authflow: discovery of %q: %w", issuer, err)
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil {
		return "", fmt.Errorf("authflow: discovery of %q: %w", issuer, err)
	}
	if meta.JWKSURI == "" {
		return "", fmt.Errorf("authflow: discovery of %q: no jwks_uri", issuer)
	}
	if err := checkEndpoint("jwks_uri", meta.JWKSURI); err != nil {
		return "", fmt.Errorf("authflow: discovery of %q: %w", issuer, err)
	}
	return meta.JWKSURI, nil
}

// Verify checks raw, a bearer token (the JWS compact serialization, without
// "Bearer "): its size, shape and protected header, its iss against the
// configured issuers, its signature with that issuer's key set (RFC 7515,
// the algorithm allow-list), exp, nbf and iat with ClockSkew (RFC 7519
// §4.1), its lifetime, sub, token_use, client_id or aud (and azp), then
// BearerConfig.Check. A token verified before and not yet expired is served
// from the cache without the signature check; Check still runs.
//
// Errors wrap ErrInvalidToken (ErrTokenExpired among them), or
// ErrKeySetUnavailable when the key could not be fetched; they never contain
// the token or a claim value.
func (b *Bearer) Verify(ctx context.Context, raw string) (*Claims, error) {
	if len(raw) > b.maxToken {
		return nil, errTokenTooLong
	}
	if raw == "" {
		return nil, errEmptyToken
	}
	now := b.now()
	if b.cache != nil {
		if c := b.cache.get(raw, now); c != nil {
			return b.runCheck(ctx, c)
		}
	}
	jws, err := jwks.Parse(raw, b.maxToken)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	var rules *issuerRules
	c, err := parseClaims(jws.Payload, func(v []byte) string {
		for _, r := range b.issuers {
			if string(v) == r.Issuer {
				return r.Issuer
			}
			for _, id := range r.ClientIDs {
				if string(v) == id {
					return id
				}
			}
		}
		switch string(v) {
		case TokenUseAccess:
			return TokenUseAccess
		case TokenUseID:
			return TokenUseID
		}
		return ""
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	for _, r := range b.issuers {
		if r.Issuer == c.Issuer {
			rules = r
			break
		}
	}
	if rules == nil {
		return nil, errUnknownIssuer // before any key lookup: a foreign iss buys no fetch
	}
	if !slices.Contains(rules.algs, jws.Alg) {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, jwks.ErrUnsupportedAlgorithm)
	}
	if err := rules.keys.Verify(ctx, &jws, jwks.RefetchLimited); err != nil {
		if errors.Is(err, jwks.ErrFetch) || ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w", ErrKeySetUnavailable, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if err := b.checkClaims(rules, c, now); err != nil {
		return nil, err
	}
	if b.cache != nil {
		b.cache.put(raw, c, now)
	}
	return b.runCheck(ctx, c)
}

func (b *Bearer) runCheck(ctx context.Context, c *Claims) (*Claims, error) {
	if b.check == nil {
		return c, nil
	}
	if err := b.check(ctx, c); err != nil {
		if errors.Is(err, ErrInvalidToken) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: Check: %w", ErrInvalidToken, err)
	}
	return c, nil
}

// checkClaims applies RFC 7519 §4.1.4-6 with skew, the lifetime bound and
// Cognito's token_use / client_id / aud rules (as aws-jwt-verify does).
func (b *Bearer) checkClaims(r *issuerRules, c *Claims, now time.Time) error {
	switch {
	case c.Expiry.IsZero():
		return errNoExp
	case !now.Before(c.Expiry.Add(b.skew)):
		return ErrTokenExpired
	case c.IssuedAt.IsZero():
		return errNoIat
	case c.IssuedAt.After(now.Add(b.skew)):
		return errIatFuture
	case !c.NotBefore.IsZero() && c.NotBefore.After(now.Add(b.skew)):
		return errNotYetValid
	case c.Expiry.Sub(c.IssuedAt) > b.maxLifetime, c.Expiry.Sub(now) > b.maxLifetime+b.skew:
		return errLifetime
	case c.Subject == "":
		return errNoSub
	}
	if c.TokenUse != r.TokenUse && (c.TokenUse != "" || !r.TokenUseOptional) {
		return errTokenUse
	}
	if r.TokenUse == TokenUseID {
		if !containsAny(c.Audience, r.ClientIDs) {
			return errAudience
		}
		for _, a := range c.Audience { // OIDC Core §3.1.3.7 step 3: no untrusted audience
			if !slices.Contains(r.ClientIDs, a) && !slices.Contains(r.Audiences, a) {
				return errAudience
			}
		}
		// OIDC Core §3.1.3.7: with several audiences, azp names the client.
		if (len(c.Audience) > 1 || c.AuthorizedParty != "") && !slices.Contains(r.ClientIDs, c.AuthorizedParty) {
			return errAZP
		}
		return nil
	}
	if len(r.ClientIDs) > 0 && !slices.Contains(r.ClientIDs, c.ClientID) {
		return errClientID
	}
	if len(r.Audiences) > 0 && !containsAny(c.Audience, r.Audiences) {
		return errAudience
	}
	return nil
}

func containsAny(have, want []string) bool {
	for _, h := range have {
		if slices.Contains(want, h) {
			return true
		}
	}
	return false
}
