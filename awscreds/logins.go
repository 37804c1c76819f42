package awscreds

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/pubauth/awsauth/internal/cognito"
)

// LoginsFunc returns the Logins map of one user for one retrieval: identity provider name →
// that user's token, as Cognito's GetId, GetOpenIdToken and GetCredentialsForIdentity take
// it (https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_GetId.html). It is
// called with the context of each retrieval, which carries the provider's timeout, so a
// refreshed ID token is used as soon as there is one. Its errors are returned wrapped.
//
// Build one with [CognitoLogins] or [OIDCLogins]; a LoginsFunc of your own may return several
// providers (linked logins) or tokens that are not JWTs (Facebook, Login with Amazon), in
// which case the identity id is cached in the provider's memory only (see
// IdentityPoolOptions.Store).
type LoginsFunc func(ctx context.Context) (map[string]string, error)

// maxLoginsToken is Cognito's limit on a Logins value (50,000 characters).
const maxLoginsToken = 50000

// CognitoProviderName returns the Logins key of a Cognito user pool from the pool's issuer URL
// (the ID token's iss claim): the issuer without "https://". The identity pool's provider name
// for a user pool is "cognito-idp.<region>.amazonaws.com/<pool id>", its ORIGINAL issuer so
// spelled (GetId's Logins, https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_GetId.html).
// For a pool whose IssuerConfiguration.Type is UPDATED, whose ID tokens carry
// https://issuer-cognito-idp.<primary region>.amazonaws.com/<pool id>, the key is
// "issuer-cognito-idp.<primary region>.amazonaws.com/<pool id>", by the same rule that gives every
// OpenID Connect provider its name (the issuer without its scheme): the AWS pages on issuer types
// (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_IssuerConfigurationType.html)
// name no other; configure the identity pool's provider with that name.
//
// The issuer must be exactly a user pool issuer of either type (one rule, shared with the login
// flow and the bearer verifier). An ORIGINAL issuer naming another Region than its pool id's
// (a replica's, with multi-Region replication) is refused too: AWS documents no identity-pool
// provider for it, and multi-Region replication is meant to run on the UPDATED issuer. Any
// other string gives an error wrapping ErrConfiguration.
func CognitoProviderName(issuer string) (string, error) {
	if p, ok := cognito.ParseIssuer(issuer); !ok || p.Region != "" {
		return "", fmt.Errorf("%w: %q is not a Cognito user pool issuer (https://cognito-idp.<region>.amazonaws.com/<region>_<id>, "+
			"or https://issuer-cognito-idp.<region>.amazonaws.com/<region>_<id>)", ErrConfiguration, issuer)
	}
	return strings.TrimPrefix(issuer, "https://"), nil
}

// OIDCProviderName returns the Logins key of an OpenID Connect provider registered in IAM: its
// issuer URL without the "https://" scheme and without a trailing slash, which is the IAM OIDC
// identity provider's URL (https://docs.aws.amazon.com/cognito/latest/developerguide/open-id.html).
// The issuer must be https, or http on a loopback address (local test providers). A Cognito
// user pool issuer gives its Cognito provider name, which is the same string.
func OIDCProviderName(issuer string) (string, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("%w: issuer %q is not an absolute URL without query or fragment", ErrConfiguration, issuer)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
			if u.Hostname() != "localhost" {
				return "", fmt.Errorf("%w: issuer %q is http but not loopback", ErrConfiguration, issuer)
			}
		}
	default:
		return "", fmt.Errorf("%w: issuer %q is not https", ErrConfiguration, issuer)
	}
	// url.Parse accepts the scheme in any case ("HTTPS://"); a Host means "//" follows it.
	return strings.TrimRight(issuer[len(u.Scheme+"://"):], "/"), nil
}

