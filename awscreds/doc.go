// Package awscreds turns a signed-in user's OpenID Connect tokens into short-lived AWS
// credentials: implementations of [aws.CredentialsProvider] built on Amazon Cognito identity
// pools and AWS STS, least-privilege policy documents for them, and a per-user cache.
//
// The entry points are NewIdentityPool, NewWebIdentity and NewAssumeRole, one provider per
// signed-in user, each kept in a [UserCache] (an [aws.CredentialsCache] per session):
//
//	creds := users.Get(session.Handle(), func() aws.CredentialsProvider {
//		return awscreds.NewWebIdentity(sts.NewFromConfig(cfg), roleARN, idTokenFunc)
//	})
//	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.Credentials = creds })
//
// Providers and the AWS API operations they call:
//
//   - [IdentityPool]: Cognito identity pools. The enhanced flow (GetId, then
//     GetCredentialsForIdentity with the user's Logins, see [CognitoLogins] and [OIDCLogins]),
//     the basic flow (GetId, GetOpenIdToken, then the AssumeRoleWithWebIdentity request of
//     WebIdentity, see [BasicFlowOptions]), guest identities, CustomRoleARN, and
//     developer-authenticated identities
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
// ([IdentityPoolUser], [PrincipalTagUser]) or literally ([LiteralUser]). Wherever awscreds
// writes a user id into a session tag or a policy it goes through [EscapeUserID], which is
// injective: "alice", "alice/" and "alice%2F" stay three users; the application names the
// user's DynamoDB partition key under such a tag with it too.
//
// A user's S3 prefix is the user id followed by "/", and only an id that EscapeUserID leaves
// unchanged can have one: 1 to 256 bytes of A-Z, a-z, 0-9, _ . : @ + -, other than "." and
// "..". Any other id is refused, not escaped: [UserPrefix] returns [ErrUnsupportedUserID], and
// the examples answer 403 unsupported_user_id. Why: the bucket's policy names the user by a
// variable (${jwt:sub} on MinIO, ${aws:PrincipalTag/sub}, ${cognito-identity.amazonaws.com:sub})
// that holds the raw id, or AssumeRole's escaped one, and only for such an id are the two
// equal; a raw "/" would put one user's prefix inside another's, and MinIO matches a raw "*"
// or "?" as a wildcard, granting other users' prefixes. Cognito user pool subs (UUIDs) and
// identity ids (REGION:GUID) always qualify.
//
// # Signing plain HTTP
//
// [NewSigV4Transport] is an http.RoundTripper that signs each request with AWS Signature
// Version 4 and a user's credentials (the user's [aws.CredentialsCache]), for HTTP APIs that
// take IAM authorization rather than a bearer token: API Gateway with IAM authorization, Lambda
// function URLs with the AWS_IAM auth type, any SigV4 HTTP API.
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
// # Logging
//
// Every provider's Logger receives ridden-out refresh failures (and IdentityPool's, identity-id
// store failures), never a token. A nil Logger means slog.Default(), as everywhere in awsauth.
//
// # Errors
//
// Errors are prefixed "awscreds:" and wrap their cause: errors.As finds the AWS service error
// (smithy-go's APIError, or the typed exception from the sts/types or cognitoidentity/types
// package) and errors.Is finds an error returned by the IDTokenFunc or LoginsFunc. Callers
// branch on [ErrIDTokenRejected] (sign the user in again) and [ErrConfiguration] (tell the
// operator); [ErrInvalidClaims] (AssumeRole's claims) and [ErrInvalidPolicy] (the policy
// builders) report bad input before any AWS call. Invalid options are ErrConfiguration from
// every Retrieve. No error message contains a token.
//
// Every AWS error is sorted by the operation that returned it, with one table per operation,
// so a code has the same class wherever the same operation is called, in any provider. Codes
// are compared without a trailing "Exception" (the SDK's typed exceptions carry it, STS and
// STS-compatible servers such as MinIO often do not). There are four classes:
//
//   - Rejected token: the user's token is refused. The provider asks the IDTokenFunc (or
//     LoginsFunc) once more and, if the token is a different one, retries once; a second
//     refusal, the same token, or a failure to get another gives ErrIDTokenRejected. Where
//     there is no user token to refresh (an IdentityPool guest, or a developer identity
//     without linked logins) the refusal is the pool's setup: ErrConfiguration.
//   - Configuration: ErrConfiguration at once: no retry, no fresh token, never ridden out.
//   - Stale identity (Cognito only): ErrConfiguration, except when the call carried an
//     identity id from the cache: the identity may have been deleted, or merged with another,
//     since; the provider then retries once with the identity id asked of Cognito again (GetId,
//     or the developer operation without an IdentityId).
//   - Transient: a fault that may pass. The SDK client's retryer has already retried those it
//     retries (throttling, 5xx); the provider returns the error, and under
//     aws.CredentialsCache rides it out with the last credentials while they are valid. This
//     is the class of every code not listed below, of an error that is no AWS answer at all (a
//     timeout, a refused connection), and of a response without credentials, expiry or token.
//
// The tables, per the operations' API references:
//
//   - Every Cognito operation (GetId, GetCredentialsForIdentity, GetOpenIdToken,
//     GetOpenIdTokenForDeveloperIdentity): NotAuthorizedException is a rejected token;
//     InvalidParameterException and InvalidIdentityPoolConfigurationException (the pool's
//     roles or their trust) are configuration; ResourceNotFoundException and
//     ResourceConflictException (a login linked to another identity) are a stale identity;
//     TooManyRequestsException (the request-rate quota), InternalErrorException and
//     ExternalServiceException (a login provider not answering Cognito) are transient.
//   - GetId, which takes no identity id, differs: ResourceNotFoundException and
//     ResourceConflictException are configuration, and so is LimitExceededException (a quota
//     on the number of identities or pools, not on the request rate: it lasts until the
//     operator raises it).
//   - GetOpenIdTokenForDeveloperIdentity adds DeveloperUserAlreadyRegisteredException (the
//     developer user is another identity's): a stale identity.
//   - Every STS operation (AssumeRoleWithWebIdentity, AssumeRole): AccessDenied (the role's
//     trust policy, a missing sts:TagSession), ValidationError, InvalidParameterValue,
//     MissingParameter, MalformedPolicyDocument, PackedPolicyTooLarge and
//     RegionDisabledException are configuration; Throttling, RequestLimitExceeded,
//     ServiceUnavailable and InternalFailure are transient.
//   - AssumeRoleWithWebIdentity (WebIdentity and IdentityPool's basic flow) adds
//     ExpiredTokenException, InvalidIdentityToken and IDPRejectedClaim (the identity provider
//     refused the claims: expired or revoked) as a rejected token, and IDPCommunicationError
//     (STS could not reach the provider's keys) as transient. MinIO answers a web identity
//     token it can't verify with InvalidParameterValue, which is configuration here because
//     it also means a bad parameter; it answers an expired one with ExpiredToken.
//   - AssumeRole sends no user token: its ExpiredTokenException is about the server's own
//     session, which that session's provider renews, and is transient.
package awscreds
