// Package cognito holds the shape of Amazon Cognito user pool issuers, which
// the login flow (authflow) and the resource server (authflow/bearer) both
// need: a user pool's issuer and key set URL are known without discovery.
// See https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html.
package cognito

import (
	"regexp"
	"strings"
)

// poolID matches a user pool id, "<region>_<id>", capturing the region.
var poolID = regexp.MustCompile(`^([a-z]{2}(?:-[a-z]+)+-\d+)_[0-9A-Za-z]+$`)

// Issuer returns the issuer of a user pool's tokens:
// https://cognito-idp.<region>.amazonaws.com/<userPoolID>. It does not check
// its arguments; IsIssuer does.
func Issuer(region, userPoolID string) string {
	return "https://cognito-idp." + region + ".amazonaws.com/" + userPoolID
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

// IsIssuer reports whether iss is exactly Issuer(region, pool) for a
// well-formed pool id whose region prefix is that region.
func IsIssuer(iss string) bool {
	rest, ok := strings.CutPrefix(iss, "https://cognito-idp.")
	if !ok {
		return false
	}
	region, pool, ok := strings.Cut(rest, ".amazonaws.com/")
	if !ok {
		return false
	}
	r, ok := RegionOf(pool)
	return ok && r == region
}

// JWKSURL is the key set of a user pool issuer (its jwks_uri), known
// without discovery.
func JWKSURL(iss string) string { return iss + "/.well-known/jwks.json" }
