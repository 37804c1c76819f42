package authflow

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/pubauth/awsauth/internal/cognito"
)

// Cognito holds what Amazon Cognito's managed login needs beyond OIDC
// discovery: its discovery document names no end_session_endpoint or
// revocation_endpoint, so logout and revocation go to the user pool domain.
type Cognito struct {
	// Domain is the user pool's managed login domain: a prefix domain such
	// as "myapp.auth.eu-west-1.amazoncognito.com" or a custom domain such as
	// "auth.example.com". A full base URL ("https://auth.example.com") is
	// accepted too.
	Domain string
}

// CognitoIssuer returns the issuer of a Cognito user pool's tokens:
// https://cognito-idp.<region>.amazonaws.com/<userPoolID>.
func CognitoIssuer(region, userPoolID string) string { return cognito.Issuer(region, userPoolID) }

// CognitoIssuerFromPoolID derives the issuer from a user pool id, whose
// prefix is its region ("eu-west-1_AbC123" → eu-west-1).
func CognitoIssuerFromPoolID(userPoolID string) (string, error) {
	region, ok := cognito.RegionOf(userPoolID)
	if !ok {
		return "", fmt.Errorf("authflow: %q is not a Cognito user pool id", userPoolID)
	}
	return cognito.Issuer(region, userPoolID), nil
}

func (c *Cognito) baseURL() string {
	d := strings.TrimSuffix(c.Domain, "/")
	if strings.Contains(d, "://") {
		return d
	}
	return "https://" + d
}

func (c *Cognito) validate() error {
	if c.Domain == "" {
		return errors.New("missing Cognito.Domain")
	}
	return checkEndpoint("Cognito.Domain", c.baseURL())
}

// RevocationEndpoint is the user pool domain's RFC 7009 endpoint.
func (c *Cognito) RevocationEndpoint() string { return c.baseURL() + "/oauth2/revoke" }

// LogoutURL is the managed login sign-out URL that ends the Cognito session
// and sends the browser to logoutURI, which must be one of the app client's
// allowed sign-out URLs.
func (c *Cognito) LogoutURL(clientID, logoutURI string) string {
	q := url.Values{"client_id": {clientID}, "logout_uri": {logoutURI}}
	return c.baseURL() + "/logout?" + q.Encode()
}