// CognitoLogins returns a LoginsFunc that maps a Cognito user pool's provider name to the ID
// token idToken returns: the Logins of the enhanced and basic flows for users of that pool.
//
// issuer is the pool's issuer URL in the format the pool is configured with (see
// [CognitoProviderName]): https://cognito-idp.<region>.amazonaws.com/<pool id> (ORIGINAL) or
// https://issuer-cognito-idp.<region>.amazonaws.com/<pool id> (UPDATED), the login flow's
// Config.Issuer. Each token's iss must then be exactly issuer: a token of the pool's other
// issuer type fails with ErrConfiguration before Cognito is called (the token is read, not
// verified, here: authflow verified it, and Cognito verifies it again). When issuer is empty,
// each token's own iss is used instead, and must be a user pool issuer of either type. An
// issuer that is not a Cognito user pool's makes every call fail with ErrConfiguration.
func CognitoLogins(issuer string, idToken IDTokenFunc) LoginsFunc {
	return idTokenLogins("CognitoLogins", issuer, true, idToken, CognitoProviderName)
}

// OIDCLogins is CognitoLogins for an identity pool that trusts any OpenID Connect provider
// through IAM (Auth0, Okta, Keycloak, ...): the Logins key is [OIDCProviderName] of issuer, or
// of each token's iss when issuer is empty.
func OIDCLogins(issuer string, idToken IDTokenFunc) LoginsFunc {
	return idTokenLogins("OIDCLogins", issuer, false, idToken, OIDCProviderName)
}

// idTokenLogins maps providerName(issuer), or of each token's iss when issuer is empty, to the
// token; with exactIss, a token whose iss is not issuer is refused.
func idTokenLogins(name, issuer string, exactIss bool, idToken IDTokenFunc, providerName func(string) (string, error)) LoginsFunc {
	var fixed string
	var fixedErr error
	if issuer != "" {
		fixed, fixedErr = providerName(issuer)
	}
	return func(ctx context.Context) (map[string]string, error) {
		if fixedErr != nil {
			return nil, fmt.Errorf("awscreds: %s: %w", name, fixedErr)
		}
		if idToken == nil {
			return nil, fmt.Errorf("awscreds: %s: %w: nil IDTokenFunc", name, ErrConfiguration)
		}
		token, err := idToken(ctx)
		if err != nil {
			return nil, fmt.Errorf("awscreds: %s: get ID token: %w", name, err)
		}
		if token == "" {
			return nil, fmt.Errorf("awscreds: %s: IDTokenFunc returned an empty token", name)
		}
		if fixed != "" && !exactIss {
			return map[string]string{fixed: token}, nil
		}
		c, err := idTokenClaims(token)
		if err != nil {
			return nil, fmt.Errorf("awscreds: %s: read iss: %w", name, err)
		}
		if c.Issuer == "" {
			return nil, fmt.Errorf("awscreds: %s: ID token has no iss claim", name)
		}
		if fixed != "" {
			if c.Issuer != issuer {
				// iss is a claim of a token that is not verified here: not quoted.
				return nil, fmt.Errorf("awscreds: %s: %w: the ID token's iss is not the configured issuer %q", name, ErrConfiguration, issuer)
			}
			return map[string]string{fixed: token}, nil
		}
		provider, err := providerName(c.Issuer)
		if err != nil {
			return nil, fmt.Errorf("awscreds: %s: %w", name, err)
		}
		return map[string]string{provider: token}, nil
	}
}

var errEmptyLogins = errors.New("awscreds: IdentityPool: LoginsFunc returned no logins")

// checkLogins refuses what Cognito would refuse with an error that could echo a token.
func checkLogins(logins map[string]string) error {
	if len(logins) == 0 {
		return errEmptyLogins
	}
	for k, v := range logins {
		switch {
		case k == "" || len(k) > 128:
			return fmt.Errorf("awscreds: IdentityPool: Logins provider name %q must be 1-128 characters", truncate(k, 140))
		case v == "":
			return fmt.Errorf("awscreds: IdentityPool: empty token for Logins provider %q", k)
		case len(v) > maxLoginsToken:
			return fmt.Errorf("awscreds: IdentityPool: token for Logins provider %q exceeds %d bytes", k, maxLoginsToken)
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
