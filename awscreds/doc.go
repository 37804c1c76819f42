// Package awscreds turns a signed-in user's OpenID Connect tokens into short-lived AWS
// credentials: implementations of [aws.CredentialsProvider] built on Amazon Cognito identity
// pools and AWS STS, least-privilege policy documents for them, and a per-user cache.
//
// Providers and the AWS API operations they call:
//
//   - [IdentityPool]: Cognito identity pools. The enhanced flow (GetId, then
//     GetCredentialsForIdentity with the user's Logins, see [CognitoLogins] and [OIDCLogins]),
//     the basic flow (GetId, GetOpenIdToken, then STS AssumeRoleWithWebIdentity), guest
//     identities, CustomRoleArn, and developer-authenticated identities
//     (GetOpenIdTokenForDeveloperIdentity). The identity id is cached per user in a
//     [tokenstore.Store], so GetId runs once per user, not once per process.
//   - [WebIdentity]: STS AssumeRoleWithWebIdentity, with the user's OIDC ID token, against a
//     role that trusts an IAM OIDC identity provider (any IdP: Cognito user pools, Auth0, Okta,
//     Keycloak, ...), or against an STS-compatible endpoint such as MinIO.
//   - [AssumeRole]: STS AssumeRole with the server's own credentials, per user: the session
//     named after the user, session tags and source identity from [VerifiedClaims], an inline
//     session policy, at most one hour (role chaining).
//
// # Least privilege
//
// [S3PrefixPolicy] and [DynamoDBPartitionPolicy] build [PolicyDocument]s that limit a user to
// their own S3 prefix or DynamoDB partition, naming the user by a policy variable
// ([IdentityPoolUser], [PrincipalTagUser]) or literally ([LiteralUser]). Wherever a user id
// becomes part of a key, a tag or a policy it goes through [EscapeUserID], which is injective:
// "alice", "alice/" and "alice%2F" stay three users.
//
// # One provider, one user
//
// A provider serves exactly one user: it gets that user's ID token from an [IDTokenFunc] it
// was built with and never reads a user, a session or a token from the context. authflow
// supplies the IDTokenFunc (one per session); awscreds does not import authflow.
//
// # Caching
//
// A server acting for many users keeps one cache per user in a [UserCache] (bounded, LRU,
// single-flight per user) and evicts the user's entry at logout.
//
// Providers call AWS on every Retrieve. Wrap each one in [aws.NewCredentialsCache] with an
// expiry window and jitter, so that credentials are refreshed before they expire, once for
// all concurrent callers:
//
//	creds := aws.NewCredentialsCache(p, func(o *aws.CredentialsCacheOptions) {
//		o.ExpiryWindow = 1 * time.Minute
//		o.ExpiryWindowJitterFrac = 0.5
//	})
//
// The cache's ExpiryWindow defaults to 0, which would hand out credentials until the instant
// they expire. The cache also runs the provider under the first caller's context with its
// deadline and cancellation removed, so every provider here applies its own Timeout to each
// Retrieve. IdentityPool and AssumeRole implement aws.HandleFailRefreshCredentialsCacheStrategy:
// under the cache, a transient AWS fault is ridden out with the last credentials while they
// are still valid.
//
// # Errors
//
// Errors are prefixed "awscreds:" and wrap their cause: errors.As finds the AWS service error
// (smithy-go's APIError, or the typed exception from the sts/types or cognitoidentity/types
// package) and errors.Is finds an error returned by the IDTokenFunc or LoginsFunc. Callers
// branch on two sentinels: [ErrIDTokenRejected] (sign the user in again) and
// [ErrConfiguration] (tell the operator). No error message contains a token.
package awscreds
