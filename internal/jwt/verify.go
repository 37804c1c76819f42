package jwt

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pubauth/awsauth/internal/jwks"
)

// Defaults of Config, the module's one clock skew and lifetime bound.
const (
	// DefaultClockSkew is the leeway for exp, nbf and iat on every path: the callback, the
	// refresh and the bearer verifier.
	DefaultClockSkew = time.Minute
	// MaxClockSkew bounds Config.ClockSkew.
	MaxClockSkew = 5 * time.Minute
	// DefaultMaxLifetime bounds exp - iat and exp - now: a token valid for longer comes from a
	// broken or lying issuer (Cognito's tokens live at most one day).
	DefaultMaxLifetime = 24 * time.Hour
)

// Token is a JWT taken apart by Parse: its header read, its claims decoded, nothing verified.
type Token struct {
	// Alg, Kid and Typ are the protected header's alg, kid and typ ("" when absent).
	Alg, Kid, Typ string
	// Signer is the AWS ALB's signer header member ("" when absent).
	Signer string
	// Claims are the decoded claims: the attacker's until Verify accepts the token.
	Claims Claims

	jws jwks.JWS
}

// Parse checks the shape of raw (a JWS Compact Serialization of at most maxBytes bytes;
// jwks.DefaultMaxTokenBytes when maxBytes <= 0), its protected header (jwks.Parse: strict JSON,
// no crit, jwk, jku, x5u, x5c, enc, zip or b64) and decodes its claims strictly (see Claims).
// intern, when not nil, returns a configured string equal to b, or "": matching claims then
// cost no allocation. It verifies nothing: use it alone only to read a token that was verified
// before it was stored. Errors wrap ErrMalformed.
func Parse(raw string, maxBytes int, intern func(b []byte) string) (Token, error) {
	return parse(raw, maxBytes, intern, jwks.Unpadded)
}

