package authflow

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

// Attributes of the login flow's instruments (README.md, Telemetry).
const (
	refreshOutcome = attribute.Key("awsauth.refresh.outcome")
	endReason      = attribute.Key("awsauth.session.end_reason")
)

// flowTelemetry holds the Handler's instruments. With nil providers they are no-ops; a nil
// *flowTelemetry (a Handler built in a test) records nothing. Nothing is recorded on
// RequireLogin's path but the store's latency, unless a refresh runs.
type flowTelemetry struct {
	tracer  trace.Tracer
	userID  bool // Config.TraceUserID
	starts  metric.Int64Counter
	done    metric.Int64Counter
	refused metric.Int64Counter
	cbTime  metric.Float64Histogram
	refresh metric.Int64Counter
	rfTime  metric.Float64Histogram
	waits   metric.Int64Counter
	ends    metric.Int64Counter
}

func newFlowTelemetry(cfg *Config) *flowTelemetry {
	m := telemetry.Meter(cfg.MeterProvider, "authflow")
	return &flowTelemetry{
		tracer:  telemetry.Tracer(cfg.TracerProvider, "authflow"),
		userID:  cfg.TraceUserID,
		starts:  telemetry.Counter(m, "awsauth.login.starts", "{login}", "Logins started: redirects to the authorization endpoint."),
		done:    telemetry.Counter(m, "awsauth.login.completions", "{login}", "Logins completed: sessions created by the callback."),
		refused: telemetry.Counter(m, "awsauth.login.refusals", "{login}", "Logins refused at Login or the callback, by error.type."),
		cbTime:  telemetry.Duration(m, "awsauth.login.callback.duration", "Duration of the callback: code exchange, ID token check, session write."),
		refresh: telemetry.Counter(m, "awsauth.session.refreshes", "{refresh}", "Session refreshes run (once for all concurrent callers), by outcome."),
		rfTime:  telemetry.Duration(m, "awsauth.session.refresh.duration", "Duration of one session refresh: lease, token request, store write."),
		waits:   telemetry.Counter(m, "awsauth.session.refresh.lease_waits", "{wait}", "Polls for another instance's refresh while it holds the store's lease."),
		ends:    telemetry.Counter(m, "awsauth.session.ends", "{session}", "Sessions ended, by awsauth.session.end_reason."),
	}
}

// loginStarted counts a redirect to the authorization endpoint.
func (t *flowTelemetry) loginStarted(ctx context.Context) {
	if t != nil {
		t.starts.Add(ctx, 1)
	}
}

// loginRefused counts a login refused for reason, one of loginRefusal's values.
func (t *flowTelemetry) loginRefused(ctx context.Context, reason string) {
	if t == nil {
		return
	}
	t.refused.Add(ctx, 1, metric.WithAttributes(telemetry.ErrorType.String(reason)))
}

// callback starts the callback's span; the function it returns records the callback's
// outcome (the status and error of Handler.callback) and latency.
func (t *flowTelemetry) callback(ctx context.Context) (context.Context, func(int, error)) {
	if t == nil {
		return ctx, func(int, error) {}
	}
	start := time.Now()
	ctx, span := telemetry.Start(ctx, t.tracer, "awsauth.login.callback", trace.SpanKindInternal)
	return ctx, func(status int, err error) {
		reason := loginRefusal(status, err)
		if reason == "" {
			t.done.Add(ctx, 1)
			t.cbTime.Record(ctx, telemetry.Since(start))
		} else {
			t.loginRefused(ctx, reason)
			t.cbTime.Record(ctx, telemetry.Since(start), metric.WithAttributes(telemetry.ErrorType.String(reason)))
		}
		telemetry.End(span, reason, err)
	}
}

// user adds user.id (the ID token's sub) to the current span when Config.TraceUserID is set.
func (t *flowTelemetry) user(ctx context.Context, sub string) {
	if t != nil && t.userID {
		trace.SpanFromContext(ctx).SetAttributes(telemetry.UserID.String(sub))
	}
}

// errProviderError is the cause of a callback that carries the provider's error code.
var errProviderError = errors.New("authflow: provider returned error")

// errUnsafeReturnTo marks a Login refused for its return_to.
const errUnsafeReturnTo = "invalid_return_to"

