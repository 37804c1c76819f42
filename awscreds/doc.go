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
//     (GetOpenIdTokenForDeveloperIdentity). The identity id is cached per user, in the
//     provider's memory and, with IdentityPoolOptions.Store, in a [tokenstore.Store], so that
//     GetId runs once per user, not once per process.
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
// becomes part of a session tag or a policy it goes through [EscapeUserID], which is
// injective: "alice", "alice/" and "alice%2F" stay three users; the application names the
// user's S3 prefix or DynamoDB partition key with it too.
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
// Retrieve. IdentityPool, WebIdentity and AssumeRole implement
// aws.HandleFailRefreshCredentialsCacheStrategy: under the cache, a transient AWS fault is
// ridden out with the last credentials while they are still valid (see Errors for what is
// transient).
//
// # Errors
//
// Errors are prefixed "awscreds:" and wrap their cause: errors.As finds the AWS service error
// (smithy-go's APIError, or the typed exception from the sts/types or cognitoidentity/types
// package) and errors.Is finds an error returned by the IDTokenFunc or LoginsFunc. Callers
// branch on [ErrIDTokenRejected] (sign the user in again) and [ErrConfiguration] (tell the
// operator); [ErrInvalidClaims] (AssumeRole's claims) and [ErrInvalidPolicy] (the policy
// builders) report bad input before any AWS call. No error message contains a token.
//
// How IdentityPool sorts Cognito's errors, per the API reference of GetId,
// GetCredentialsForIdentity, GetOpenIdToken and GetOpenIdTokenForDeveloperIdentity:
//
//   - NotAuthorizedException: the login is refused; at most one retry with fresh Logins (see
//     IdentityPool), then ErrIDTokenRejected, or ErrConfiguration for a guest or a developer
//     identity without linked logins.
//   - ErrConfiguration at once, never ridden out: ResourceNotFoundException,
//     InvalidIdentityPoolConfigurationException, InvalidParameterException (missing or bad
//     input), LimitExceededException, ResourceConflictException (a login linked to another
//     identity) and DeveloperUserAlreadyRegisteredException (the developer user is another
//     identity's). ResourceNotFoundException, ResourceConflictException and
//     DeveloperUserAlreadyRegisteredException on a cached identity id first get one retry
//     that asks Cognito for the id again (the identity may have been deleted or merged).
//     LimitExceededException (GetId only) is a quota on the number of identities or pools,
//     not on the request rate: it lasts until the operator raises the quota or deletes
//     identities, so it is reported at once rather than ridden out for seconds at a time.
//   - Transient, ridden out under aws.CredentialsCache (once the SDK client's retryer has
//     retried those it retries: throttling, 5xx): TooManyRequestsException (the request rate
//     quota), InternalErrorException, ExternalServiceException (a login provider not
//     answering Cognito), any other code, a timeout and a malformed response.
//
// In the basic flow, STS's AccessDenied, MalformedPolicyDocument, PackedPolicyTooLarge and
// RegionDisabledException are ErrConfiguration, as AssumeRole reports them, and its
// ExpiredToken and InvalidIdentityToken are a refused login.
package awscreds