func parse(raw string, maxBytes int, intern func(b []byte) string, enc jwks.Encoding) (Token, error) {
	jws, err := jwks.ParseEncoding(raw, maxBytes, enc)
	if err != nil {
		return Token{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	t := Token{Alg: jws.Alg, Kid: jws.Kid, Typ: jws.Typ, Signer: jws.Signer, jws: jws}
	if err := decodeClaims(&t.Claims, jws.Payload, intern); err != nil {
		return Token{}, err
	}
	return t, nil
}

// KeySource finds the key a token names and checks the token's signature with it, fetching as
// the Refetch allows: a JWKS (*jwks.KeySet) or keys published one per kid (*jwks.PEMKeys, the
// AWS ALB's). Its errors are jwks's: ErrFetch for a key that could not be fetched.
type KeySource interface {
	Verify(ctx context.Context, t *jwks.JWS, r jwks.Refetch) error
	Algorithms() []string
}

var (
	_ KeySource = (*jwks.KeySet)(nil)
	_ KeySource = (*jwks.PEMKeys)(nil)
)

// Config configures a Verifier: one issuer, its key set and one profile.
type Config struct {
	// Issuer is the exact iss accepted, compared byte for byte.
	Issuer string
	// Keys is the issuer's key set. Required.
	Keys KeySource
	// Algorithms is the JWS allow-list; nil means Keys.Algorithms(). A shared key set may allow
	// more than this verifier does.
	Algorithms []string
	// Profile is the kind of token accepted.
	Profile Profile
	// ClockSkew is the leeway for exp, nbf and iat: default DefaultClockSkew, at most MaxClockSkew.
	ClockSkew time.Duration
	// MaxLifetime bounds exp - iat and exp - now: default DefaultMaxLifetime.
	MaxLifetime time.Duration
	// MaxTokenBytes bounds the tokens Verify parses: default jwks.DefaultMaxTokenBytes.
	MaxTokenBytes int
	// Now is the clock: default time.Now.
	Now func() time.Time
}

// Verifier verifies the tokens of one issuer with one profile. It is safe for concurrent use.
type Verifier struct {
	issuer      string
	keys        KeySource
	algs        []string
	profile     Profile
	skew        time.Duration
	maxLifetime time.Duration
	maxBytes    int
	now         func() time.Time
}

// New validates cfg and returns a Verifier.
func New(cfg Config) (*Verifier, error) {
	var errs []error
	if cfg.Issuer == "" {
		errs = append(errs, errors.New("no Issuer"))
	}
	if cfg.Keys == nil {
		errs = append(errs, errors.New("no key set"))
	}
	if err := cfg.Profile.validate(); err != nil {
		errs = append(errs, err)
	}
	switch {
	case cfg.ClockSkew < 0 || cfg.MaxLifetime < 0 || cfg.MaxTokenBytes < 0:
		errs = append(errs, errors.New("negative ClockSkew, MaxLifetime or MaxTokenBytes"))
	case cfg.ClockSkew > MaxClockSkew:
		errs = append(errs, fmt.Errorf("ClockSkew must be at most %v", MaxClockSkew))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	v := &Verifier{
		issuer: cfg.Issuer, keys: cfg.Keys, algs: cfg.Algorithms, profile: cfg.Profile,
		skew: cfg.ClockSkew, maxLifetime: cfg.MaxLifetime, maxBytes: cfg.MaxTokenBytes, now: cfg.Now,
	}
	if v.algs == nil {
		v.algs = cfg.Keys.Algorithms()
	}
	if v.skew == 0 {
		v.skew = DefaultClockSkew
	}
	if v.maxLifetime == 0 {
		v.maxLifetime = DefaultMaxLifetime
	}
	if v.now == nil {
		v.now = time.Now
	}
	return v, nil
}

// Issuer returns the issuer the verifier accepts.
func (v *Verifier) Issuer() string { return v.issuer }

// Intern returns the configured string equal to b (the issuer, a client id, an audience, a
// token_use), or "": Parse's intern for tokens of this verifier.
func (v *Verifier) Intern(b []byte) string {
	if string(b) == v.issuer {
		return v.issuer
	}
	for _, list := range [...][]string{v.profile.ClientIDs, v.profile.Audiences} {
		for _, s := range list {
			if string(b) == s {
				return s
			}
		}
	}
	switch string(b) {
	case TokenUseAccess:
		return TokenUseAccess
	case TokenUseID:
		return TokenUseID
	}
	return ""
}

// Options are what one verification asks beyond the profile.
type Options struct {
	// Refetch says whether an unknown kid may refetch the key set outside its interval:
	// jwks.RefetchOnce only for a token straight from the issuer's token endpoint.
	Refetch jwks.Refetch
	// Nonce, when set, must equal the token's nonce (compared in constant time); with
	// NonceOptional a token without nonce passes too (a refreshed ID token, OIDC Core §12.2).
	Nonce         string
	NonceOptional bool
	// IssuedAfter, when set, refuses a token whose iat is before it (less the skew): a token
	// issued for a request that started then.
	IssuedAfter time.Time
	// MaxAge, when positive, is the max_age the authorization request sent: auth_time is then
	// required and must be at most MaxAge before now, with the skew (OIDC Core §3.1.2.1,
	// §3.1.3.7 step 13; AuthTimeWithin).
	MaxAge time.Duration
	// AuthenticatedAfter, when set, requires auth_time no earlier than it (less the skew): the
	// start of a login that asked for a new authentication (prompt=login, OIDC Core §3.1.2.1).
	AuthenticatedAfter time.Time
	// ACRValues, when set, are the acr_values the authorization request sent: acr is then
	// required and must be one of them (OIDC Core §3.1.2.1, §5.5.1.1; ACRAccepted).
	ACRValues []string
}

// Verify parses raw (with Parse's rules; base64 padding too for a Padded profile) and
// verifies it (see VerifyParsed).
func (v *Verifier) Verify(ctx context.Context, raw string, o Options) (*Claims, error) {
	enc := jwks.Unpadded
	if v.profile.Padded {
		enc = jwks.Padded
	}
	t, err := parse(raw, v.maxBytes, v.Intern, enc)
	if err != nil {
		return nil, err
	}
	if err := v.VerifyParsed(ctx, &t, o); err != nil {
		return nil, err
	}
	return &t.Claims, nil
}

// VerifyParsed verifies a token from Parse: typ (RFC 8725 §3.11), iss, alg, the signature
// with the issuer's key set (RFC 7515), exp, iat and nbf with the skew and the lifetime bound
// (RFC 7519 §4.1), sub, a Security Event Token's event, nonce and jti (Profile.Event),
// token_use, the audience rule, then o (nonce, then auth_time and acr). Errors wrap ErrInvalid and one
// reason, or ErrKeySetUnavailable.
func (v *Verifier) VerifyParsed(ctx context.Context, t *Token, o Options) error {
	p := &v.profile
	if !p.typeAllowed(t.Typ) {
		return ErrType
	}
	if t.jws.Padded && !p.Padded {
		return ErrPadding
	}
	c := &t.Claims
	if c.Issuer != v.issuer {
		return ErrIssuer // before any key lookup: a foreign iss buys no fetch
	}
	if err := p.checkSigner(&t.jws); err != nil {
		return err // before any key lookup too
	}
	if !slices.Contains(v.algs, t.Alg) {
		return ErrAlgorithm
	}
	if err := v.verifySignature(ctx, t, o.Refetch); err != nil {
		return keyError(err)
	}
	if err := v.checkTimes(c, o.IssuedAfter); err != nil {
		return err
	}
	if c.Subject == "" && (p.Event == "" || c.SessionID == "") {
		return ErrSubject
	}
	if err := p.checkEvent(c); err != nil {
		return err
	}
	if p.TokenUse != "" && c.TokenUse != p.TokenUse && (c.Has(ClaimTokenUse) || !p.TokenUseOptional) {
		return ErrTokenUse
	}
	if err := p.checkAudience(c); err != nil {
		return err
	}
	if o.Nonce != "" && (c.Has(ClaimNonce) || !o.NonceOptional) &&
		subtle.ConstantTimeCompare([]byte(c.Nonce), []byte(o.Nonce)) != 1 {
		return ErrNonce
	}
	return v.checkAuthentication(c, &o)
}

// verifySignature checks t's signature with the key source. A JWKS is called directly: through
// the interface, &t.jws would escape and every token would cost one more allocation (the
// bearer benchmark counts them); another source gets a copy.
func (v *Verifier) verifySignature(ctx context.Context, t *Token, r jwks.Refetch) error {
	if ks, ok := v.keys.(*jwks.KeySet); ok {
		return ks.Verify(ctx, &t.jws, r)
	}
	jws := t.jws
	return v.keys.Verify(ctx, &jws, r)
}

// checkTimes applies RFC 7519 §4.1.4-6 with the skew, and the lifetime bound; for a profile
// with an Event, iat is required within the skew of now on both sides and exp is optional.
func (v *Verifier) checkTimes(c *Claims, issuedAfter time.Time) error {
	now := v.now()
	recent := v.profile.Event != "" // a Security Event Token: iat within the skew, exp optional
	switch {
	case !c.Has(ClaimExp) && !recent:
		return ErrNoExpiry
	case c.Has(ClaimExp) && !now.Before(c.Expiry.Add(v.skew)):
		return ErrExpired
	case !c.Has(ClaimIat) && !v.profile.IssuedAtOptional:
		return ErrNoIssuedAt
	case c.IssuedAt.After(now.Add(v.skew)):
		return ErrIssuedAt
	case !issuedAfter.IsZero() && c.IssuedAt.Before(issuedAfter.Add(-v.skew)):
		return ErrIssuedAt
	case recent && c.IssuedAt.Before(now.Add(-v.skew)):
		return ErrIssuedAt
	case c.Has(ClaimNbf) && c.NotBefore.After(now.Add(v.skew)):
		return ErrNotYetValid
	case c.Has(ClaimExp) && (c.Has(ClaimIat) && c.Expiry.Sub(c.IssuedAt) > v.maxLifetime || c.Expiry.Sub(now) > v.maxLifetime+v.skew):
		return ErrLifetime
	}
	return nil
}
