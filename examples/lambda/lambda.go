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

// lambdaHandler serves h for API Gateway: an HTTP API event (payload format
// 2.0, "version":"2.0") through lambdaauth.HTTPAPI, anything else as a REST
// API proxy event through lambdaauth.REST. One function can then sit behind
// either kind of API. Redirects to an absolute path get basePath, the path
// of PUBLIC_URL (see publicBasePath).
func lambdaHandler(h http.Handler, basePath string) func(context.Context, json.RawMessage) (any, error) {
	o := lambdaauth.Options{BasePath: basePath}
	v2 := lambdaauth.HTTPAPI(h, o)
	v1 := lambdaauth.REST(h, o)
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var probe struct {
			Version string `json:"version"`
		}
		if err := json.Unmarshal(raw, &probe); err != nil {
			return nil, fmt.Errorf("lambda example: event is not a JSON object: %w", err)
		}
		if probe.Version == "2.0" {
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(raw, &ev); err != nil {
				return nil, fmt.Errorf("lambda example: HTTP API event: %w", err)
			}
			return v2(ctx, ev)
		}
		var ev events.APIGatewayProxyRequest
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("lambda example: REST API event: %w", err)
		}
		return v1(ctx, ev)
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
