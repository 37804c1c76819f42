package bearer

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/pubauth/awsauth/internal/jwt"
	"github.com/pubauth/awsauth/internal/telemetry"
)

// cacheHit is the attribute that tells a token served from the cache of verified tokens.
const cacheHit = attribute.Key("awsauth.bearer.cache_hit")

// verifyTelemetry counts verifications in awsauth.bearer.verifications (README.md,
// Telemetry). Every attribute set and option slice is built once, so that counting allocates
// nothing; a
// Verifier without a MeterProvider has none and pays one nil check.
type verifyTelemetry struct {
	count     metric.Int64Counter
	hit, miss []metric.AddOption
	refusals  map[string][]metric.AddOption // by error.type
}

// refusalTypes are error.type's values for a refused token: the core's reasons (jwt.Reason)
// and this package's own.
var refusalTypes = []string{
	"too_long", "empty", "malformed", "type", "issuer", "algorithm", "signer", "signature",
	"expired", "not_yet_valid", "issued_at", "lifetime", "claims", "token_use", "client_id",
	"audience", "authorized_party", "nonce", "key_set_unavailable", "invalid", telemetry.OtherError,
}

func newVerifyTelemetry(mp metric.MeterProvider) *verifyTelemetry {
	if mp == nil {
		return nil
	}
	m := telemetry.Meter(mp, "authflow/bearer")
	t := &verifyTelemetry{
		count: telemetry.Counter(m, "awsauth.bearer.verifications", "{token}",
			"Bearer tokens verified by Verifier.Verify, by outcome (error.type when refused) and cache hit."),
		hit:      []metric.AddOption{telemetry.Attrs(cacheHit.Bool(true))},
		miss:     []metric.AddOption{telemetry.Attrs(cacheHit.Bool(false))},
		refusals: map[string][]metric.AddOption{},
	}
	for _, r := range refusalTypes {
		t.refusals[r] = []metric.AddOption{telemetry.Attrs(cacheHit.Bool(false), telemetry.ErrorType.String(r))}
	}
	return t
}

// verified counts a token that passed, from the cache or not.
func (t *verifyTelemetry) verified(ctx context.Context, fromCache bool) {
	if t == nil {
		return
	}
	if fromCache {
		t.count.Add(ctx, 1, t.hit...)
	} else {
		t.count.Add(ctx, 1, t.miss...)
	}
}

// refused counts a token that failed, by the class of err.
func (t *verifyTelemetry) refused(ctx context.Context, err error) {
	if t == nil {
		return
	}
	opt, ok := t.refusals[refusalType(err)]
	if !ok {
		opt = t.refusals[telemetry.OtherError]
	}
	t.count.Add(ctx, 1, opt...)
}

// refusalType is error.type for an error of Verify.
func refusalType(err error) string {
	switch {
	case errors.Is(err, errTokenTooLong):
		return "too_long"
	case errors.Is(err, errEmptyToken):
		return "empty"
	case errors.Is(err, errUnknownIssuer):
		return "issuer"
	case errors.Is(err, ErrKeySetUnavailable):
		return "key_set_unavailable"
	}
	return jwt.Reason(err)
}
