// Package telemetrytest records the module's metrics and spans in memory, through the
// OpenTelemetry SDK's ManualReader and tracetest.SpanRecorder, for tests: sums of counters,
// counts of histograms, spans by name, and a scan of every recorded attribute value for
// secrets. Only tests import it.
package telemetrytest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Recorder holds an SDK MeterProvider and TracerProvider that keep everything in memory.
type Recorder struct {
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	MP     *sdkmetric.MeterProvider
	TP     *sdktrace.TracerProvider
}

// New returns a Recorder whose providers shut down when t ends.
func New(t testing.TB) *Recorder {
	r := &Recorder{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	r.MP = sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	r.TP = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans))
	t.Cleanup(func() {
		r.MP.Shutdown(context.Background())
		r.TP.Shutdown(context.Background())
	})
	return r
}

// Point is one recorded data point: its attributes as text, and its value (a counter's sum,
// a histogram's count).
type Point struct {
	Attrs map[string]string
	Value float64
}

// Metrics collects every metric: name → points.
func (r *Recorder) Metrics(t testing.TB) map[string][]Point {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string][]Point{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[m.Name] = append(out[m.Name], Point{attrMap(p.Attributes), float64(p.Value)})
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out[m.Name] = append(out[m.Name], Point{attrMap(p.Attributes), float64(p.Count)})
				}
			default:
				t.Fatalf("metric %s: unexpected data %T", m.Name, m.Data)
			}
		}
	}
	return out
}

func attrMap(s attribute.Set) map[string]string {
	m := map[string]string{}
	for _, kv := range s.ToSlice() {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

// Value is the total of metric name's points whose attributes include want ("" as a value
// means the attribute must be absent).
func Value(points map[string][]Point, name string, want map[string]string) float64 {
	var v float64
	for _, p := range points[name] {
		if matches(p.Attrs, want) {
			v += p.Value
		}
	}
	return v
}

func matches(attrs, want map[string]string) bool {
	for k, w := range want {
		if got, ok := attrs[k]; w == "" && ok || w != "" && got != w {
			return false
		}
	}
	return true
}

// Spans returns the ended spans named name.
func (r *Recorder) Spans(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range r.spans.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// SpanAttrs is a span's attributes as text.
func SpanAttrs(s sdktrace.ReadOnlySpan) map[string]string {
	return attrMap(attribute.NewSet(s.Attributes()...))
}

// Values returns, as "where: text", every attribute value recorded so far (metric points,
// span attributes, span events' attributes) and every span status description.
func (r *Recorder) Values(t testing.TB) []string {
	t.Helper()
	var out []string
	for name, points := range r.Metrics(t) {
		for _, p := range points {
			for k, v := range p.Attrs {
				out = append(out, fmt.Sprintf("metric %s %s: %s", name, k, v))
			}
		}
	}
	for _, s := range r.spans.Ended() {
		for _, kv := range s.Attributes() {
			out = append(out, fmt.Sprintf("span %s %s: %s", s.Name(), kv.Key, kv.Value.String()))
		}
		for _, e := range s.Events() {
			for _, kv := range e.Attributes {
				out = append(out, fmt.Sprintf("span %s event %s %s: %s", s.Name(), e.Name, kv.Key, kv.Value.String()))
			}
		}
		out = append(out, fmt.Sprintf("span %s status: %s", s.Name(), s.Status().Description))
	}
	return out
}

// NoSecrets fails t when any recorded value contains one of secrets (empty ones skipped).
func (r *Recorder) NoSecrets(t testing.TB, secrets ...string) {
	t.Helper()
	values := r.Values(t)
	if len(values) == 0 {
		t.Fatal("nothing recorded")
	}
	for _, v := range values {
		for _, s := range secrets {
			if s != "" && strings.Contains(v, s) {
				t.Errorf("a secret reached telemetry: %s", strings.ReplaceAll(v, s, "<SECRET>"))
			}
		}
	}
}
