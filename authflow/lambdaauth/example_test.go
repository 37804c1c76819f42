package lambdaauth_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pubauth/awsauth/authflow/bearer"
	"github.com/pubauth/awsauth/authflow/lambdaauth"
)

func exampleBearer() (*bearer.Verifier, string) {
	jwksJSON, err := os.ReadFile("../../internal/jwks/testdata/cognito_jwks.json")
	if err != nil {
		log.Fatal(err)
	}
	raw, err := os.ReadFile("../../internal/jwks/testdata/cognito_access_token.jwt")
	if err != nil {
		log.Fatal(err)
	}
	pool := bearer.Cognito(bearer.CognitoPool{ID: "eu-west-1_AbCdEfGhI"}, "1example23456789abcdefghij")
	pool.JWKS = jwksJSON // offline here; in Lambda leave it out and the pool's jwks.json is fetched
	b, err := bearer.New(context.Background(), bearer.Config{
		Issuers: []bearer.Issuer{pool},
		// The example token lives 100 years; real ones live hours.
		MaxLifetime: 200 * 365 * 24 * time.Hour,
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	return b, strings.TrimSpace(string(raw))
}

// A REST API TOKEN authorizer: in main, lambda.Start(lambdaauth.TokenAuthorizer(b, ...)).
func ExampleTokenAuthorizer() {
	b, token := exampleBearer()
	authorizer := lambdaauth.TokenAuthorizer(b, bearer.Scopes("orders/read"))

	resp, err := authorizer(context.Background(), events.APIGatewayCustomAuthorizerRequest{
		Type:               "TOKEN",
		AuthorizationToken: "Bearer " + token,
		MethodArn:          "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/orders/42",
	})
	if err != nil {
		log.Fatal(err)
	}
	st := resp.PolicyDocument.Statement[0]
	fmt.Println(resp.PrincipalID, st.Effect, st.Resource[0])
	fmt.Println(resp.Context["username"], resp.Context["scope"])

	_, err = authorizer(context.Background(), events.APIGatewayCustomAuthorizerRequest{
		Type: "TOKEN", AuthorizationToken: "Bearer not-a-token",
		MethodArn: "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/orders/42",
	})
	fmt.Println(err)
	// Output:
	// 6f1c2e7a-9b3d-4c8e-a1f0-2d4b6c8e0a12 Allow arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*/*
	// alice.example openid email profile orders/read orders/write
	// Unauthorized
}

// The same net/http handler under an HTTP API: in main,
// lambda.Start(lambdaauth.HTTPAPI(mux, lambdaauth.Options{})).
func ExampleHTTPAPI() {
	b, token := exampleBearer()
	mux := http.NewServeMux()
	mux.Handle("GET /orders", b.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "orders of %s", bearer.ClaimsFrom(r.Context()).Username)
	}), bearer.Scopes("orders/read")))
	handler := lambdaauth.HTTPAPI(mux, lambdaauth.Options{})

	ev := events.APIGatewayV2HTTPRequest{
		RawPath: "/prod/orders",
		Headers: map[string]string{"authorization": "Bearer " + token},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			Stage: "prod", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"},
		},
	}
	resp, err := handler(context.Background(), ev)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.StatusCode, resp.Body)
	// Output: 200 orders of alice.example
}

// The same handler behind an HTTP API integration with payload format 1.0
// ("version":"1.0", the REST shape): in main,
// lambda.Start(lambdaauth.REST(mux, lambdaauth.Options{HTTPAPIPayloadV1: true})).
func ExampleREST_httpAPIPayloadV1() {
	b, token := exampleBearer()
	mux := http.NewServeMux()
	mux.Handle("GET /files/{name}", b.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s asks for %q", bearer.ClaimsFrom(r.Context()).Username, r.PathValue("name"))
	}), bearer.Scopes("orders/read")))
	handler := lambdaauth.REST(mux, lambdaauth.Options{HTTPAPIPayloadV1: true})

	// The client asked for /prod/files/%252e%252e; API Gateway decoded it once.
	ev := events.APIGatewayProxyRequest{
		Path:       "/prod/files/%2e%2e",
		HTTPMethod: "GET",
		Headers:    map[string]string{"authorization": "Bearer " + token},
		RequestContext: events.APIGatewayProxyRequestContext{
			Stage: "prod", Path: "/prod/files/%2e%2e",
		},
	}
	resp, err := handler(context.Background(), ev)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.StatusCode, resp.Body)
	// Output: 200 alice.example asks for "%2e%2e"
}

