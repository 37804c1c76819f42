package lambdaauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pubauth/awsauth/authflow/bearer"
)

// ErrUnauthorized is what an authorizer returns for a missing or invalid
// token: API Gateway answers 401 when a Lambda authorizer fails with exactly
// the message "Unauthorized".
var ErrUnauthorized = errors.New("Unauthorized")

// ErrMethodARN is returned, wrapped, for a methodArn (REST) or routeArn
// (HTTP API) that is not
// arn:PARTITION:execute-api:REGION:ACCOUNT:API_ID/STAGE/METHOD/PATH
// (or .../STAGE/$default for an HTTP API's default route).
var ErrMethodARN = errors.New("lambdaauth: malformed methodArn or routeArn")

// AuthenticateV2 applies v.Authenticate to an HTTP API event's headers.
// API Gateway joins repeated headers with commas, so two Authorization
// headers arrive as one invalid credential: ErrInvalidRequest.
func AuthenticateV2(ctx context.Context, v *bearer.Verifier, ev *events.APIGatewayV2HTTPRequest, reqs ...bearer.Requirement) (*bearer.Claims, error) {
	return v.Authenticate(ctx, headerV2(ev.Headers, nil), reqs...)
}

// AuthenticateV1 applies v.Authenticate to a REST API proxy event's headers
// (the multi-value map when present).
func AuthenticateV1(ctx context.Context, v *bearer.Verifier, ev *events.APIGatewayProxyRequest, reqs ...bearer.Requirement) (*bearer.Claims, error) {
	return v.Authenticate(ctx, headerV1(ev.Headers, ev.MultiValueHeaders), reqs...)
}

// TokenAuthorizer returns a REST API TOKEN authorizer, for lambda.Start: the
// identity source (normally method.request.header.Authorization) must hold
// "Bearer <token>". A valid token that meets reqs gets an Allow policy for
// every method and path of the stage; a valid token refused by reqs gets
// the same Deny (403); no token, an invalid one, or one a Requirement
// refuses with an error wrapping bearer.ErrInvalidToken returns
// ErrUnauthorized (401). A key set that can't be fetched returns an error (500): the token
// may be good. The context holds the claims (see Context).
//
// API Gateway caches the answer per token for the authorizer's result TTL
// (authorizerResultTtlInSeconds, 300 s unless set, up to 3600 s), whatever
// the token's exp: a token keeps working that long after it expires or is
// revoked. Set the TTL no longer than that delay may be (0 checks every
// request); Cognito's access tokens live 5 minutes to 1 day.
func TokenAuthorizer(v *bearer.Verifier, reqs ...bearer.Requirement) func(context.Context, events.APIGatewayCustomAuthorizerRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	return func(ctx context.Context, ev events.APIGatewayCustomAuthorizerRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		h := http.Header{}
		if ev.AuthorizationToken != "" {
			h.Set("Authorization", ev.AuthorizationToken)
		}
		return authorize(ctx, v, h, ev.MethodArn, reqs)
	}
}

// RequestAuthorizer is TokenAuthorizer for the REQUEST type: the token comes
// from the event's Authorization header (the multi-value map when present,
// so that two headers are refused). Set the authorizer's identity source to
// method.request.header.Authorization so API Gateway caches per token.
func RequestAuthorizer(v *bearer.Verifier, reqs ...bearer.Requirement) func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	return func(ctx context.Context, ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		return authorize(ctx, v, headerV1(ev.Headers, ev.MultiValueHeaders), ev.MethodArn, reqs)
	}
}

// HTTPAPISimpleAuthorizer returns an HTTP API Lambda authorizer for payload
// format 2.0 with simple responses (enableSimpleResponses), for
// lambda.Start, per "Control access to HTTP APIs with AWS Lambda
// authorizers" in the API Gateway developer guide
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-authorizer.html).
// The token comes from the event's Authorization header: set the
// authorizer's identity source to $request.header.Authorization, so that
// API Gateway answers 401 itself when it is missing and caches per token.
// Repeated headers arrive joined with commas, so two Authorization headers
// are one invalid credential.
//
// A valid token that meets reqs gets {"isAuthorized": true} with its claims
// as the context (see Context; the integration finds them in
// requestContext.authorizer.lambda); a valid token refused by reqs gets
// isAuthorized false (403); no token, an invalid one, or one a Requirement
// refuses with an error wrapping bearer.ErrInvalidToken returns
// ErrUnauthorized (401). A key set that can't be fetched returns an error
// (500): the token may be good.
//
// A simple response allows or denies every route of the API for the cached
// identity source, for the authorizer's result TTL
// (authorizerResultTtlInSeconds, at most 3600 s) whatever the token's exp,
// and for every route unless $context.routeKey is an identity source too:
// reqs must be what every route using the authorizer needs, and the TTL no
// longer than a revoked or expired token may keep working.
func HTTPAPISimpleAuthorizer(v *bearer.Verifier, reqs ...bearer.Requirement) func(context.Context, events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
	return func(ctx context.Context, ev events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
		c, allow, err := verdict(ctx, v, headerV2(ev.Headers, nil), reqs)
		if err != nil {
			return events.APIGatewayV2CustomAuthorizerSimpleResponse{}, err
		}
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: allow, Context: Context(c)}, nil
	}
}

