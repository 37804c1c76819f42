// Package bearer is the resource server side of awsauth: it verifies bearer
// access tokens (RFC 6750) from Amazon Cognito user pools or other OpenID
// Connect issuers, several at once, and guards net/http handlers with
// per-route requirements (scopes, groups, a custom check).
//
// New is the entry point:
//
//	v, err := bearer.New(ctx, bearer.Config{
//		Issuers: []bearer.Issuer{bearer.Cognito(bearer.CognitoPool{ID: "eu-west-1_AbC123"}, clientID)},
//	})
//	mux.Handle("/api/orders", v.Require(api, bearer.Scopes("orders/read")))
//	// in api: c := bearer.ClaimsFrom(r.Context()); c.Subject, c.Scopes, c.Groups
//
// Cognito accepts the pool's access tokens; for its ID tokens set TokenUse to
// TokenUseID on the Issuer it returns. CognitoPool.IssuerType says which of
// the pool's two issuer formats its tokens carry ("UPDATED" for
// https://issuer-cognito-idp.<region>.amazonaws.com/<poolID>); only that
// issuer is accepted. Any other OpenID Connect issuer is an
// Issuer literal (its jwks_uri comes from discovery).
//
// Cold start: a user pool's key set is at a known URL (no discovery), and
// Issuer.JWKS primes it with a JWKS document saved at build time, embedded
// with //go:embed or shipped beside the binary: the first token is then
// verified with no request at all, and a kid the document lacks still
// fetches the set (see ExampleIssuer_primedJWKS).
//
// A token is checked in this order: the Authorization header (exactly one,
// scheme Bearer, a b64token, bounded in size); the token's shape and iss
// (an issuer not configured is refused before any key is looked up); its
// signature with that issuer's key set (RFC 7515, an allow-list of
// asymmetric algorithms; an unknown kid refetches the set at most once per
// RefetchInterval); exp, nbf and iat within ClockSkew (RFC 7519 §4.1); sub;
// Cognito's token_use; client_id or aud (OIDC Core §3.1.3.7 for ID tokens);
// then the route's Requirements. Refusals are RFC 6750 §3 responses: 400
// invalid_request, 401 invalid_token, 403 insufficient_scope, or 503 when the
// key set can't be fetched (see WriteError and the Err sentinels).
//
// Online revocation checks, opt-in per route: a JWT passes its local
// checks until exp even after its user signed out everywhere or it was
// revoked. For sensitive operations, NotRevoked asks the issuer through a
// RevocationCheck (NewRevocationCheck): Amazon Cognito's GetUser with the
// access token (NewCognitoGetUser; it fails for a revoked token or a
// globally signed-out user) or RFC 7662 token introspection for other
// providers (NewIntrospection). The answer is cached for
// RevocationConfig.TTL (30 s by default, at most 5 minutes), never past the
// token's exp, in a cache bounded in size; concurrent requests with one
// token share one call. A token the issuer no longer honours gets 401
// invalid_token (ErrTokenRevoked); when the issuer can't answer, the request
// fails closed with 503 (ErrRevocationUnavailable) unless InsecureFailOpen.
// GetUser is rate-limited: the UserRead category's 120 requests per second
// per account and Region by default, and 10 read requests per second per
// user (see CognitoGetUser and
// https://docs.aws.amazon.com/cognito/latest/developerguide/quotas.html).
//
// An importer of bearer compiles no login code. To share one key set with
// the login flow of package authflow for the same issuer, set Issuer.KeySet
// to authflow.Handler.KeySet. Under AWS Lambda, package
// authflow/lambdaauth runs the same Verifier.
package bearer