// An HTTP API Lambda authorizer with simple responses (payload format 2.0,
// enableSimpleResponses, identity source $request.header.Authorization): in
// main, lambda.Start(lambdaauth.HTTPAPISimpleAuthorizer(b, ...)).
func ExampleHTTPAPISimpleAuthorizer() {
	b, token := exampleBearer()
	authorizer := lambdaauth.HTTPAPISimpleAuthorizer(b, bearer.Scopes("orders/read"))

	ev := events.APIGatewayV2CustomAuthorizerV2Request{
		Version: "2.0", Type: "REQUEST",
		RouteArn: "arn:aws:execute-api:eu-west-1:123456789012:abc123/$default/GET/orders",
		Headers:  map[string]string{"authorization": "Bearer " + token},
	}
	resp, err := authorizer(context.Background(), ev)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.IsAuthorized, resp.Context["username"])

	// A token without the scope: isAuthorized false, API Gateway answers 403.
	resp, err = lambdaauth.HTTPAPISimpleAuthorizer(b, bearer.Scopes("admin/all"))(context.Background(), ev)
	fmt.Println(resp.IsAuthorized, err)

	// No valid token: the error "Unauthorized", API Gateway answers 401.
	ev.Headers["authorization"] = "Bearer not-a-token"
	_, err = authorizer(context.Background(), ev)
	fmt.Println(err)
	// Output:
	// true alice.example
	// false <nil>
	// Unauthorized
}

// An HTTP API Lambda authorizer returning IAM policies (payload format 2.0,
// simple responses off): in main,
// lambda.Start(lambdaauth.HTTPAPIPolicyAuthorizer(b, ...)).
func ExampleHTTPAPIPolicyAuthorizer() {
	b, token := exampleBearer()
	authorizer := lambdaauth.HTTPAPIPolicyAuthorizer(b, bearer.Scopes("orders/read"))

	resp, err := authorizer(context.Background(), events.APIGatewayV2CustomAuthorizerV2Request{
		Version: "2.0", Type: "REQUEST",
		RouteArn: "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/orders/42",
		Headers:  map[string]string{"authorization": "Bearer " + token},
	})
	if err != nil {
		log.Fatal(err)
	}
	st := resp.PolicyDocument.Statement[0]
	fmt.Println(resp.PrincipalID, st.Effect, st.Resource[0])
	// Output:
	// 6f1c2e7a-9b3d-4c8e-a1f0-2d4b6c8e0a12 Allow arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*
}

// The same net/http handler as the target of an Application Load Balancer
// target group (here with multi-value headers enabled): in main,
// lambda.Start(lambdaauth.ALB(mux, lambdaauth.Options{})).
func ExampleALB() {
	b, token := exampleBearer()
	mux := http.NewServeMux()
	mux.Handle("GET /orders", b.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tg := lambdaauth.EventALBFrom(r.Context()).RequestContext.ELB.TargetGroupArn
		fmt.Fprintf(w, "orders of %s matching %q via %s", bearer.ClaimsFrom(r.Context()).Username,
			r.URL.Query().Get("q"), tg[strings.LastIndex(tg, ":")+1:])
	}), bearer.Scopes("orders/read")))
	handler := lambdaauth.ALB(mux, lambdaauth.Options{})

	resp, err := handler(context.Background(), events.ALBTargetGroupRequest{
		HTTPMethod: "GET",
		Path:       "/orders",
		// The load balancer passes the query as the client sent it.
		MultiValueQueryStringParameters: map[string][]string{"q": {"blue%20books"}},
		MultiValueHeaders: map[string][]string{
			"authorization": {"Bearer " + token}, "x-forwarded-proto": {"https"},
		},
		RequestContext: events.ALBTargetGroupRequestContext{ELB: events.ELBContext{
			TargetGroupArn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/orders/6d0ecf831eec9f09",
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.StatusDescription, resp.Body)
	// Output: 200 OK orders of alice.example matching "blue books" via targetgroup/orders/6d0ecf831eec9f09
}

// The same net/http handler behind a Lambda function URL: in main,
// lambda.Start(lambdaauth.FunctionURL(mux, lambdaauth.Options{})).
func ExampleFunctionURL() {
	b, token := exampleBearer()
	mux := http.NewServeMux()
	mux.Handle("GET /files/{name}", b.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s asks for %q", bearer.ClaimsFrom(r.Context()).Username, r.PathValue("name"))
	}), bearer.Scopes("orders/read")))
	handler := lambdaauth.FunctionURL(mux, lambdaauth.Options{})

	// The client asked for /files/%252e%252e; a function URL passes it as sent.
	ev := events.LambdaFunctionURLRequest{
		Version: "2.0",
		RawPath: "/files/%252e%252e",
		Headers: map[string]string{"authorization": "Bearer " + token},
		RequestContext: events.LambdaFunctionURLRequestContext{
			DomainName: "abcdefghij.lambda-url.eu-west-1.on.aws",
			HTTP:       events.LambdaFunctionURLRequestContextHTTPDescription{Method: "GET"},
		},
	}
	resp, err := handler(context.Background(), ev)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.StatusCode, resp.Body)
	// Output: 200 alice.example asks for "%2e%2e"
}
