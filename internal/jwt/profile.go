package jwt

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pubauth/awsauth/internal/jwks"
)

// Token uses: the values of Amazon Cognito's token_use claim.
const (
	TokenUseAccess = "access"
	TokenUseID     = "id"
)

// Media types of the typ header (RFC 7515 §4.1.9), in the short form ("application/" left off),
// lower case. TypeNone stands for a token without typ.
const (
	TypeNone        = ""
	TypeJWT         = "jwt"
	TypeAccessToken = "at+jwt"     // RFC 9068 §2.1
	TypeLogoutToken = "logout+jwt" // OIDC Back-Channel Logout 1.0 §2.4
)

// AudienceRule is how a profile checks aud, azp and client_id.
type AudienceRule uint8

const (
	// AccessTokenAudience: client_id must be one of ClientIDs when ClientIDs is set (Cognito,
	// RFC 9068 §2.2), and aud must contain one of Audiences when Audiences is set (RFC 9068 §4:
	// the resource server's identifier). At least one of the two must be set.
	AccessTokenAudience AudienceRule = iota
	// IDTokenAudience: OIDC Core §3.1.3.7 steps 3-5. aud must contain one of ClientIDs, every
	// other audience must be in TrustedAudiences, and azp, required with several audiences,
	// must be one of ClientIDs when present.
	IDTokenAudience
	// LoadBalancerAudience: an AWS ALB's x-amzn-oidc-data, meant for the targets of the load
	// balancer that signed it: the protected header's signer must be one of Signers and, when
	// ClientIDs is set, its client one of ClientIDs. Both are checked before any key lookup.
	// The payload (the IdP's userinfo claims) carries no aud or client_id to check.
	LoadBalancerAudience
)

// Profile is the rules for one kind of token: which typ values it accepts, its token_use and
// its audience rule. The registered claims (exp, iat, nbf, sub) are checked alike for every
// profile by the Verifier. Build one with IDToken or AccessToken.
type Profile struct {
	// Kind names the kind of token in messages: "ID token", "access token".
	Kind string
	// Types are the accepted typ values in the form of the Type constants; TypeNone accepts a
	// token without typ. typ is compared case-insensitively, with or without "application/".
	Types []string
	// TokenUse, when set, is the required token_use; with TokenUseOptional a token without
	// token_use passes too (a token_use that is present must still equal it).
	TokenUse         string
	TokenUseOptional bool
	// Audience is the audience rule, with ClientIDs, Audiences, TrustedAudiences and Signers.
	Audience                               AudienceRule
	ClientIDs, Audiences, TrustedAudiences []string
	Signers                                []string
	// IssuedAtOptional accepts a token without iat (an iat that is present is still checked).
	IssuedAtOptional bool
	// Padded accepts base64url parts padded with "=" (jwks.Padded) besides unpadded ones; every
	// other profile keeps RFC 7515's unpadded encoding, and Verify refuses padding for them
	// (ErrPadding).
	Padded bool

	// Event, when set, makes the token a Security Event Token (RFC 8417) of this event: events
	// must carry it (ErrEvent), nonce must be absent (ErrNonce: OIDC Back-Channel Logout 1.0
	// §2.4 forbids it so that a logout token can't pass for an ID token), jti is required
	// (ErrNoID), iat must be within the skew of now on either side (ErrIssuedAt), exp may be
	// absent (checked when present), and sub may be absent when sid is present (ErrSubject when
	// both are).
	Event string
}

// EventBackChannelLogout is the events member of a logout token (OIDC Back-Channel Logout 1.0
// §2.4).
const EventBackChannelLogout = "http://schemas.openid.net/event/backchannel-logout"

// LogoutToken is the profile of an OpenID Connect Back-Channel Logout 1.0 logout token for one
// of clientIDs (§2.4, validated as §2.6 says): typ absent, JWT or logout+jwt (the explicit type
// §2.3 recommends; at+jwt is refused, RFC 8725 §3.11); iss, aud (the ID-token audience rule of
// OIDC Core §3.1.3.7, with trusted as the extra audiences), iat within the skew of now, exp
// when present, the back-channel logout event, jti, sid and/or sub, and no nonce (see
// Profile.Event).
func LogoutToken(clientIDs, trusted []string) Profile {
	return Profile{
		Kind: "logout token", Types: []string{TypeNone, TypeJWT, TypeLogoutToken},
		Audience: IDTokenAudience, ClientIDs: clientIDs, TrustedAudiences: trusted,
		Event: EventBackChannelLogout,
	}
}

// IDToken is the profile of an OpenID Connect ID token for one of clientIDs (OIDC Core
// §3.1.3.7), Cognito's included: typ absent or JWT (so an RFC 9068 access token or a logout
// token is refused, RFC 8725 §3.11), token_use "id" when present (required unless
// tokenUseOptional), and the ID-token audience rule with trusted as the extra audiences.
func IDToken(clientIDs, trusted []string, tokenUseOptional bool) Profile {
	return Profile{
		Kind: "ID token", Types: []string{TypeNone, TypeJWT},
		TokenUse: TokenUseID, TokenUseOptional: tokenUseOptional,
		Audience: IDTokenAudience, ClientIDs: clientIDs, TrustedAudiences: trusted,
	}
}

