// Package lambdaauth runs authflow/bearer's token rules and net/http
// handlers under AWS Lambda behind Amazon API Gateway, with aws-lambda-go.
// It is its own package so that an importer of authflow or authflow/bearer
// compiles no aws-lambda-go; it imports bearer only, so an API compiles no
// login code either.
//
//   - HTTPAPI and REST adapt one http.Handler (a bearer.Verifier.Require
//     API, authflow's Login/Callback/Logout, any mux) to HTTP API payload
//     format 2.0 events and to REST API (v1) proxy events, and REST with
//     Options.HTTPAPIPayloadV1 to HTTP API payload format 1.0 events (the
//     REST shape, but a decoded path with the stage in front): every
//     Set-Cookie is kept (v2 "cookies", v1 "multiValueHeaders"), a path
//     API Gateway decoded is never decoded again, and a redirect to an
//     absolute path keeps the API Gateway stage prefix.
//   - AuthenticateV2 and AuthenticateV1 apply bearer.Verifier.Authenticate to an
//     event, for handlers written against the events directly.
//   - TokenAuthorizer and RequestAuthorizer are REST API Lambda authorizers
//     (TOKEN and REQUEST types) that return an IAM policy for the whole API
//     (API Gateway caches the policy per token, so it must not name one
//     method) and the token's claims as the authorizer context.
package lambdaauth
