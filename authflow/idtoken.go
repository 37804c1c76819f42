package authflow

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/pubauth/awsauth/internal/jwks"
	"github.com/pubauth/awsauth/internal/jwt"
)

// ErrIDToken wraps every reason an ID token is refused, at the callback and after a refresh.
// The reason (from the module's one verification core) follows it in the message; it never
// quotes the token or a claim value.
var ErrIDToken = errors.New("authflow: invalid ID token")

// ErrNonceMismatch is returned (wrapped in ErrIDToken) when the ID token's nonce is not the one
// the login sent (OIDC Core §3.1.3.7 step 11), or a refreshed ID token carries another one.
var ErrNonceMismatch = fmt.Errorf("%w: nonce mismatch", ErrIDToken)

// errIDTokenKeys wraps an ID token refused because the provider's key set could not be
// fetched: the provider misbehaves, the token may be good.
var errIDTokenKeys = fmt.Errorf("%w: key set unavailable", ErrIDToken)

// newIDTokenVerifier is the callback's and the refresh's verifier: the OIDC ID-token profile
// (OIDC Core §3.1.3.7) for cfg.ClientID on the provider's key set, token_use "id" when present.
func newIDTokenVerifier(cfg *Config, keys *jwks.KeySet, algs []string) (*jwt.Verifier, error) {
	return jwt.New(jwt.Config{
		Issuer:     cfg.Issuer,
		Keys:       keys,
		Algorithms: algs,
		Profile:    jwt.IDToken([]string{cfg.ClientID}, cfg.TrustedAudiences, true),
		ClockSkew:  cfg.ClockSkew,
		Now:        cfg.Now,
	})
}

// verifyIDToken verifies an ID token that came from p's token endpoint (so an unknown kid gets
// its own refetch of the key set: no stranger can send it) under o.
func (h *Handler) verifyIDToken(ctx context.Context, p *provider, raw string, o jwt.Options) (*jwt.Claims, error) {
	o.Refetch = jwks.RefetchOnce
	c, err := p.idTokens.Verify(ctx, raw, o)
	switch {
	case err == nil:
		return c, nil
	case errors.Is(err, jwt.ErrNonce):
		return nil, ErrNonceMismatch
	case errors.Is(err, jwt.ErrAuthTime), errors.Is(err, jwt.ErrACR):
		return nil, fmt.Errorf("%w: %w", ErrInsufficientAuthentication, err)
	case errors.Is(err, jwt.ErrKeySetUnavailable):
		return nil, fmt.Errorf("%w: %w", errIDTokenKeys, err)
	}
	return nil, fmt.Errorf("%w: %w", ErrIDToken, err)
}

// verifyRefreshedIDToken applies OIDC Core §12.2 to an ID token from a refresh: verified as at
// the callback, with the same sub, aud and azp as the session's (iss is the verifier's), and a
// nonce that is absent or the original.
func (h *Handler) verifyRefreshedIDToken(ctx context.Context, p *provider, s *Session, raw string) (*jwt.Claims, error) {
	c, err := h.verifyIDToken(ctx, p, raw, jwt.Options{Nonce: s.nonce, NonceOptional: true})
	if err != nil {
		return nil, err
	}
	// The stored token was verified before it was stored: it is read, not verified again.
	orig, err := jwt.Parse(s.tokens.IDToken, 0, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: stored ID token: %w", ErrIDToken, err)
	}
	switch o := &orig.Claims; {
	case c.Subject != o.Subject:
		return nil, fmt.Errorf("%w: refreshed ID token has another sub", ErrIDToken)
	case !sameSet(c.Audience, o.Audience):
		return nil, fmt.Errorf("%w: refreshed ID token has another aud", ErrIDToken)
	case c.AuthorizedParty != o.AuthorizedParty:
		return nil, fmt.Errorf("%w: refreshed ID token has another azp", ErrIDToken)
	}
	return c, nil
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
