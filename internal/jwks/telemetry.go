package jwks

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/pubauth/awsauth/internal/telemetry"
)

// fetchTelemetry records JWKS fetches: the counter awsauth.jwks.fetches, the histogram
// awsauth.jwks.fetch.duration and a client span awsauth.jwks.fetch (README.md, Telemetry).
// A KeySet with neither provider has none.
type fetchTelemetry struct {
	tracer   trace.Tracer
	fetches  metric.Int64Counter
	duration metric.Float64Histogram
	server   attribute.KeyValue
	url      attribute.KeyValue
}

func newFetchTelemetry(mp metric.MeterProvider, tp trace.TracerProvider, rawURL string) *fetchTelemetry {
	if mp == nil && tp == nil {
		return nil
	}
	m := telemetry.Meter(mp, "jwks")
	host := ""
	if u, err := url.Parse(rawURL); err == nil {
		host = u.Hostname()
	}
	return &fetchTelemetry{
		tracer:   telemetry.Tracer(tp, "jwks"),
		fetches:  telemetry.Counter(m, "awsauth.jwks.fetches", "{fetch}", "JWKS documents fetched from an issuer's jwks_uri, by outcome."),
		duration: telemetry.Duration(m, "awsauth.jwks.fetch.duration", "Duration of one JWKS fetch: request, body and parse."),
		server:   telemetry.ServerAddress.String(host),
		url:      telemetry.URLFull.String(rawURL),
	}
}

// start begins a fetch's span; the returned function records the fetch's outcome.
func (t *fetchTelemetry) start(ctx context.Context) (context.Context, func(error)) {
	if t == nil {
		return ctx, func(error) {}
	}
	begin := time.Now()
	ctx, span := telemetry.Start(ctx, t.tracer, "awsauth.jwks.fetch", trace.SpanKindClient, t.server, t.url)
	return ctx, func(err error) {
		typ := fetchErrorType(err)
		attrs := []attribute.KeyValue{t.server}
		if typ != "" {
			attrs = append(attrs, telemetry.ErrorType.String(typ))
		}
		opt := metric.WithAttributes(attrs...)
		t.fetches.Add(ctx, 1, opt)
		t.duration.Record(ctx, telemetry.Since(begin), opt)
		telemetry.End(span, typ, err)
	}
}

// fetchErrorType is error.type of a failed fetch: the HTTP status code of a non-200 answer
// (as the HTTP semantic conventions have it), "timeout", "too_large", "invalid_jwks" for a
// document that does not parse or holds no usable key, "transport" for any other failure.
func fetchErrorType(err error) string {
	if err == nil {
		return ""
	}
	var fe *FetchError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, &fe) && fe.StatusCode != 0 && fe.StatusCode != http.StatusOK:
		return strconv.Itoa(fe.StatusCode)
	case errors.As(err, &fe) && fe.StatusCode == http.StatusOK && fe.Err != nil && errors.Is(fe.Err, errTooLarge):
		return "too_large"
	case errors.As(err, &fe) && fe.StatusCode == http.StatusOK:
		return "invalid_jwks"
	}
	return "transport"
}
