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
