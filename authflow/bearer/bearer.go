package bearer

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

	"github.com/pubauth/awsauth/internal/cognito"
	"github.com/pubauth/awsauth/internal/httpx"
	"github.com/pubauth/awsauth/internal/jwks"
)

// Token uses (Cognito's token_use claim).
const (
	TokenUseAccess = "access"
	TokenUseID     = "id"
)

// Defaults of Config.
const (
	// DefaultMaxTokenBytes is Config.MaxTokenBytes's default, in bytes.
	DefaultMaxTokenBytes = 8 << 10
	// DefaultClockSkew is Config.ClockSkew's default.
	DefaultClockSkew = 30 * time.Second
	// DefaultMaxLifetime is Config.MaxLifetime's default.
	DefaultMaxLifetime = 24 * time.Hour
)

// KeySet is a JWKS cache shared with another verifier; get one from
// authflow.Handler.KeySet, so that the login flow and the API of the same
// issuer share one cache of keys and one budget of refetches for unknown
// kids. Its methods are for this module's verifiers; set it in
// Issuer.KeySet, don't call them.
type KeySet = jwks.KeySet

// Issuer is one issuer whose tokens a Verifier accepts, with the rules for
// them. The zero value of a field selects its default. For a Cognito user
// pool, start from Cognito.
type Issuer struct {
	// Issuer is iss, compared byte for byte (no trailing-slash or case
	// folding). Required: an https URL (http only on a loopback host). A
	// Cognito user pool's is https://cognito-idp.<region>.amazonaws.com/<poolID>
	// (see Cognito); one with that prefix but another shape is refused.
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
	// or an ID token's aud (with several audiences, azp too; OIDC Core
	// §3.1.3.7), must be one of them. Required for TokenUseID; for access
	// tokens, ClientIDs or Audiences (or both) must be set.
	ClientIDs []string
	// Audiences are required audiences of access tokens: when set, the
	// token's aud must contain one of them (RFC 9068 §4: the resource
	// server's identifier). Cognito access tokens carry no aud unless
	// resource indicators are configured. Access tokens only: New refuses
	// Audiences with TokenUseID.
	Audiences []string
	// TrustedAudiences are the audiences an ID token may carry besides
	// ClientIDs (OIDC Core §3.1.3.7 step 3); an ID token with any other
	// audience is refused. They are never required. ID tokens only: New
	// refuses TrustedAudiences with TokenUseAccess.
	TrustedAudiences []string
	// KeySet, when set, is the issuer's key set, shared with another
	// verifier (authflow.Handler.KeySet for the login flow's issuer; use it
	// only for that issuer). It keeps its own settings (its refetch
	// interval, its algorithms); Algorithms still bounds what the Verifier
	// accepts. It excludes JWKSURL and JWKS.
	KeySet *KeySet
	// JWKSURL is the issuer's jwks_uri. Empty means
	// Issuer + "/.well-known/jwks.json" for a Cognito issuer, else the
	// jwks_uri of the issuer's discovery document (fetched by New), unless
	// JWKS or KeySet is set.
	JWKSURL string
	// JWKS primes the key set with a JWKS document (RFC 7517 §5), for
	// offline use or a start without a fetch; alone it makes the key set
	// offline; with JWKSURL as well, a token naming an unknown kid still
	// causes a refetch.
	JWKS []byte
	// Algorithms is the JWS allow-list: asymmetric algorithms only (RS256,
	// RS384, RS512, PS256..., ES256..., EdDSA). Default ["RS256"] (Cognito's).
	Algorithms []string
}

// Cognito returns the Issuer of an Amazon Cognito user pool's access tokens
// (token_use "access") whose client_id is one of clientIDs, the app clients
// of the pool; its key set is the pool's
// https://cognito-idp.<region>.amazonaws.com/<userPoolID>/.well-known/jwks.json
// (no discovery round trip). To accept the pool's ID tokens instead, set
// TokenUse to TokenUseID on the result: the token's aud must then be one of
// clientIDs. New refuses a region or pool id of the wrong shape.
// See https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html.
func Cognito(region, userPoolID string, clientIDs ...string) Issuer {
	return Issuer{Issuer: cognito.Issuer(region, userPoolID), TokenUse: TokenUseAccess, ClientIDs: clientIDs}
}

