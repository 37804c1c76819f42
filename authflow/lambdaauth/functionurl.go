package lambdaauth

import (
	"context"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
)

type eventFunctionURLKey struct{}

// EventFunctionURLFrom returns the Lambda function URL event behind a
// request served by FunctionURL, or nil. With the AWS_IAM auth type, its
// RequestContext.Authorizer.IAM names the SigV4 caller.
func EventFunctionURLFrom(ctx context.Context) *events.LambdaFunctionURLRequest {
	ev, _ := ctx.Value(eventFunctionURLKey{}).(*events.LambdaFunctionURLRequest)
	return ev
}

// FunctionURL adapts h to Lambda function URL events in the BUFFERED invoke
// mode, for lambda.Start, per "Request and response payloads" of the Lambda
// developer guide
// (https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads).
//
// The event has the shape of API Gateway's payload format 2.0, but its
// rawPath is the client's, still percent-encoded (unlike an HTTP API's,
// see HTTPAPI): it is decoded here once, as net/http would, and
// rawQueryString is taken as it comes. A function URL has no stage, so
// nothing is removed from the path; a redirect to an absolute path gets
// Options.BasePath when set (a proxy in front that strips a prefix).
// Cookies come from the event's cookies; repeated request headers arrive
// joined with commas, so two Authorization headers are one invalid
// credential. The response puts every Set-Cookie in cookies (Lambda turns
// each into a set-cookie header), joins other repeated headers with ", ",
// and base64-encodes a body that is not text; the body as sent is bounded
// by Options.MaxResponseBytes (Lambda's 6 MB payload less 64 KB by default).
func FunctionURL(h http.Handler, o Options) func(context.Context, events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
	return func(ctx context.Context, ev events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
		u, err := parseEncodedPath(ev.RawPath)
		if err != nil {
			return events.LambdaFunctionURLResponse{}, err
		}
		ctx = context.WithValue(ctx, eventFunctionURLKey{}, &ev)
		r, err := newRequest(ctx, ev.RequestContext.HTTP.Method, u, ev.RawQueryString, headerV2(ev.Headers, ev.Cookies),
			ev.Body, ev.IsBase64Encoded, ev.RequestContext.DomainName, ev.RequestContext.HTTP.SourceIP)
		if err != nil {
			return events.LambdaFunctionURLResponse{}, err
		}
		w := serve(h, r, o.BasePath, o.maxResponse(defaultMaxResponseBytes))
		resp := events.LambdaFunctionURLResponse{StatusCode: w.status}
		resp.Headers, resp.Cookies = w.singleValue()
		resp.Body, resp.IsBase64Encoded = w.encoded, w.b64
		return resp, nil
	}
}