// HTTPAPIPolicyAuthorizer is HTTPAPISimpleAuthorizer for an authorizer that
// returns IAM policies (payload format 2.0, simple responses off): Allow or
// Deny of execute-api:Invoke on every route of the routeArn's stage
// (arn:aws:execute-api:REGION:ACCOUNT:API_ID/STAGE/*, which also covers the
// $default route's .../STAGE/$default), since API Gateway reuses the policy
// for every route while it is cached. The routeArn is checked as StageARN
// checks a methodArn: ErrMethodARN when malformed or holding a wildcard.
// principalId is the token's sub.
func HTTPAPIPolicyAuthorizer(v *bearer.Verifier, reqs ...bearer.Requirement) func(context.Context, events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerIAMPolicyResponse, error) {
	return func(ctx context.Context, ev events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerIAMPolicyResponse, error) {
		stage, err := stageOf(ev.RouteArn)
		if err != nil {
			return events.APIGatewayV2CustomAuthorizerIAMPolicyResponse{}, err
		}
		c, allow, err := verdict(ctx, v, headerV2(ev.Headers, nil), reqs)
		if err != nil {
			return events.APIGatewayV2CustomAuthorizerIAMPolicyResponse{}, err
		}
		return events.APIGatewayV2CustomAuthorizerIAMPolicyResponse{
			PrincipalID: c.Subject, PolicyDocument: policy(allow, stage+"/*"), Context: Context(c),
		}, nil
	}
}

func authorize(ctx context.Context, v *bearer.Verifier, h http.Header, methodARN string, reqs []bearer.Requirement) (events.APIGatewayCustomAuthorizerResponse, error) {
	resource, err := StageARN(methodARN)
	if err != nil {
		return events.APIGatewayCustomAuthorizerResponse{}, err
	}
	c, allow, err := verdict(ctx, v, h, reqs)
	if err != nil {
		return events.APIGatewayCustomAuthorizerResponse{}, err
	}
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: c.Subject, PolicyDocument: policy(allow, resource), Context: Context(c),
	}, nil
}

// verdict is the one classification of every authorizer here: the claims
// and true for a valid token that meets reqs; the claims and false for a
// valid token a Requirement refused with bearer.ErrInsufficientScope (API
// Gateway answers 403); ErrUnauthorized for no token, an invalid one, or a
// refusal wrapping bearer.ErrInvalidToken (401), as bearer.Apply classifies
// them; an error for a key set that can't be fetched or a revocation check
// that got no answer (500: the token may be good).
func verdict(ctx context.Context, v *bearer.Verifier, h http.Header, reqs []bearer.Requirement) (*bearer.Claims, bool, error) {
	c, err := v.Authenticate(ctx, h)
	if err == nil {
		err = bearer.Apply(ctx, c, reqs...)
	}
	switch {
	case err == nil:
		return c, true, nil
	case errors.Is(err, bearer.ErrKeySetUnavailable), errors.Is(err, bearer.ErrRevocationUnavailable):
		return nil, false, fmt.Errorf("lambdaauth: %w", err)
	case errors.Is(err, bearer.ErrInsufficientScope):
		return c, false, nil
	}
	return nil, false, ErrUnauthorized
}

// policy allows, or denies, execute-api:Invoke on resource.
func policy(allow bool, resource string) events.APIGatewayCustomAuthorizerPolicy {
	effect := "Deny"
	if allow {
		effect = "Allow"
	}
	return events.APIGatewayCustomAuthorizerPolicy{
		Version: "2012-10-17",
		Statement: []events.IAMPolicyStatement{{
			Action: []string{"execute-api:Invoke"}, Effect: effect, Resource: []string{resource},
		}},
	}
}

// StageARN turns a methodArn
// (arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/orders/42)
// into the ARN of every method and path of its stage
// (arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*/*). The only
// wildcards are the method and path it adds: a partition, region, account
// (12 digits), API id or stage holding "*" or "?" is ErrMethodARN, since
// the policy is reused for every request carrying the token.
func StageARN(methodARN string) (string, error) {
	stage, err := stageOf(methodARN)
	if err != nil {
		return "", err
	}
	return stage + "/*/*", nil
}

// stageOf returns the ARN of the API's stage (arn:...:API_ID/STAGE) in a
// methodArn or routeArn, checked as StageARN says.
func stageOf(arn string) (string, error) {
	api, rest, ok := strings.Cut(arn, "/")
	stage, _, _ := strings.Cut(rest, "/")
	f := strings.Split(api, ":")
	if !ok || stage == "" || len(f) != 6 || f[0] != "arn" || f[1] == "" || f[2] != "execute-api" ||
		f[3] == "" || !isAccountID(f[4]) || f[5] == "" || strings.ContainsAny(api+"/"+stage, "*?") {
		return "", fmt.Errorf("%w", ErrMethodARN)
	}
	return api + "/" + stage, nil
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Context is the authorizer context for c: string values only, as API
// Gateway passes them on ($context.authorizer.<key> in mapping templates,
// requestContext.authorizer in the integration's event): sub, iss,
// client_id, token_use, username, scope (space-separated) and
// cognito:groups (comma-separated).
func Context(c *bearer.Claims) map[string]any {
	return map[string]any{
		"sub":            c.Subject,
		"iss":            c.Issuer,
		"client_id":      c.ClientID,
		"token_use":      c.TokenUse,
		"username":       c.Username,
		"scope":          strings.Join(c.Scopes, " "),
		"cognito:groups": strings.Join(c.Groups, ","),
	}
}
