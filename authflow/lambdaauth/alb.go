package lambdaauth

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// ErrMultiValueHeaders is what ALB returns (and the load balancer then
// answers 502) when the handler sets several Set-Cookie headers but the
// target group sends single-value events: its response's headers map holds
// one value per name and a Set-Cookie can't be joined, so a cookie would be
// lost. Enable the target group's multi-value headers
// (lambda.multi_value_headers.enabled); authflow's Callback sets two.
var ErrMultiValueHeaders = errors.New("lambdaauth: several Set-Cookie headers need the ALB target group's multi-value headers (lambda.multi_value_headers.enabled)")

type eventALBKey struct{}

// EventALBFrom returns the Application Load Balancer event behind a request
// served by ALB, or nil.
func EventALBFrom(ctx context.Context) *events.ALBTargetGroupRequest {
	ev, _ := ctx.Value(eventALBKey{}).(*events.ALBTargetGroupRequest)
	return ev
}

// ALB adapts h to Application Load Balancer events, for lambda.Start in a
// function registered as the target of a target group, as described in
// "Lambda functions as targets" of the Elastic Load Balancing guide
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html).
//
// The event's path and query parameters are the client's, still
// percent-encoded (the guide: "If the query parameters are URL-encoded, the
// load balancer does not decode them"): the path is decoded here once, as
// net/http would, and the query is joined back as it came, never encoded
// or decoded a second time. Nothing is removed from the path; a redirect to
// an absolute path gets Options.BasePath when set. The request's scheme is
// X-Forwarded-Proto's ("http" on an HTTP listener, else "https"); the event
// has no source address, so RemoteAddr is empty (X-Forwarded-For's last
// entry is the client's under the load balancer's default append mode).
//
// A target group sends events in one of two modes, and the response must
// use the same one: ALB reads it from the event. With multi-value headers
// enabled, repeated request headers and query parameters stay repeated (two
// Authorization headers are refused with 400, RFC 6750 §3.1) and the
// response's multiValueHeaders carries every Set-Cookie. Without, the load
// balancer keeps the last of repeated headers and parameters, and the
// response's headers hold one value each: other repeated headers are joined
// with ", ", but several Set-Cookie headers return ErrMultiValueHeaders
// rather than drop one.
//
// statusDescription is the status code and its reason phrase ("200 OK"),
// as the load balancer requires; the body is base64 unless it is text. The
// load balancer refuses a response JSON above 1 MB, so the body as sent is
// bounded by Options.MaxResponseBytes, 1 MB less 64 KB by default.
func ALB(h http.Handler, o Options) func(context.Context, events.ALBTargetGroupRequest) (events.ALBTargetGroupResponse, error) {
	return func(ctx context.Context, ev events.ALBTargetGroupRequest) (events.ALBTargetGroupResponse, error) {
		multi := len(ev.MultiValueHeaders) > 0 || len(ev.MultiValueQueryStringParameters) > 0
		u, err := parseEncodedPath(ev.Path)
		if err != nil {
			return events.ALBTargetGroupResponse{}, err
		}
		header := headerV1(ev.Headers, ev.MultiValueHeaders)
		ctx = context.WithValue(ctx, eventALBKey{}, &ev)
		r, err := newRequest(ctx, ev.HTTPMethod, u, albQuery(ev.QueryStringParameters, ev.MultiValueQueryStringParameters),
			header, ev.Body, ev.IsBase64Encoded, "", "")
		if err != nil {
			return events.ALBTargetGroupResponse{}, err
		}
		if strings.EqualFold(header.Get("X-Forwarded-Proto"), "http") {
			r.URL.Scheme = "http"
		}
		w := serve(h, r, o.BasePath, o.maxResponse(albMaxResponseBytes))
		resp := events.ALBTargetGroupResponse{StatusCode: w.status, StatusDescription: statusDescription(w.status)}
		if multi {
			resp.MultiValueHeaders = map[string][]string(w.header)
		} else {
			var cookies []string
			resp.Headers, cookies = w.singleValue()
			switch len(cookies) {
			case 0:
			case 1:
				resp.Headers["Set-Cookie"] = cookies[0]
			default:
				return events.ALBTargetGroupResponse{}, ErrMultiValueHeaders
			}
		}
		resp.Body, resp.IsBase64Encoded = w.encoded, w.b64
		return resp, nil
	}
}

// albQuery joins ALB's query parameters, which are still percent-encoded,
// into a query string without touching them (a client's %26 stays inside
// its value), the multi-value map when present; names in sorted order.
func albQuery(single map[string]string, multi map[string][]string) string {
	var b strings.Builder
	add := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
	}
	if len(multi) > 0 {
		for _, k := range slices.Sorted(maps.Keys(multi)) {
			for _, v := range multi[k] {
				add(k, v)
			}
		}
		return b.String()
	}
	for _, k := range slices.Sorted(maps.Keys(single)) {
		add(k, single[k])
	}
	return b.String()
}

// statusDescription is "<code> <reason phrase>", the form ALB requires.
func statusDescription(status int) string {
	text := http.StatusText(status)
	if text == "" {
		text = "Status"
	}
	return fmt.Sprintf("%d %s", status, text)
}