// AccessToken is the profile of a JWT access token: Cognito's (token_use "access", no typ,
// client_id) or any issuer's (RFC 9068: typ at+jwt, aud, client_id). typ may be absent, JWT or
// at+jwt; with requireATJWT only at+jwt passes (RFC 9068 §4). token_use must be "access" unless
// tokenUseOptional, which accepts a token without it.
func AccessToken(clientIDs, audiences []string, tokenUseOptional, requireATJWT bool) Profile {
	types := []string{TypeNone, TypeJWT, TypeAccessToken}
	if requireATJWT {
		types = []string{TypeAccessToken}
	}
	return Profile{
		Kind: "access token", Types: types,
		TokenUse: TokenUseAccess, TokenUseOptional: tokenUseOptional,
		Audience: AccessTokenAudience, ClientIDs: clientIDs, Audiences: audiences,
	}
}

// ALB is the profile of the user claims an AWS Application Load Balancer with an
// authenticate-oidc or authenticate-cognito action sends its targets in x-amzn-oidc-data
// (Elastic Load Balancing User Guide, "Authenticate users using an Application Load Balancer",
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-authenticate-users.html):
// typ absent or JWT, parts base64url with or without padding (ALB pads), the signer header one
// of signers (the load balancer ARNs), the client header one of clientIDs when set, no iat
// required (ALB sends exp and iss only), no token_use and no aud rule.
func ALB(signers, clientIDs []string) Profile {
	return Profile{
		Kind: "ALB token", Types: []string{TypeNone, TypeJWT},
		Audience: LoadBalancerAudience, Signers: signers, ClientIDs: clientIDs,
		IssuedAtOptional: true, Padded: true,
	}
}

// checkSigner applies LoadBalancerAudience's header rules; other rules have none.
func (p *Profile) checkSigner(h *jwks.JWS) error {
	if p.Audience != LoadBalancerAudience {
		return nil
	}
	if !slices.Contains(p.Signers, h.Signer) || (len(p.ClientIDs) > 0 && !slices.Contains(p.ClientIDs, h.Client)) {
		return ErrSigner
	}
	return nil
}

// validate reports a profile that can accept tokens meant for someone else.
func (p *Profile) validate() error {
	if len(p.Types) == 0 {
		return errors.New("a profile accepts no typ")
	}
	if slices.Contains(p.ClientIDs, "") || slices.Contains(p.Audiences, "") || slices.Contains(p.TrustedAudiences, "") ||
		slices.Contains(p.Signers, "") {
		return errors.New("empty client id, audience or signer")
	}
	if len(p.Signers) > 0 && p.Audience != LoadBalancerAudience {
		return fmt.Errorf("%s: Signers are for the load balancer audience rule", p.Kind)
	}
	switch p.Audience {
	case AccessTokenAudience:
		if len(p.ClientIDs) == 0 && len(p.Audiences) == 0 {
			return fmt.Errorf("%s: ClientIDs or Audiences required", p.Kind)
		}
	case IDTokenAudience:
		if len(p.ClientIDs) == 0 {
			return fmt.Errorf("%s: ClientIDs required", p.Kind)
		}
	case LoadBalancerAudience:
		if len(p.Signers) == 0 {
			return fmt.Errorf("%s: Signers required", p.Kind)
		}
		if len(p.Audiences) > 0 || len(p.TrustedAudiences) > 0 {
			return fmt.Errorf("%s: no aud to check", p.Kind)
		}
	default:
		return errors.New("unknown audience rule")
	}
	return nil
}

// typeAllowed reports whether the typ header value is among the profile's types.
func (p *Profile) typeAllowed(typ string) bool {
	short, ok := cutPrefixFold(typ, "application/")
	if ok && short == "" {
		return false
	}
	for _, t := range p.Types {
		if strings.EqualFold(short, t) {
			return true
		}
	}
	return false
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// checkAudience applies the profile's audience rule.
func (p *Profile) checkAudience(c *Claims) error {
	if p.Audience == LoadBalancerAudience {
		return nil // checkSigner did, before the key lookup
	}
	if p.Audience == IDTokenAudience {
		if !containsAny(c.Audience, p.ClientIDs) {
			return ErrAudience
		}
		for _, a := range c.Audience {
			if !slices.Contains(p.ClientIDs, a) && !slices.Contains(p.TrustedAudiences, a) {
				return ErrAudience // step 3: no untrusted audience
			}
		}
		// Steps 4-5: with several audiences azp names the client; when present, it must.
		if (len(c.Audience) > 1 || c.Has(ClaimAZP)) && !slices.Contains(p.ClientIDs, c.AuthorizedParty) {
			return ErrAuthorizedParty
		}
		return nil
	}
	if len(p.ClientIDs) > 0 && !slices.Contains(p.ClientIDs, c.ClientID) {
		return ErrClientID
	}
	if len(p.Audiences) > 0 && !containsAny(c.Audience, p.Audiences) {
		return ErrAudience
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

// checkEvent applies Profile.Event: the event in events, no nonce, a jti. Other profiles have
// no such rule.
func (p *Profile) checkEvent(c *Claims) error {
	switch {
	case p.Event == "":
		return nil
	case !slices.Contains(c.Events, p.Event):
		return ErrEvent
	case c.Has(ClaimNonce):
		return ErrNonce
	case c.ID == "":
		return ErrNoID
	}
	return nil
}
