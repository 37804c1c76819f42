package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pubauth/awsauth/authflow/lambdaauth"
)

// lambdaHandler serves h for API Gateway, choosing per event by its
// "version": "2.0" is an HTTP API event (payload format 2.0) for
// lambdaauth.HTTPAPI; "1.0" is an HTTP API event in payload format 1.0 (the
// REST shape, its path already decoded and prefixed with the stage or API
// mapping) for lambdaauth.REST with HTTPAPIPayloadV1; none is a REST API
// proxy event for lambdaauth.REST. Any other version is refused. One
// function can then sit behind either kind of API. Redirects to an
// absolute path get basePath, the path of PUBLIC_URL (see publicBasePath).
func lambdaHandler(h http.Handler, basePath string) func(context.Context, json.RawMessage) (any, error) {
	v2 := lambdaauth.HTTPAPI(h, lambdaauth.Options{BasePath: basePath})
	httpV1 := lambdaauth.REST(h, lambdaauth.Options{BasePath: basePath, HTTPAPIPayloadV1: true})
	rest := lambdaauth.REST(h, lambdaauth.Options{BasePath: basePath})
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var probe struct {
			Version *string `json:"version"`
		}
		if err := json.Unmarshal(raw, &probe); err != nil {
			return nil, fmt.Errorf("lambda example: event is not a JSON object: %w", err)
		}
		switch {
		case probe.Version == nil:
			var ev events.APIGatewayProxyRequest
			if err := json.Unmarshal(raw, &ev); err != nil {
				return nil, fmt.Errorf("lambda example: REST API event: %w", err)
			}
			return rest(ctx, ev)
		case *probe.Version == "2.0":
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(raw, &ev); err != nil {
				return nil, fmt.Errorf("lambda example: HTTP API event: %w", err)
			}
			return v2(ctx, ev)
		case *probe.Version == "1.0":
			var ev events.APIGatewayProxyRequest
			if err := json.Unmarshal(raw, &ev); err != nil {
				return nil, fmt.Errorf("lambda example: HTTP API payload 1.0 event: %w", err)
			}
			return httpV1(ctx, ev)
		}
		return nil, fmt.Errorf("lambda example: API Gateway payload format version %q is not 1.0 or 2.0", *probe.Version)
	}
}

// publicBasePath is the path of the app's public base URL ("/prod" for a
// stage's execute-api URL, "/v1" for a custom domain's API mapping), "/" for
// none: redirects are built from the configured URL, not guessed from
// events, since an HTTP API's rawPath lacks an API mapping's path.
func publicBasePath(publicURL string) string {
	u, err := url.Parse(publicURL)
	if err != nil || u.Path == "" {
		return "/"
	}
	return u.Path
}
