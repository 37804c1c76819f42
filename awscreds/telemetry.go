package awscreds

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentity"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/pubauth/awsauth/internal/telemetry"
)

// Telemetry names the OpenTelemetry providers of a credential provider; each Options struct
// embeds it. Nil means none (no-op). Each Retrieve counts in awsauth.credentials.retrievals
// and records awsauth.credentials.retrieval.duration (attribute awsauth.credentials.provider:
// IdentityPool, WebIdentity or AssumeRole; error.type on failure: rejected, configuration,
// transient or token_source), under a span awsauth.credentials.retrieve; each STS and Cognito
// call gets a span of its own (awsauth.sts.AssumeRoleWithWebIdentity, awsauth.sts.AssumeRole,
// awsauth.cognito_identity.GetId, ...; rpc.system aws-api, rpc.service, rpc.method).
//
// The AWS SDK traces its own calls when its client's Options.TracerProvider is set (a
// smithy-go tracing.TracerProvider, such as one adapting an OpenTelemetry TracerProvider):
// its spans then nest under these, as they find them in the call's context. No attribute
// carries a token, a credential, a role session name or a user id. README.md's Telemetry
// section lists every instrument of the module.
type Telemetry struct {
	MeterProvider  metric.MeterProvider
	TracerProvider trace.TracerProvider
}

const credentialsProvider = attribute.Key("awsauth.credentials.provider")

// credsTelemetry is a provider's instruments; nil when Telemetry names no provider.
type credsTelemetry struct {
	tracer     trace.Tracer
	retrievals metric.Int64Counter
	duration   metric.Float64Histogram
	provider   attribute.KeyValue
}

func (o Telemetry) instruments(provider string) *credsTelemetry {
	if o.MeterProvider == nil && o.TracerProvider == nil {
		return nil
	}
	m := telemetry.Meter(o.MeterProvider, "awscreds")
	return &credsTelemetry{
		tracer: telemetry.Tracer(o.TracerProvider, "awscreds"),
		retrievals: telemetry.Counter(m, "awsauth.credentials.retrievals", "{retrieval}",
			"AWS credential retrievals (Retrieve calls), by provider and outcome."),
		duration: telemetry.Duration(m, "awsauth.credentials.retrieval.duration",
			"Duration of one AWS credential retrieval, retries within it included."),
		provider: credentialsProvider.String(provider),
	}
}

// retrieve starts a Retrieve's span; the function it returns records the outcome.
func (t *credsTelemetry) retrieve(ctx context.Context) (context.Context, func(error)) {
	if t == nil {
		return ctx, func(error) {}
	}
	start := time.Now()
	ctx, span := telemetry.Start(ctx, t.tracer, "awsauth.credentials.retrieve", trace.SpanKindInternal, t.provider)
	return ctx, func(err error) {
		typ := retrievalErrorType(err)
		attrs := []attribute.KeyValue{t.provider}
		if typ != "" {
			attrs = append(attrs, telemetry.ErrorType.String(typ))
		}
		opt := metric.WithAttributes(attrs...)
		t.retrievals.Add(ctx, 1, opt)
		t.duration.Record(ctx, telemetry.Since(start), opt)
		telemetry.End(span, typ, err)
	}
}

// retrievalErrorType sorts a Retrieve's error as the package documentation's Errors section
// does: "rejected" (ErrIDTokenRejected), "configuration" (ErrConfiguration), "transient" (a
// failed AWS call that may pass), "token_source" (the IDTokenFunc or LoginsFunc failed).
func retrievalErrorType(err error) string {
	var oe *opError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrIDTokenRejected):
		return "rejected"
	case errors.Is(err, ErrConfiguration):
		return "configuration"
	case errors.As(err, &oe):
		return "transient"
	}
	return "token_source"
}

// call starts the span of one AWS call; end it with callDone.
func (t *credsTelemetry) call(ctx context.Context, service, op string) (context.Context, trace.Span) {
	return telemetry.Start(ctx, t.tracer, "awsauth."+serviceSpanName[service]+"."+op, trace.SpanKindInternal,
		telemetry.RPCSystem.String("aws-api"), telemetry.RPCService.String(service), telemetry.RPCMethod.String(op))
}

var serviceSpanName = map[string]string{"STS": "sts", "CognitoIdentity": "cognito_identity"}

// callDone ends an AWS call's span; error.type is the class op's table gives the error.
func callDone(span trace.Span, op operation, err error) {
	typ := ""
	if err != nil {
		typ = [...]string{transient: "transient", configuration: "configuration", rejected: "rejected", staleIdentity: "stale_identity"}[classOf(op.failed(err))]
	}
	telemetry.End(span, typ, err)
}

// The clients below put a span around each call of the one they wrap; they are used only
// when a TracerProvider is set.

