// Package awscreds turns a signed-in user's OpenID Connect tokens into short-lived AWS
// credentials: implementations of [aws.CredentialsProvider] built on AWS STS and, later,
// Amazon Cognito identity pools.
//
// Providers and the AWS API operations they call:
//
//   - [WebIdentity]: STS AssumeRoleWithWebIdentity, with the user's OIDC ID token, against a
//     role that trusts an IAM OIDC identity provider (any IdP: Cognito user pools, Auth0, Okta,
//     Keycloak, ...), or against an STS-compatible endpoint such as MinIO.
//
// Planned, with the same shape: Cognito identity pools (cognito-identity GetId,
// GetCredentialsForIdentity, GetOpenIdToken, GetOpenIdTokenForDeveloperIdentity) and STS
// AssumeRole per user (session name, session tags, source identity, inline session policy).
//
// # One provider, one user
//
// A provider serves exactly one user: it gets that user's ID token from an [IDTokenFunc] it
// was built with and never reads a user, a session or a token from the context. authflow
// supplies the IDTokenFunc (one per session); awscreds does not import authflow.
//
// # Caching
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
// Retrieve.
//
// # Errors
//
// Errors are prefixed "awscreds:" and wrap their cause: errors.As finds the AWS service error
// (smithy-go's APIError, or the typed exception from the sts/types package) and errors.Is finds
// an error returned by the IDTokenFunc. No error message contains the ID token.
package awscreds
