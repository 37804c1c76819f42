package bearer

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/pubauth/awsauth/internal/jwt"
)

// Claims are the verified claims of a bearer token (RFC 7519 §4.1, RFC 9068
// §2.2, and Amazon Cognito's access and ID token claims). A *Claims from
// Verifier.Verify may be shared by every request that presents the same token
// (the verified-token cache): treat it as read-only.
type Claims struct {
	// Issuer is iss, exactly one of the configured issuers.
	Issuer string
	// Subject is sub; never empty.
	Subject string
	// Audience is aud as a list; nil when absent (Cognito access tokens).
	Audience []string
	// ClientID is client_id: the app client an access token was issued to
	// (Cognito, RFC 9068 §2.2). Empty in ID tokens.
	ClientID string
	// AuthorizedParty is azp (OIDC Core §2); empty when absent.
	AuthorizedParty string
	// TokenUse is Cognito's token_use: "access" or "id"; empty when absent.
	TokenUse string
	// Scopes is scope split on spaces (RFC 8693 §4.2); nil when absent.
	Scopes []string
	// Groups is cognito:groups; nil when absent.
	Groups []string
	// Username is username (Cognito access tokens) or cognito:username (ID tokens).
	Username string
	// ID is jti; empty when absent.
	ID string
	// Expiry, IssuedAt and NotBefore are exp, iat and nbf in UTC; NotBefore
	// is zero when absent.
	Expiry, IssuedAt, NotBefore time.Time

	payload []byte
	// token is the raw token these claims were verified from, for
	// NotRevoked; a pointer so that printing Claims with %v shows an
	// address, never the token.
	token *string
}

// HasScope reports whether the token grants scope.
func (c *Claims) HasScope(scope string) bool { return slices.Contains(c.Scopes, scope) }

// InGroup reports whether cognito:groups contains group.
func (c *Claims) InGroup(group string) bool { return slices.Contains(c.Groups, group) }

// Decode unmarshals the whole verified payload into v with encoding/json, for
// claims beyond the fields of Claims (custom:..., email, ...). The members
// Claims reads are unique in the payload, case-insensitively, so v sees the
// values that were checked.
func (c *Claims) Decode(v any) error {
	if err := json.Unmarshal(c.payload, v); err != nil {
		return fmt.Errorf("bearer: decoding claims: %w", err)
	}
	return nil
}

// newClaims copies what a Verifier exposes from the claims the core verified.
func newClaims(c *jwt.Claims) *Claims {
	return &Claims{
		Issuer: c.Issuer, Subject: c.Subject, Audience: c.Audience, ClientID: c.ClientID,
		AuthorizedParty: c.AuthorizedParty, TokenUse: c.TokenUse, Scopes: c.Scopes, Groups: c.Groups,
		Username: c.Username, ID: c.ID, Expiry: c.Expiry, IssuedAt: c.IssuedAt, NotBefore: c.NotBefore,
		payload: c.Payload,
	}
}
