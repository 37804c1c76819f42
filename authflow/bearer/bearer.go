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
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/pubauth/awsauth/internal/cognito"
	"github.com/pubauth/awsauth/internal/httpx"
	"github.com/pubauth/awsauth/internal/jwks"
	"github.com/pubauth/awsauth/internal/jwt"
)

// Token uses (Cognito's token_use claim).
const (
	TokenUseAccess = jwt.TokenUseAccess
	TokenUseID     = jwt.TokenUseID
)

// Defaults of Config.
const (
	// DefaultMaxTokenBytes is Config.MaxTokenBytes's default, in bytes.
	DefaultMaxTokenBytes = 8 << 10
	// DefaultClockSkew is Config.ClockSkew's default: the module's one skew, the login flow's too.
	DefaultClockSkew = jwt.DefaultClockSkew
	// DefaultMaxLifetime is Config.MaxLifetime's default.
	DefaultMaxLifetime = jwt.DefaultMaxLifetime
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
	// or https://issuer-cognito-idp.<region>.amazonaws.com/<poolID> (see
	// Cognito); an issuer naming cognito-idp in another shape is refused.
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
	// RequireATJWT accepts only access tokens whose typ header is at+jwt
	// (RFC 9068 §2.1, §4), for an issuer that types its JWT access tokens:
	// an ID token or another kind of JWT signed by the same keys is then
	// refused whatever its claims (RFC 8725 §3.11). Cognito's access tokens
	// carry no typ: leave it false for them. Access tokens only.
	RequireATJWT bool
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
	// Issuer + "/.well-known/jwks.json" for a Cognito issuer (no discovery),
	// else the jwks_uri of the issuer's discovery document (fetched by New)
	// unless JWKS or KeySet is set.
	JWKSURL string
	// JWKS primes the key set with a JWKS document (RFC 7517 §5), for a
	// start with no request: the issuer's keys saved at build time and
	// embedded in the binary (//go:embed, see the Example) or shipped beside
	// it. A token naming a kid the document lacks (a key rotated in since)
	// still causes a fetch of the key set, at most once per RefetchInterval,
	// from JWKSURL or a Cognito issuer's own; a fetched set replaces the
	// primed one. For another issuer without JWKSURL the key set is offline:
	// it holds the document's keys only. New fails when the document holds
	// no usable key.
	JWKS []byte
	// Algorithms is the JWS allow-list: asymmetric algorithms only (RS256,
	// RS384, RS512, PS256..., ES256..., EdDSA). Default ["RS256"] (Cognito's).
	Algorithms []string

	err error // from Cognito: a malformed CognitoPool, reported by New
}

// CognitoPool names the issuer of an Amazon Cognito user pool's tokens, in
// the issuer format the pool is configured with; bearer.Cognito takes it.
// Its fields:
//
//   - ID, the user pool id "<region>_<id>" (required);
//   - IssuerType, the pool's IssuerConfiguration.Type as DescribeUserPool
//     reports it: "ORIGINAL" (empty means ORIGINAL),
//     https://cognito-idp.<region>.amazonaws.com/<ID>, or "UPDATED",
//     https://issuer-cognito-idp.<primary region>.amazonaws.com/<ID>;
//   - Region, for an ORIGINAL issuer with multi-Region replication, a
//     replica's Region, which the tokens it issues name in iss (empty means
//     the pool's own Region; refused with UPDATED, which names the primary).
//
// Each is matched exactly: a pool whose tokens may carry several issuers (a
// replica's with ORIGINAL, or both types while the pool moves to UPDATED)
// is one Issuer per issuer in Config.Issuers. See
// https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_IssuerConfigurationType.html
// and https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-multi-region.html.
type CognitoPool = cognito.Pool

// Cognito returns the Issuer of an Amazon Cognito user pool's access tokens
// (token_use "access") whose client_id is one of clientIDs, the app clients
// of the pool. Its Issuer is pool's issuer, exactly (see CognitoPool); its
// key set is that issuer's /.well-known/jwks.json, with either issuer type
// (no discovery round trip). To accept the pool's ID tokens instead, set
// TokenUse to TokenUseID on the result: the token's aud must then be one of
// clientIDs. New refuses a malformed pool.
// See https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html.
func Cognito(pool CognitoPool, clientIDs ...string) Issuer {
	iss, err := pool.Issuer()
	return Issuer{Issuer: iss, TokenUse: TokenUseAccess, ClientIDs: clientIDs, err: err}
}