// Config configures New: the accepted issuers and the rules common to all.
type Config struct {
	// Issuers are the accepted issuers (user pools, regions or providers),
	// each with its own rules and key set; at least one. A token is checked
	// against the one whose Issuer equals its iss; a token from any other
	// issuer is refused before any key is looked up.
	Issuers []Issuer

	// ClockSkew is the leeway for exp, nbf and iat. Default
	// DefaultClockSkew; at most 5 minutes.
	ClockSkew time.Duration
	// MaxLifetime bounds exp - iat and exp - now: a token valid for longer
	// comes from a broken or lying issuer. Default DefaultMaxLifetime
	// (Cognito's tokens live at most 1 day).
	MaxLifetime time.Duration
	// MaxTokenBytes bounds a token, in bytes; the Authorization header may be
	// 7 bytes longer ("Bearer "). Longer ones are refused before any
	// decoding. Default DefaultMaxTokenBytes.
	MaxTokenBytes int
	// CacheSize bounds the cache of verified tokens, in entries. Default
	// DefaultCacheSize; negative disables the cache.
	CacheSize int
	// RefetchInterval is the least time between two JWKS fetches of one
	// issuer for unknown kids. Default 10 s; at most 60 s. A shared
	// Issuer.KeySet keeps its own.
	RefetchInterval time.Duration

	// Realm, when set, is sent as the realm of WWW-Authenticate challenges.
	Realm string
	// ErrorHandler, when set, answers refused requests instead of
	// WriteError. err wraps one of ErrNoToken, ErrInvalidRequest,
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

// Verifier verifies bearer tokens (RFC 6750) with Amazon Cognito's rules
// (or a generic issuer's) and guards net/http handlers. Create it with New.
// It is safe for concurrent use.
type Verifier struct {
	issuers     []*issuerRules
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
	iss  Issuer
	keys *jwks.KeySet
	algs []string // the allow-list, checked here too: a shared key set may allow more
}

// New validates cfg and builds the issuers' key sets. For an issuer with
// none of KeySet, JWKSURL and JWKS that is not a Cognito user pool, it
// fetches the discovery document (OIDC Discovery 1.0 §4) within ctx and
// refuses an issuer that differs from the configured one. Key sets are
// fetched on first use, not here. Errors start with "bearer: ".
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	all := slices.Clone(cfg.Issuers)
	var errs []error
	if len(all) == 0 {
		errs = append(errs, errors.New("no Issuers"))
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
		{"ClockSkew", &cfg.ClockSkew, DefaultClockSkew, 5 * time.Minute},
		{"MaxLifetime", &cfg.MaxLifetime, DefaultMaxLifetime, 0},
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
		return nil, fmt.Errorf("bearer: invalid config: %w", errors.Join(errs...))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	client := httpx.NoRedirectClient(cfg.HTTPClient)

	v := &Verifier{
		skew: cfg.ClockSkew, maxLifetime: cfg.MaxLifetime, maxToken: cfg.MaxTokenBytes,
		realm: cfg.Realm, onError: cfg.ErrorHandler, log: cfg.Logger, now: cfg.Now,
	}
	if cfg.CacheSize >= 0 {
		size := cfg.CacheSize
		if size == 0 {
			size = DefaultCacheSize
		}
		v.cache = newTokenCache(size)
	}
	for _, iss := range all {
		algs := iss.Algorithms
		if len(algs) == 0 {
			algs = []string{oidc.RS256}
		}
		if iss.KeySet != nil {
			v.issuers = append(v.issuers, &issuerRules{iss: iss, keys: iss.KeySet, algs: algs})
			continue
		}
		url := iss.JWKSURL
		if url == "" && iss.JWKS == nil {
			if cognito.IsIssuer(iss.Issuer) {
				url = cognito.JWKSURL(iss.Issuer)
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
			return nil, fmt.Errorf("bearer: key set of %q: %w", iss.Issuer, err)
		}
		if iss.JWKS != nil {
			if err := ks.Prime(iss.JWKS); err != nil {
				return nil, fmt.Errorf("bearer: JWKS of %q: %w", iss.Issuer, err)
			}
		}
		v.issuers = append(v.issuers, &issuerRules{iss: iss, keys: ks, algs: algs})
	}
	return v, nil
}

func (iss *Issuer) validate() error {
	if iss.Issuer == "" {
		return errors.New("an issuer has no Issuer")
	}
	if err := httpx.CheckEndpoint("Issuer", iss.Issuer); err != nil {
		return err
	}
	if strings.HasPrefix(iss.Issuer, "https://cognito-idp.") && !cognito.IsIssuer(iss.Issuer) {
		return fmt.Errorf("issuer %q is not a Cognito user pool issuer (region or pool id malformed)", iss.Issuer)
	}
	if iss.JWKSURL != "" {
		if err := httpx.CheckEndpoint("JWKSURL", iss.JWKSURL); err != nil {
			return err
		}
	}
	if iss.KeySet != nil && (iss.JWKSURL != "" || iss.JWKS != nil) {
		return fmt.Errorf("issuer %q: KeySet excludes JWKSURL and JWKS", iss.Issuer)
	}
	switch iss.TokenUse {
	case TokenUseAccess:
		if len(iss.ClientIDs) == 0 && len(iss.Audiences) == 0 {
			return fmt.Errorf("issuer %q: access tokens need ClientIDs or Audiences", iss.Issuer)
		}
		if len(iss.TrustedAudiences) > 0 {
			return fmt.Errorf("issuer %q: TrustedAudiences are for ID tokens; access tokens use Audiences", iss.Issuer)
		}
	case TokenUseID:
		if len(iss.ClientIDs) == 0 {
			return fmt.Errorf("issuer %q: ID tokens need ClientIDs", iss.Issuer)
		}
		if len(iss.Audiences) > 0 {
			return fmt.Errorf("issuer %q: Audiences are for access tokens; ID tokens use ClientIDs and TrustedAudiences", iss.Issuer)
		}
	default:
		return fmt.Errorf("issuer %q: TokenUse must be %q or %q", iss.Issuer, TokenUseAccess, TokenUseID)
	}
	if slices.Contains(iss.ClientIDs, "") || slices.Contains(iss.Audiences, "") || slices.Contains(iss.TrustedAudiences, "") {
		return fmt.Errorf("issuer %q: empty client id or audience", iss.Issuer)
	}
	return nil
}

// discoverJWKS reads jwks_uri from the issuer's discovery document; go-oidc
// checks that the document's issuer is the configured one.
func discoverJWKS(ctx context.Context, client *http.Client, issuer string) (string, error) {
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, client), issuer)
	if err != nil {
		return "", fmt.Errorf("bearer: discovery of %q: %w", issuer, err)
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil {
		return "", fmt.Errorf("bearer: discovery of %q: %w", issuer, err)
	}
	if meta.JWKSURI == "" {
		return "", fmt.Errorf("bearer: discovery of %q: no jwks_uri", issuer)
	}
	if err := httpx.CheckEndpoint("jwks_uri", meta.JWKSURI); err != nil {
		return "", fmt.Errorf("bearer: discovery of %q: %w", issuer, err)
	}
	return meta.JWKSURI, nil
}

// Verify checks raw, a bearer token (the JWS compact serialization, without
// "Bearer "): its size, shape and protected header, its iss against the
// configured issuers, its signature with that issuer's key set (RFC 7515,
// the algorithm allow-list), exp, nbf and iat with ClockSkew (RFC 7519
// §4.1), its lifetime, sub, token_use, client_id or aud (and azp). A token
// verified before and not yet expired is served from the cache without the
// signature check. Requirements are not applied here: see Authenticate.
//
// Errors wrap ErrInvalidToken (ErrTokenExpired among them), or
// ErrKeySetUnavailable when the key could not be fetched; they never contain
// the token or a claim value.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	if len(raw) > v.maxToken {
		return nil, errTokenTooLong
	}
	if raw == "" {
		return nil, errEmptyToken
	}
	now := v.now()
	if v.cache != nil {
		if c := v.cache.get(raw, now); c != nil {
			return c, nil
		}
	}
	jws, err := jwks.Parse(raw, v.maxToken)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	var rules *issuerRules
	c, err := parseClaims(jws.Payload, func(val []byte) string {
		for _, r := range v.issuers {
			if string(val) == r.iss.Issuer {
				return r.iss.Issuer
			}
			for _, id := range r.iss.ClientIDs {
				if string(val) == id {
					return id
				}
			}
		}
		switch string(val) {
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
	for _, r := range v.issuers {
		if r.iss.Issuer == c.Issuer {
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
	if err := rules.keys.Verify(ctx, &jws); err != nil {
		if errors.Is(err, jwks.ErrFetch) || ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w", ErrKeySetUnavailable, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if err := v.checkClaims(rules, c, now); err != nil {
		return nil, err
	}
	if v.cache != nil {
		v.cache.put(raw, c, now)
	}
	return c, nil
}

// checkClaims applies RFC 7519 §4.1.4-6 with skew, the lifetime bound and
// Cognito's token_use / client_id / aud rules (as aws-jwt-verify does).
func (v *Verifier) checkClaims(r *issuerRules, c *Claims, now time.Time) error {
	switch {
	case c.Expiry.IsZero():
		return errNoExp
	case !now.Before(c.Expiry.Add(v.skew)):
		return ErrTokenExpired
	case c.IssuedAt.IsZero():
		return errNoIat
	case c.IssuedAt.After(now.Add(v.skew)):
		return errIatFuture
	case !c.NotBefore.IsZero() && c.NotBefore.After(now.Add(v.skew)):
		return errNotYetValid
	case c.Expiry.Sub(c.IssuedAt) > v.maxLifetime, c.Expiry.Sub(now) > v.maxLifetime+v.skew:
		return errLifetime
	case c.Subject == "":
		return errNoSub
	}
	if c.TokenUse != r.iss.TokenUse && (c.TokenUse != "" || !r.iss.TokenUseOptional) {
		return errTokenUse
	}
	if r.iss.TokenUse == TokenUseID {
		if !containsAny(c.Audience, r.iss.ClientIDs) {
			return errAudience
		}
		for _, a := range c.Audience { // OIDC Core §3.1.3.7 step 3: no untrusted audience
			if !slices.Contains(r.iss.ClientIDs, a) && !slices.Contains(r.iss.TrustedAudiences, a) {
				return errAudience
			}
		}
		// OIDC Core §3.1.3.7: with several audiences, azp names the client.
		if (len(c.Audience) > 1 || c.AuthorizedParty != "") && !slices.Contains(r.iss.ClientIDs, c.AuthorizedParty) {
			return errAZP
		}
		return nil
	}
	if len(r.iss.ClientIDs) > 0 && !slices.Contains(r.iss.ClientIDs, c.ClientID) {
		return errClientID
	}
	if len(r.iss.Audiences) > 0 && !containsAny(c.Audience, r.iss.Audiences) {
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