type tracedWebIdentityClient struct {
	AssumeRoleWithWebIdentityAPIClient
	t *credsTelemetry
}

func (c tracedWebIdentityClient) AssumeRoleWithWebIdentity(ctx context.Context, in *sts.AssumeRoleWithWebIdentityInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleWithWebIdentityOutput, error) {
	ctx, span := c.t.call(ctx, "STS", "AssumeRoleWithWebIdentity")
	out, err := c.AssumeRoleWithWebIdentityAPIClient.AssumeRoleWithWebIdentity(ctx, in, optFns...)
	callDone(span, opAssumeRoleWithWebIdentity, err)
	return out, err
}

type tracedAssumeRoleClient struct {
	stscreds.AssumeRoleAPIClient
	t *credsTelemetry
}

func (c tracedAssumeRoleClient) AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	ctx, span := c.t.call(ctx, "STS", "AssumeRole")
	out, err := c.AssumeRoleAPIClient.AssumeRole(ctx, in, optFns...)
	callDone(span, opAssumeRole, err)
	return out, err
}

type tracedIdentityPoolClient struct {
	IdentityPoolAPIClient
	t *credsTelemetry
}

func (c tracedIdentityPoolClient) GetId(ctx context.Context, in *cognitoidentity.GetIdInput, optFns ...func(*cognitoidentity.Options)) (*cognitoidentity.GetIdOutput, error) {
	ctx, span := c.t.call(ctx, "CognitoIdentity", "GetId")
	out, err := c.IdentityPoolAPIClient.GetId(ctx, in, optFns...)
	callDone(span, opGetID, err)
	return out, err
}

func (c tracedIdentityPoolClient) GetCredentialsForIdentity(ctx context.Context, in *cognitoidentity.GetCredentialsForIdentityInput, optFns ...func(*cognitoidentity.Options)) (*cognitoidentity.GetCredentialsForIdentityOutput, error) {
	ctx, span := c.t.call(ctx, "CognitoIdentity", "GetCredentialsForIdentity")
	out, err := c.IdentityPoolAPIClient.GetCredentialsForIdentity(ctx, in, optFns...)
	callDone(span, opGetCredentialsForIdentity, err)
	return out, err
}

func (c tracedIdentityPoolClient) GetOpenIdToken(ctx context.Context, in *cognitoidentity.GetOpenIdTokenInput, optFns ...func(*cognitoidentity.Options)) (*cognitoidentity.GetOpenIdTokenOutput, error) {
	ctx, span := c.t.call(ctx, "CognitoIdentity", "GetOpenIdToken")
	out, err := c.IdentityPoolAPIClient.GetOpenIdToken(ctx, in, optFns...)
	callDone(span, opGetOpenIDToken, err)
	return out, err
}

type tracedDeveloperClient struct {
	GetOpenIdTokenForDeveloperIdentityAPIClient
	t *credsTelemetry
}

func (c tracedDeveloperClient) GetOpenIdTokenForDeveloperIdentity(ctx context.Context, in *cognitoidentity.GetOpenIdTokenForDeveloperIdentityInput, optFns ...func(*cognitoidentity.Options)) (*cognitoidentity.GetOpenIdTokenForDeveloperIdentityOutput, error) {
	ctx, span := c.t.call(ctx, "CognitoIdentity", "GetOpenIdTokenForDeveloperIdentity")
	out, err := c.GetOpenIdTokenForDeveloperIdentityAPIClient.GetOpenIdTokenForDeveloperIdentity(ctx, in, optFns...)
	callDone(span, opGetOpenIDTokenForDeveloperIdentity, err)
	return out, err
}

// traceWebIdentity, traceAssumeRole, traceIdentityPool and traceDeveloper wrap a non-nil
// client when t traces; otherwise they return it as it is.
func (t *credsTelemetry) traceWebIdentity(c AssumeRoleWithWebIdentityAPIClient) AssumeRoleWithWebIdentityAPIClient {
	if t == nil || c == nil {
		return c
	}
	return tracedWebIdentityClient{c, t}
}

func (t *credsTelemetry) traceAssumeRole(c stscreds.AssumeRoleAPIClient) stscreds.AssumeRoleAPIClient {
	if t == nil || c == nil {
		return c
	}
	return tracedAssumeRoleClient{c, t}
}

func (t *credsTelemetry) traceIdentityPool(c IdentityPoolAPIClient) IdentityPoolAPIClient {
	if t == nil || c == nil {
		return c
	}
	return tracedIdentityPoolClient{c, t}
}

func (t *credsTelemetry) traceDeveloper(c GetOpenIdTokenForDeveloperIdentityAPIClient) GetOpenIdTokenForDeveloperIdentityAPIClient {
	if t == nil || c == nil {
		return c
	}
	return tracedDeveloperClient{c, t}
}