// loginRefusal is error.type of a failed callback, from a fixed set; "" for nil.
func loginRefusal(status int, err error) string {
	switch {
	case err == nil:
		return ""
	case status == http.StatusServiceUnavailable:
		return "store_unavailable"
	case errors.Is(err, ErrBadCallback):
		return "bad_callback"
	case errors.Is(err, errProviderError):
		return "provider_error"
	case errors.Is(err, ErrStateMismatch):
		return "state_mismatch"
	case errors.Is(err, ErrIssuerMismatch):
		return "issuer_mismatch"
	case errors.Is(err, ErrTokenResponse):
		return "token_response"
	case errors.Is(err, ErrNonceMismatch):
		return "nonce"
	case errors.Is(err, ErrInsufficientAuthentication):
		return "insufficient_authentication"
	case errors.Is(err, errIDTokenKeys):
		return "key_set_unavailable"
	case errors.Is(err, ErrIDToken):
		return "id_token"
	}
	return telemetry.OtherError
}

// tokenRequest starts a client span around one token endpoint request (RFC 6749 §3.2):
// "awsauth.token.exchange", "awsauth.token.refresh" or "awsauth.token.revoke". End it with
// tokenDone.
func (t *flowTelemetry) tokenRequest(ctx context.Context, name, endpoint string) (context.Context, trace.Span) {
	if t == nil {
		return ctx, trace.SpanFromContext(context.Background()) // a no-op span
	}
	host := ""
	if u, err := url.Parse(endpoint); err == nil {
		host = u.Hostname()
	}
	return telemetry.Start(ctx, t.tracer, name, trace.SpanKindClient, telemetry.ServerAddress.String(host))
}

// tokenDone ends a token request's span; error.type is the RFC 6749 §5.2 error code when
// the endpoint sent a standard one, else "_OTHER" for another code or "transport" for no
// answer.
func (t *flowTelemetry) tokenDone(span trace.Span, err error) {
	typ := ""
	if err != nil {
		typ = "transport"
		if code := errorCode(err); code != "" {
			typ = telemetry.OtherError
			switch code {
			case "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
				"unsupported_grant_type", "invalid_scope":
				typ = code
			}
		}
	}
	telemetry.End(span, typ, err)
}

// revokeDone ends a revocation request's span (RFC 7009 §2.2): error.type is the HTTP status
// code of an answer other than 200, or "transport" for no answer.
func (t *flowTelemetry) revokeDone(span trace.Span, resp *http.Response, err error) {
	switch {
	case err != nil:
		telemetry.End(span, "transport", err)
	case resp.StatusCode != http.StatusOK:
		telemetry.End(span, strconv.Itoa(resp.StatusCode), nil)
	default:
		telemetry.End(span, "", nil)
	}
}

// refreshStart starts a refresh's span; the function it returns records its outcome: "ok",
// "session_ended", "failed" (a transient fault: the session is kept) or "unknown" (sent, the
// answer lost: the refresh token is never presented again and the session ends when its
// tokens expire; refreshlost.go).
func (t *flowTelemetry) refreshStart(ctx context.Context) (context.Context, func(*Session, error)) {
	if t == nil {
		return ctx, func(*Session, error) {}
	}
	start := time.Now()
	ctx, span := telemetry.Start(ctx, t.tracer, "awsauth.session.refresh", trace.SpanKindInternal)
	return ctx, func(s *Session, err error) {
		outcome, typ := "ok", ""
		switch {
		case errors.Is(err, ErrSessionEnded):
			outcome, typ = "session_ended", "session_ended"
		case errors.Is(err, errRefreshUnknown):
			outcome, typ = "unknown", "unknown"
		case err != nil:
			outcome, typ = "failed", "failed"
		}
		if s != nil {
			t.user(ctx, s.Subject)
		}
		opt := metric.WithAttributes(refreshOutcome.String(outcome))
		t.refresh.Add(ctx, 1, opt)
		t.rfTime.Record(ctx, telemetry.Since(start), opt)
		telemetry.End(span, typ, err)
	}
}

// leaseWait counts one poll for another instance's refresh.
func (t *flowTelemetry) leaseWait(ctx context.Context) {
	if t != nil {
		t.waits.Add(ctx, 1)
	}
}

// sessionEnded counts a session's end, by its reason (sessionend.go: the one set of reasons).
func (t *flowTelemetry) sessionEnded(ctx context.Context, reason EndReason) {
	if t != nil {
		t.ends.Add(ctx, 1, metric.WithAttributes(endReason.String(string(reason))))
	}
}