// Config configures New: the accepted issuers and the rules common to all.
type Config struct {
	// Issuers are the accepted issuers (user pools, regions or providers),
	// each with its own rules and key set; at least one. A token is checked
	// against the one whose Issuer equals its iss; a token from any other
	// issuer is refused before any key is looked up.
	Issuers []Issuer

	// ClockSkew is the leeway for exp, nbf and iat. Default
	// DefaultClockSkew (1 minute); at most 5 minutes.
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

	// MeterProvider, when set, counts verifications and records the key sets' fetches;
	// TracerProvider, when set, traces the key sets' fetches. Nil means none (no-op). README.md's
	// Telemetry section lists the instruments; no attribute carries a token or a claim.
	MeterProvider  metric.MeterProvider
	TracerProvider trace.TracerProvider
}

// Verifier verifies bearer tokens (RFC 6750) with Amazon Cognito's rules
// (or a generic issuer's) and guards net/http handlers. Create it with New.
// It is safe for concurrent use.
type Verifier struct {
	issuers  []*jwt.Verifier // one per issuer, with its profile and key set
	maxToken int
	cache    *tokenCache[*Claims]
	realm    string
	onError  func(http.ResponseWriter, *http.Request, error)
	log      *slog.Logger
	now      func() time.Time
	tel      *verifyTelemetry // nil without a MeterProvider
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
		{"ClockSkew", &cfg.ClockSkew, DefaultClockSkew, jwt.MaxClockSkew},
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
		maxToken: cfg.MaxTokenBytes, realm: cfg.Realm, onError: cfg.ErrorHandler, log: cfg.Logger, now: cfg.Now,
		tel: newVerifyTelemetry(cfg.MeterProvider),
	}
	if cfg.CacheSize >= 0 {
		size := cfg.CacheSize
		if size == 0 {
			size = DefaultCacheSize
		}
		v.cache = newTokenCache[*Claims](size)
	}
	for _, iss := range all {
		algs := iss.Algorithms
		if len(algs) == 0 {
			algs = []string{oidc.RS256}
		}
		ks, err := keySetOf(ctx, &cfg, client, &iss)
		if err != nil {
			return nil, err
		}
		profile := jwt.AccessToken(iss.ClientIDs, iss.Audiences, iss.TokenUseOptional, iss.RequireATJWT)
		if iss.TokenUse == TokenUseID {
			profile = jwt.IDToken(iss.ClientIDs, iss.TrustedAudiences, iss.TokenUseOptional)
		}
		jv, err := jwt.New(jwt.Config{
			Issuer: iss.Issuer, Keys: ks, Algorithms: algs, Profile: profile,
			ClockSkew: cfg.ClockSkew, MaxLifetime: cfg.MaxLifetime, MaxTokenBytes: cfg.MaxTokenBytes, Now: cfg.Now,
		})
		if err != nil {
			return nil, fmt.Errorf("bearer: issuer %q: %w", iss.Issuer, err)
		}
		v.issuers = append(v.issuers, jv)
	}
	return v, nil
}

// keySetOf returns the issuer's key set: the shared one, or a new one on its JWKSURL, on the
// Cognito pool's jwks_uri, or on the one its discovery document names, primed with its JWKS.
func keySetOf(ctx context.Context, cfg *Config, client *http.Client, iss *Issuer) (*jwks.KeySet, error) {
	if iss.KeySet != nil {
		return iss.KeySet, nil
	}
	url := iss.JWKSURL
	if _, ok := cognito.ParseIssuer(iss.Issuer); ok && url == "" {
		url = cognito.JWKSURL(iss.Issuer)
	} else if url == "" && iss.JWKS == nil {
		var err error
		if url, err = discoverJWKS(ctx, client, iss.Issuer); err != nil {
			return nil, err
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
		MeterProvider:   cfg.MeterProvider,
		TracerProvider:  cfg.TracerProvider,
	})
	if err != nil {
		return nil, fmt.Errorf("bearer: key set of %q: %w", iss.Issuer, err)
	}
	if iss.JWKS != nil {
		if err := ks.Prime(iss.JWKS); err != nil {
			return nil, fmt.Errorf("bearer: JWKS of %q: %w", iss.Issuer, err)
		}
	}
	return ks, nil
}

