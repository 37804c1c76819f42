package authflowtest

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"maps"
	"math/big"
	"strings"
	"time"
)

// User is who signs in, and what the provider's tokens say about them.
type User struct {
	// Subject is sub. Empty means the provider's Options.User.
	Subject string
	// Username is username in access tokens and cognito:username in ID
	// tokens. Default Subject.
	Username string
	// Email, when set, is email in ID tokens, with email_verified true.
	Email string
	// Groups are cognito:groups, in ID and access tokens.
	Groups []string
	// Claims are further ID token claims ("name", "custom:tenant", ...);
	// they can't replace the claims the provider sets.
	Claims map[string]any
}

// Token describes a token to mint. Zero fields take the provider's defaults.
type Token struct {
	// User is whose token it is; a zero Subject means Options.User.
	// Client-credentials tokens have no user: their sub is ClientID.
	User
	// ClientID is the client the token was issued to: client_id of access
	// tokens, aud of ID and logout tokens. Default Options.ClientID.
	ClientID string
	// Scopes is scope of access tokens (OAuth 2.0 scopes such as
	// "orders/read", a Cognito resource server's form).
	Scopes []string
	// Lifetime is exp - iat. Default Options.TokenLifetime.
	Lifetime time.Duration
	// Flaw, when set, makes the token one a correct verifier refuses.
	Flaw Flaw
}

// Flaw is what makes a token refused: each is one check of a verifier
// (RFC 7519 §7.2, OIDC Core §3.1.3.7, RFC 9068 §4, Cognito's "Verifying a
// JSON Web Token").
type Flaw int

const (
	// Expired: exp is ten minutes before the provider's Now, beyond any
	// verifier's clock skew (the module allows at most five minutes).
	Expired Flaw = iota + 1
	// OtherAudience: issued to another client (client_id and aud are
	// "authflowtest-other-client").
	OtherAudience
	// OtherIssuer: iss is the provider's issuer with "/other" after it.
	OtherIssuer
	// UnknownKey: signed by a key the provider never publishes, under a kid
	// its key set does not have.
	UnknownKey
	// BadSignature: the signature does not match the header and claims.
	BadSignature
)

// otherClient is the client and audience of OtherAudience tokens.
const otherClient = "authflowtest-other-client"

// AccessToken returns a signed access token for tok: Amazon Cognito's shape
// (token_use "access", client_id, scope, username, cognito:groups, jti,
// auth_time, no aud), or RFC 9068's when Options.Audience is set. It is
// what the token endpoint issues, for an API test's Authorization header.
// See https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html.
func (p *Provider) AccessToken(tok Token) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	u := p.user(tok.User)
	c := p.accessClaims(p.clientOr(tok.ClientID), tok.Scopes, p.now)
	c["sub"], c["username"] = u.Subject, u.username()
	if len(u.Groups) > 0 {
		c["cognito:groups"] = u.Groups
	}
	return p.signToken(p.accessHeader(), c, tok)
}

// IDToken returns a signed ID token for tok (OIDC Core §2; Cognito's shape:
// token_use "id", aud the client, cognito:username, cognito:groups, email,
// auth_time, and User.Claims). It carries no nonce: a login's ID token comes
// from the token endpoint, through SignIn.
// See https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-id-token.html.
func (p *Provider) IDToken(tok Token) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	g := &grant{user: p.user(tok.User), clientID: p.clientOr(tok.ClientID), authTime: p.now}
	return p.signToken(map[string]any{"typ": "JWT"}, p.idClaims(g, ""), tok)
}

// ClientCredentialsToken returns a signed access token of a client acting
// for itself (RFC 6749 §4.4; machine to machine): Cognito's shape, sub and
// client_id the client, scope tok.Scopes, no username or groups. tok.User is
// not used. The token endpoint issues the same for grant_type
// client_credentials.
// See https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-define-resource-servers.html.
func (p *Provider) ClientCredentialsToken(tok Token) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	client := p.clientOr(tok.ClientID)
	c := p.accessClaims(client, tok.Scopes, p.now)
	c["sub"] = client
	delete(c, "auth_time")
	return p.signToken(p.accessHeader(), c, tok)
}

// LogoutToken returns a signed logout token (OpenID Connect Back-Channel
// Logout 1.0 §2.4: typ logout+jwt, aud the client, the back-channel logout
// event, jti, iat, exp, no nonce) naming the user (sub) and, when sid is
// not empty, their session at the provider (sid; SignIn's ID tokens carry
// one).
func (p *Provider) LogoutToken(tok Token, sid string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := map[string]any{
		"iss": p.issuer, "aud": p.clientOr(tok.ClientID), "jti": randomString(16),
		"iat": p.now.Unix(), "exp": p.now.Add(2 * time.Minute).Unix(),
		"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}},
	}
	c["sub"] = p.user(tok.User).Subject
	if sid != "" {
		c["sid"] = sid
	}
	tok.Lifetime = 2 * time.Minute
	return p.signToken(map[string]any{"typ": "logout+jwt"}, c, tok)
}

// user fills u's defaults; the caller holds p.mu.
func (p *Provider) user(u User) User {
	if u.Subject == "" {
		u = p.opts.User
	}
	return u
}

