// Package issuertest holds end-to-end tests of the Cognito user pool issuer
// rule (internal/cognito) at its three users, the login flow (authflow), the
// bearer verifier (authflow/bearer) and the identity pool's Logins
// (awscreds.CognitoLogins), against the real OpenID provider
// (internal/testenv.StartOIDC; scripts/deps.sh installs it, and a missing
// install fails them) serving as a user pool of each issuer type: ORIGINAL,
// https://cognito-idp.<region>.amazonaws.com/<pool id>, and UPDATED,
// https://issuer-cognito-idp.<region>.amazonaws.com/<pool id>. The provider
// is reached at those https origins through testenv's transport to loopback.
// The packages' own tests (hostile httptest providers, lookalike issuers)
// need no peer and stay apart.
package issuertest