func (iss *Issuer) validate() error {
	if iss.err != nil {
		return fmt.Errorf("a Cognito user pool's issuer: %w", iss.err)
	}
	if iss.Issuer == "" {
		return errors.New("an issuer has no Issuer")
	}
	if err := httpx.CheckEndpoint("Issuer", iss.Issuer); err != nil {
		return err
	}
	if err := cognito.CheckIssuer(iss.Issuer); err != nil {
		return err
	}
	if iss.JWKSURL != "" {
		if err := httpx.CheckEndpoint("JWKSURL", iss.JWKSURL); err != nil {
			return err
		}
	}
	if iss.KeySet != nil && (iss.JWKSURL != "" || iss.JWKS != nil) {
		return fmt.Errorf("issuer %q: KeySet excludes JWKSURL and JWKS", iss.Issuer)
	}
	// The profile's own rules (ClientIDs or Audiences, no empty id) are the core's: jwt.New.
	switch iss.TokenUse {
	case TokenUseAccess:
		if len(iss.TrustedAudiences) > 0 {
			return fmt.Errorf("issuer %q: TrustedAudiences are for ID tokens; access tokens use Audiences", iss.Issuer)
		}
	case TokenUseID:
		if len(iss.Audiences) > 0 {
			return fmt.Errorf("issuer %q: Audiences are for access tokens; ID tokens use ClientIDs and TrustedAudiences", iss.Issuer)
		}
		if iss.RequireATJWT {
			return fmt.Errorf("issuer %q: RequireATJWT is for access tokens", iss.Issuer)
		}
	default:
		return fmt.Errorf("issuer %q: TokenUse must be %q or %q", iss.Issuer, TokenUseAccess, TokenUseID)
	}
	return nil
}

// discoverJWKS reads jwks_uri from the issuer's discovery document, whose
// issuer must be the configured one (internal/httpx.Discover, the login
// flow's too).
func discoverJWKS(ctx context.Context, client *http.Client, issuer string) (string, error) {
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := httpx.Discover(ctx, client, issuer, &meta); err != nil {
		return "", fmt.Errorf("bearer: %w", err)
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
// "Bearer "), in the module's verification core: its size, shape and
// protected header, typ (RFC 8725 §3.11; at+jwt with RequireATJWT), its iss
// against the configured issuers, its signature with that issuer's key set
// (RFC 7515, the algorithm allow-list), exp, nbf and iat with ClockSkew
// (RFC 7519 §4.1), its lifetime, sub, token_use, client_id or aud (and azp). A token
// verified before and not yet expired is served from the cache without the
// signature check. Requirements are not applied here: see Authenticate.
//
// Errors wrap ErrInvalidToken (ErrTokenExpired among them), or
// ErrKeySetUnavailable when the key could not be fetched; they never contain
// the token or a claim value.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	c, err := v.verify(ctx, raw)
	if err != nil {
		v.tel.refused(ctx, err)
	}
	return c, err
}

func (v *Verifier) verify(ctx context.Context, raw string) (*Claims, error) {
	if len(raw) > v.maxToken {
		return nil, errTokenTooLong
	}
	if raw == "" {
		return nil, errEmptyToken
	}
	now := v.now()
	if v.cache != nil {
		if c, ok := v.cache.get(raw, now); ok {
			v.tel.verified(ctx, true)
			return c, nil
		}
	}
	t, err := jwt.Parse(raw, v.maxToken, v.intern)
	if err != nil {
		return nil, fromCore(err)
	}
	var jv *jwt.Verifier
	for _, r := range v.issuers {
		if r.Issuer() == t.Claims.Issuer {
			jv = r
			break
		}
	}
	if jv == nil {
		return nil, errUnknownIssuer // before any key lookup: a foreign iss buys no fetch
	}
	// Anyone can send a bearer token: an unknown kid refetches at most once per interval.
	if err := jv.VerifyParsed(ctx, &t, jwt.Options{Refetch: jwks.RefetchLimited}); err != nil {
		return nil, fromCore(err)
	}
	c := newClaims(&t.Claims)
	tok := raw // for a Requirement that asks the issuer about the token (NotRevoked)
	c.token = &tok
	if v.cache != nil {
		v.cache.put(raw, c, c.Expiry, now)
	}
	v.tel.verified(ctx, false)
	return c, nil
}

// intern returns the configured string equal to b (an issuer, a client id, an audience, a
// token_use), or "", so that the claims that match cost no allocation.
func (v *Verifier) intern(b []byte) string {
	for _, r := range v.issuers {
		if s := r.Intern(b); s != "" {
			return s
		}
	}
	return ""
}
