// Package lambdaauth runs authflow/bearer's token rules and net/http
// handlers under AWS Lambda, behind Amazon API Gateway, an Application Load
// Balancer or a function URL, with aws-lambda-go. It is its own package so
// that an importer of authflow or authflow/bearer compiles no
// aws-lambda-go; it imports bearer only, so an API compiles no login code
// either.
//
//   - HTTPAPI, REST, ALB and FunctionURL adapt one http.Handler (a
//     bearer.Verifier.Require API, authflow's Login/Callback/Logout, any
//     mux) to HTTP API payload format 2.0 events, REST API (v1) proxy
//     events (and with Options.HTTPAPIPayloadV1 HTTP API payload format 1.0
//     events: the REST shape, but a decoded path with the stage in front),
//     Application Load Balancer target group events (single- and
//     multi-value headers) and Lambda function URL events. Under each,
//     every Set-Cookie is kept (2.0 "cookies", v1 and ALB
//     "multiValueHeaders"; a single-value ALB target group refuses to drop
//     one), the path reaches the handler decoded exactly once whether AWS
//     decoded it (HTTP API) or not (REST, ALB, function URL), a body that is
//     not text travels base64-encoded, the body is bounded as it is sent
//     (Lambda's 6 MB, the load balancer's 1 MB), and a redirect to an
//     absolute path keeps the API Gateway stage prefix.
//   - AuthenticateV2 and AuthenticateV1 apply bearer.Verifier.Authenticate to an
//     event, for handlers written against the events directly.
//   - TokenAuthorizer and RequestAuthorizer are REST API Lambda authorizers
//     (TOKEN and REQUEST types), HTTPAPISimpleAuthorizer and
//     HTTPAPIPolicyAuthorizer HTTP API Lambda authorizers (payload format
//     2.0, simple and IAM policy responses). All classify a token alike: a
//     valid one that meets the requirements is allowed, one a Requirement
//     refuses is denied (403), no token or an invalid one is the error
//     "Unauthorized" (401). A policy names the whole stage (API Gateway
//     caches the answer per token, so it must not name one method or
//     route), never more; the context holds the token's claims.
package lambdaauth
