package bearer

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric/noop"

	"github.com/pubauth/awsauth/internal/telemetry/telemetrytest"
)

// Issue 10: a verified token, the same token again (from the cache), an expired one and one
// with a bad signature are counted in awsauth.bearer.verifications with the documented
// attributes; the key set's one fetch is counted and traced; no token reaches an attribute.
func TestTelemetry(t *testing.T) {
	rec := telemetrytest.New(t)
	op := newBearerOP(t)
	clock := newTestClock()
	v := newTestBearer(t, op, clock, func(c *Config) { c.MeterProvider, c.TracerProvider = rec.MP, rec.TP })

	good := op.mint("k1", op.claims(clock.Now(), testClient))
	expired := op.mint("k1", op.claims(clock.Now().Add(-2*time.Hour), testClient))
	forged := tamper(good)
	for _, tc := range []struct {
		tok  string
		want error
	}{{good, nil}, {good, nil}, {expired, ErrTokenExpired}, {forged, ErrInvalidToken}} {
		if _, err := v.Verify(t.Context(), tc.tok); !errors.Is(err, tc.want) {
			t.Fatalf("Verify = %v, want %v", err, tc.want)
		}
	}

	m := rec.Metrics(t)
	for _, tc := range []struct {
		attrs map[string]string
		want  float64
	}{
		{map[string]string{"awsauth.bearer.cache_hit": "false", "error.type": ""}, 1},
		{map[string]string{"awsauth.bearer.cache_hit": "true", "error.type": ""}, 1},
		{map[string]string{"error.type": "expired"}, 1},
		{map[string]string{"error.type": "signature"}, 1},
	} {
		if got := telemetrytest.Value(m, "awsauth.bearer.verifications", tc.attrs); got != tc.want {
			t.Errorf("awsauth.bearer.verifications%v = %v, want %v (all: %v)", tc.attrs, got, tc.want, m["awsauth.bearer.verifications"])
		}
	}
	if got := telemetrytest.Value(m, "awsauth.jwks.fetches", map[string]string{"error.type": ""}); got != 1 {
		t.Errorf("awsauth.jwks.fetches = %v, want 1", got)
	}
	if spans := rec.Spans("awsauth.jwks.fetch"); len(spans) != 1 || telemetrytest.SpanAttrs(spans[0])["url.full"] != op.jwksURL() {
		t.Errorf("jwks spans = %v", spans)
	}
	rec.NoSecrets(t, good, expired, forged)
}

// A refusal outside the core (too long, unknown issuer) has its own error.type.
func TestRefusalType(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errTokenTooLong, "too_long"},
		{errEmptyToken, "empty"},
		{errUnknownIssuer, "issuer"},
		{ErrTokenExpired, "expired"},
		{fromCore(errors.New("jws: something")), "invalid"},
	} {
		if got := refusalType(tc.err); got != tc.want {
			t.Errorf("refusalType(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
	for _, r := range refusalTypes {
		if newVerifyTelemetry(noop.NewMeterProvider()).refusals[r] == nil {
			t.Errorf("no attribute set for %q", r)
		}
	}
}

// With a no-op MeterProvider, as with none, verifying a cached token allocates nothing, and
// a refused one no more than without telemetry.
func TestTelemetryNoopAllocs(t *testing.T) {
	tok, doc := benchTestdata(t)
	refusedAllocs := map[string]float64{}
	for name, mp := range map[string]*noop.MeterProvider{"nil": nil, "noop": {}} {
		v := benchBearer(t, doc, 0)
		if mp != nil {
			v.tel = newVerifyTelemetry(*mp)
		}
		ctx := context.Background()
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { v.Verify(ctx, tok) }); n != 0 {
			t.Errorf("%s: %v allocations per cached Verify", name, n)
		}
		forged := tamper(tok)
		refusedAllocs[name] = testing.AllocsPerRun(100, func() { v.Verify(ctx, forged) })
		long := strings.Repeat("a", 1<<20)
		if n := testing.AllocsPerRun(100, func() { v.Verify(ctx, long) }); n != 0 {
			t.Errorf("%s: %v allocations per refused hostile token", name, n)
		}
	}
	if !raceEnabled && refusedAllocs["noop"] != refusedAllocs["nil"] {
		t.Errorf("allocations per refused Verify: %v", refusedAllocs)
	}
}
