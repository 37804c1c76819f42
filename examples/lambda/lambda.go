package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pubauth/awsauth/authflow/lambdaauth"
)

// lambdaHandler serves h for API Gateway: an HTTP API event (payload format
// 2.0, "version":"2.0") through lambdaauth.HTTPAPI, anything else as a REST
// API proxy event through lambdaauth.REST. One function can then sit behind
// either kind of API.
func lambdaHandler(h http.Handler) func(context.Context, json.RawMessage) (any, error) {
	v2 := lambdaauth.HTTPAPI(h, lambdaauth.Options{})
	v1 := lambdaauth.REST(h, lambdaauth.Options{})
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
