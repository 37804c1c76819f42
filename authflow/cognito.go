package authflow

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/pubauth/awsauth/internal/cognito"
)

// Cognito holds what Amazon Cognito's managed login needs beyond OIDC
// discovery: its discovery document names no end_session_endpoint or
// revocation_endpoint, so logout and revocation go to the user pool domain.
// With a user pool Issuer (CognitoIssuer), New derives every endpoint from
// the pool and Domain, with no discovery request: https://<Domain>/oauth2/authorize,
// /oauth2/token, /oauth2/revoke and /logout, and the key set at
// <issuer>/.well-known/jwks.json (see
// https://docs.aws.amazon.com/cognito/latest/developerguide/federation-endpoints.html).
type Cognito struct {
	// Domain is the user pool's managed login domain: a prefix domain such
	// as "myapp.auth.eu-west-1.amazoncognito.com" or a custom domain such as
	// "auth.example.com". A full base URL ("https://auth.example.com") is
	// accepted too.
	Domain string
}

// CognitoPool names the issuer of an Amazon Cognito user pool's tokens, in
// the issuer format the pool is configured with; CognitoIssuer spells it.
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
// See https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_IssuerConfigurationType.html
// and https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-multi-region.html.
type CognitoPool = cognito.Pool

// CognitoIssuer returns the issuer of pool's tokens, exactly as they carry
// it in iss, for Config.Issuer: the login flow then accepts that issuer
// only, byte for byte (its discovery document at
// <issuer>/.well-known/openid-configuration must name it too). It returns
// an error when the pool id, Region or issuer type is malformed.
func CognitoIssuer(pool CognitoPool) (string, error) {
	iss, err := pool.Issuer()
	if err != nil {
		return "", fmt.Errorf("authflow: Cognito user pool: %w", err)
	}
	return iss, nil
}

func (c *Cognito) baseURL() string { return cognito.DomainURL(c.Domain) }

func (c *Cognito) validate() error {
	if c.Domain == "" {
		return errors.New("missing Cognito.Domain")
	}
	return checkEndpoint("Cognito.Domain", c.baseURL())
}

// RevocationEndpoint is the user pool domain's RFC 7009 endpoint.
func (c *Cognito) RevocationEndpoint() string { return c.baseURL() + "/oauth2/revoke" }

// metadata is what discovery would say of the user pool whose issuer is iss
// (a user pool issuer, cognito.ParseIssuer), known without a request: the
// managed login domain's /oauth2/authorize and /oauth2/token, and
// /oauth2/revoke (RFC 7009, refresh tokens); the issuer's
// /.well-known/jwks.json; RS256 ID tokens; PKCE S256. Its logout is
// LogoutURL. See
// https://docs.aws.amazon.com/cognito/latest/developerguide/federation-endpoints.html
// and, for the key set,
// https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html.
func (c *Cognito) metadata(iss string) providerMetadata {
	m := providerMetadata{
		Issuer:                iss,
		AuthorizationEndpoint: c.baseURL() + "/oauth2/authorize",
		TokenEndpoint:         c.baseURL() + "/oauth2/token",
		JWKSURI:               cognito.JWKSURL(iss),
		IDTokenSigningAlgs:    []string{"RS256"},
		CodeChallengeMethods:  []string{"S256"},
	}
	c.apply(&m)
	return m
}

// apply sets what Cognito's discovery document lacks: the revocation
// endpoint, and no end_session_endpoint (Cognito's /logout takes
// logout_uri, see LogoutURL).
func (c *Cognito) apply(m *providerMetadata) {
	m.RevocationEndpoint = c.RevocationEndpoint()
	m.EndSessionEndpoint = ""
}

// LogoutURL is the managed login sign-out URL that ends the Cognito session
// and sends the browser to logoutURI, which must be one of the app client's
// allowed sign-out URLs.
func (c *Cognito) LogoutURL(clientID, logoutURI string) string {
	q := url.Values{"client_id": {clientID}, "logout_uri": {logoutURI}}
	return c.baseURL() + "/logout?" + q.Encode()
}
