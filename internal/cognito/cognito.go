// Package cognito holds the one rule for Amazon Cognito user pool issuers,
// which the login flow (authflow), the resource server (authflow/bearer) and
// the identity-pool Logins (awscreds) all apply: which iss a user pool's
// tokens carry, in either of its two formats, and its key set URL, known
// without discovery.
//
// A user pool's IssuerConfiguration (IssuerConfigurationType, in
// CreateUserPool, UpdateUserPool and DescribeUserPool) has one of two types:
//
//   - ORIGINAL: https://cognito-idp.<region>.amazonaws.com/<userPoolID>,
//     hosted in the user pool's Region, with that Region's OIDC endpoints;
//   - UPDATED: https://issuer-cognito-idp.<region>.amazonaws.com/<userPoolID>,
//     where region is the pool's primary Region; its JWKS is hosted in several
//     Regions (recommended, and what multi-Region replication uses).
//
// See https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_IssuerConfigurationType.html,
// https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-multi-region.html
// and https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html.
package cognito

import (
	"fmt"
	"regexp"
	"strings"
)

// Issuer types of a user pool: the values of IssuerConfigurationType.Type.
const (
	Original = "ORIGINAL"
	Updated  = "UPDATED"
)

var (
	// region matches an AWS Region name ("eu-west-1", "us-gov-west-1").
	region = regexp.MustCompile(`^[a-z]{2}(?:-[a-z]+)+-\d+$`)
	// poolID matches a user pool id, "<region>_<id>", capturing the region.
	poolID = regexp.MustCompile(`^([a-z]{2}(?:-[a-z]+)+-\d+)_[0-9A-Za-z]+$`)
)

// Pool names a user pool's issuer: which iss its tokens carry. Issuer builds
// it; ParseIssuer reads it back; nothing else spells a Cognito issuer.
type Pool struct {
	// ID is the user pool id, "<region>_<id>", whose region is the pool's
	// (primary) Region. Required.
	ID string
	// IssuerType is the pool's IssuerConfiguration.Type, as DescribeUserPool
	// reports it: "ORIGINAL" (empty means ORIGINAL) or "UPDATED", exactly.
	IssuerType string
	// Region is, for an ORIGINAL issuer with multi-Region replication, the
	// replica's Region: the tokens a replica issues name its Region in iss
	// (the pool id keeps the primary's). Empty means the pool's own Region.
	// An UPDATED issuer always names the primary Region, so any other Region
	// is refused with it.
	Region string
}

// Issuer returns the exact iss of the pool's tokens:
// https://cognito-idp.<region>.amazonaws.com/<ID> (ORIGINAL) or
// https://issuer-cognito-idp.<primary region>.amazonaws.com/<ID> (UPDATED),
// with the amazonaws.com.cn suffix in the China Regions. It returns an error
// naming the field at fault when the pool id, Region or issuer type is
// malformed.
func (p Pool) Issuer() (string, error) {
	primary, ok := RegionOf(p.ID)
	if !ok {
		return "", fmt.Errorf("%q is not a user pool id (<region>_<id>)", p.ID)
	}
	r := p.Region
	if r == "" {
		r = primary
	} else if !region.MatchString(r) {
		return "", fmt.Errorf("%q is not a Region", r)
	}
	switch p.IssuerType {
	case "", Original:
		return "https://cognito-idp." + r + "." + dnsSuffix(r) + "/" + p.ID, nil
	case Updated:
		if r != primary {
			return "", fmt.Errorf("the %s issuer of %s names its primary Region %s, never %s", Updated, p.ID, primary, r)
		}
		return "https://issuer-cognito-idp." + r + "." + dnsSuffix(r) + "/" + p.ID, nil
	}
	return "", fmt.Errorf("issuer type %q is neither %s nor %s", p.IssuerType, Original, Updated)
}

// ParseIssuer returns the Pool whose Issuer is exactly iss, and false when
// iss is no user pool issuer: another host, an extra label, a trailing
// slash, another case, user info, a port, a query, a malformed pool id, or
// an UPDATED issuer naming a Region that is not its pool's. An ORIGINAL iss
// whose Region is not its pool id's is read as a replica's (Pool.Region set):
// whether that replica is accepted is the caller's configuration, compared
// byte for byte.
func ParseIssuer(iss string) (Pool, bool) {
	var p Pool
	var rest string
	switch {
	case strings.HasPrefix(iss, "https://cognito-idp."):
		p.IssuerType, rest = Original, strings.TrimPrefix(iss, "https://cognito-idp.")
	case strings.HasPrefix(iss, "https://issuer-cognito-idp."):
		p.IssuerType, rest = Updated, strings.TrimPrefix(iss, "https://issuer-cognito-idp.")
	default:
		return Pool{}, false
	}
	r, _, _ := strings.Cut(rest, ".")
	p.ID = rest[strings.LastIndexByte(rest, '/')+1:]
	if primary, ok := RegionOf(p.ID); ok && r != primary {
		p.Region = r
	}
	// Only what Issuer spells is an issuer: the rule is written once.
	if got, err := p.Issuer(); err != nil || got != iss {
		return Pool{}, false
	}
	return p, true
}

// RegionOf returns the region prefix of a user pool id ("eu-west-1_AbC123"
// → "eu-west-1"), or false when userPoolID is not shaped as one.
func RegionOf(userPoolID string) (string, bool) {
	m := poolID.FindStringSubmatch(userPoolID)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// CheckIssuer returns an error when iss claims to be a user pool issuer (it
// names cognito-idp, in any case) but is not exactly one, so that a
// configured lookalike is refused at once rather than silently never
// matching, and no key set URL is derived from it. Any other issuer passes:
// it is not Cognito's. The error quotes iss, which must be configuration.
func CheckIssuer(iss string) error {
	if _, ok := ParseIssuer(iss); ok || !strings.Contains(strings.ToLower(iss), "cognito-idp") {
		return nil
	}
	return fmt.Errorf("issuer %q names cognito-idp but is not a Cognito user pool issuer "+
		"(https://cognito-idp.<region>.amazonaws.com/<region>_<id>, or https://issuer-cognito-idp.<region>.amazonaws.com/<region>_<id>)", iss)
}

// JWKSURL is the key set (jwks_uri) of a user pool issuer of either type,
// known without discovery: <iss>/.well-known/jwks.json.
func JWKSURL(iss string) string { return iss + "/.well-known/jwks.json" }

// dnsSuffix is the domain of AWS endpoints in region's partition.
func dnsSuffix(region string) string {
	if strings.HasPrefix(region, "cn-") {
		return "amazonaws.com.cn"
	}
	return "amazonaws.com"
}

// DomainURL returns the base URL of a user pool domain (managed login and
// its OAuth 2.0 endpoints: /oauth2/token, /oauth2/revoke, /logout): a prefix
// domain such as "myapp.auth.eu-west-1.amazoncognito.com" or a custom domain
// such as "auth.example.com" gets https://; a full base URL is kept, without
// a trailing slash. Callers check the result with httpx.CheckEndpoint. See
// https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-assign-domain.html.
func DomainURL(domain string) string {
	d := strings.TrimSuffix(domain, "/")
	if strings.Contains(d, "://") {
		return d
	}
	return "https://" + d
}
