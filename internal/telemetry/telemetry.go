// Package telemetry holds what the module's OpenTelemetry instruments share: the attribute
// keys, the no-op fallbacks for a nil MeterProvider or TracerProvider, the histogram buckets
// and the span ending rule. Each package declares its own instruments in its telemetry.go;
// README.md's "Telemetry" section lists them all (name, unit, attributes).
//
// It imports the OpenTelemetry API only (go.opentelemetry.io/otel, .../metric, .../trace),
// never the SDK or an exporter: the application chooses those.
//
// Attribute values are drawn from small fixed sets (a reason, a provider name, an operation)
// or from the configuration (an endpoint's host); never a token, code, cookie, secret or
// user id, except user.id on spans where the application opts in (authflow.Config).
package telemetry

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// ScopePrefix starts every instrumentation scope name: the importing package's path.
const ScopePrefix = "github.com/pubauth/awsauth/"

// Attribute keys. error.type, server.address, url.full, user.id and rpc.* are OpenTelemetry
// semantic conventions (https://opentelemetry.io/docs/specs/semconv/); the rest are this
// module's, under "awsauth.".
const (
	ErrorType     = attribute.Key("error.type")
	ServerAddress = attribute.Key("server.address")
	URLFull       = attribute.Key("url.full")
	UserID        = attribute.Key("user.id")
	RPCSystem     = attribute.Key("rpc.system")
	RPCService    = attribute.Key("rpc.service")
	RPCMethod     = attribute.Key("rpc.method")
)

// OtherError is error.type's value for an error outside a package's fixed set (the semantic
// conventions' fallback).
const OtherError = "_OTHER"

// Meter returns mp's meter for the package at ScopePrefix+pkg; a nil mp gives a no-op meter.
func Meter(mp metric.MeterProvider, pkg string) metric.Meter {
	if mp == nil {
		mp = metricnoop.NewMeterProvider()
	}
	return mp.Meter(ScopePrefix + pkg)
}

// Tracer returns tp's tracer for the package at ScopePrefix+pkg; a nil tp gives a no-op tracer.
func Tracer(tp trace.TracerProvider, pkg string) trace.Tracer {
	if tp == nil {
		tp = tracenoop.NewTracerProvider()
	}
	return tp.Tracer(ScopePrefix + pkg)
}

// Counter makes an Int64Counter; an invalid name (a bug, caught by the tests) gives a no-op one.
func Counter(m metric.Meter, name, unit, desc string) metric.Int64Counter {
	c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	if err != nil {
		c, _ = metricnoop.Meter{}.Int64Counter(name)
	}
	return c
}

// DurationBuckets are the explicit bucket boundaries, in seconds, of every duration
// histogram: those the semantic conventions give http.server.request.duration.
var DurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// Duration makes a Float64Histogram of durations in seconds ("s").
func Duration(m metric.Meter, name, desc string) metric.Float64Histogram {
	h, err := m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
		metric.WithExplicitBucketBoundaries(DurationBuckets...))
	if err != nil {
		h, _ = metricnoop.Meter{}.Float64Histogram(name)
	}
	return h
}

// Since is the time from start to now, in seconds.
func Since(start time.Time) float64 { return time.Since(start).Seconds() }

// Attrs is one measurement option carrying attrs, built once so that recording with it costs
// no allocation.
func Attrs(attrs ...attribute.KeyValue) metric.MeasurementOption {
	return metric.WithAttributeSet(attribute.NewSet(attrs...))
}

// End ends span; a non-empty errType marks it failed: status Error with errType as its
// description, and error.type errType. err's text is never recorded: an answer from a peer
// (an OAuth error body, an AWS error message) may echo what it was sent.
func End(span trace.Span, errType string, _ error) {
	if errType != "" {
		span.SetAttributes(ErrorType.String(errType))
		span.SetStatus(codes.Error, errType)
	}
	span.End()
}

// Start starts a span named name of kind kind with attrs.
func Start(ctx context.Context, t trace.Tracer, name string, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return t.Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
}