func (u User) username() string {
	if u.Username != "" {
		return u.Username
	}
	return u.Subject
}

func (p *Provider) clientOr(id string) string {
	if id == "" {
		return p.opts.ClientID
	}
	return id
}

// accessHeader is the protected header of access tokens: none beyond alg and
// kid for Cognito's shape, typ at+jwt for RFC 9068's (§2.1).
func (p *Provider) accessHeader() map[string]any {
	if p.opts.Audience != "" {
		return map[string]any{"typ": "at+jwt"}
	}
	return map[string]any{}
}

// accessClaims are the claims of an access token issued at now, without
// sub, username and groups; the caller holds p.mu.
func (p *Provider) accessClaims(client string, scopes []string, now time.Time) map[string]any {
	c := map[string]any{
		"iss": p.issuer, "client_id": client, "jti": randomString(16), "origin_jti": randomString(16),
		"event_id": randomString(16), "auth_time": now.Unix(),
		"iat": now.Unix(), "exp": now.Add(p.opts.TokenLifetime).Unix(),
	}
	if len(scopes) > 0 {
		c["scope"] = strings.Join(scopes, " ")
	}
	if p.opts.Audience != "" {
		c["aud"] = p.opts.Audience
	} else {
		c["token_use"] = "access"
	}
	return c
}

// idClaims are the claims of an ID token of grant g (nonce "" for none);
// the caller holds p.mu.
func (p *Provider) idClaims(g *grant, nonce string) map[string]any {
	c := maps.Clone(g.user.Claims)
	if c == nil {
		c = map[string]any{}
	}
	maps.Copy(c, map[string]any{
		"iss": p.issuer, "sub": g.user.Subject, "aud": g.clientID, "token_use": "id",
		"cognito:username": g.user.username(), "auth_time": g.authTime.Unix(),
		"iat": p.now.Unix(), "exp": p.now.Add(p.opts.TokenLifetime).Unix(), "jti": randomString(16),
	})
	if nonce != "" {
		c["nonce"] = nonce
	}
	if g.sid != "" {
		c["sid"] = g.sid
	}
	if g.user.Email != "" {
		c["email"], c["email_verified"] = g.user.Email, true
	}
	if len(g.user.Groups) > 0 {
		c["cognito:groups"] = g.user.Groups
	}
	return c
}

// signToken applies tok's lifetime and flaw to claims c and signs them; the
// caller holds p.mu.
func (p *Provider) signToken(h, c map[string]any, tok Token) string {
	iat := p.now
	life := tok.Lifetime
	if life == 0 {
		life = p.opts.TokenLifetime
	}
	key := p.keys[len(p.keys)-1]
	switch tok.Flaw {
	case Expired:
		iat = p.now.Add(-10*time.Minute - life)
	case OtherAudience:
		for _, name := range []string{"aud", "client_id"} {
			if _, ok := c[name]; ok {
				c[name] = otherClient
			}
		}
	case OtherIssuer:
		c["iss"] = p.issuer + "/other"
	case UnknownKey:
		if p.stranger == nil {
			k, err := newSigningKey()
			if err != nil {
				return "" // crypto/rand does not fail; a verifier refuses "" all the same
			}
			p.stranger = &k
		}
		key = *p.stranger
	}
	c["iat"], c["exp"] = iat.Unix(), iat.Add(life).Unix()
	if _, ok := c["auth_time"]; ok && tok.Flaw == Expired {
		c["auth_time"] = iat.Unix()
	}
	raw := sign(key, h, c)
	if tok.Flaw == BadSignature {
		dot := strings.LastIndexByte(raw, '.')
		sig, _ := base64.RawURLEncoding.DecodeString(raw[dot+1:])
		sig[len(sig)/2] ^= 0x20
		raw = raw[:dot+1] + base64.RawURLEncoding.EncodeToString(sig)
	}
	return raw
}

// sign makes an RS256 JWS in the compact serialization (RFC 7515 §7.1) of
// claims under header h, with alg and kid set.
func sign(k signingKey, h, claims map[string]any) string {
	h = maps.Clone(h)
	h["alg"], h["kid"] = "RS256", k.kid
	hb, _ := json.Marshal(h)
	cb, _ := json.Marshal(claims)
	input := b64(hb) + "." + b64(cb)
	sum := sha256.Sum256([]byte(input))
	sig, _ := rsa.SignPKCS1v15(nil, k.key, crypto.SHA256, sum[:])
	return input + "." + b64(sig)
}

// JWKS returns the provider's key set (RFC 7517 §5): every key it has
// signed with, RSA public keys for RS256 with use "sig". A verifier can be
// primed with it (bearer.Issuer.JWKS) to verify the provider's tokens
// without fetching; it is also served at the discovery document's jwks_uri.
func (p *Provider) JWKS() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.jwks()
}

func (p *Provider) jwks() []byte {
	keys := make([]any, 0, len(p.keys))
	for _, k := range p.keys {
		keys = append(keys, map[string]any{
			"kty": "RSA", "use": "sig", "alg": "RS256", "kid": k.kid,
			"n": b64(k.key.N.Bytes()), "e": b64(big.NewInt(int64(k.key.E)).Bytes()),
		})
	}
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
