package awscreds

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/pubauth/awsauth/internal/telemetry/telemetrytest"
)

// Issue 10: one credential fetch and one refused one are counted by provider and outcome,
// under a retrieve span with the STS call's span inside it; neither the ID token nor the
// credentials reach an attribute.
func TestTelemetry(t *testing.T) {
	rec := telemetrytest.New(t)
	const sub = "alice-user-1234"
	idToken := fakeJWT(`{"sub":"` + sub + `","aud":"client"}`)
	rejected := false
	stub := &stubSTS{respond: func(ctx context.Context, in *sts.AssumeRoleWithWebIdentityInput, call int) (*sts.AssumeRoleWithWebIdentityOutput, error) {
		if rejected {
			return nil, &smithy.GenericAPIError{Code: "InvalidIdentityToken", Message: "bad token " + idToken}
		}
		return okOutput(time.Now().Add(time.Hour)), nil
	}}
	p := NewWebIdentity(stub, testRoleARN, func(context.Context) (string, error) { return idToken, nil },
		func(o *WebIdentityOptions) { o.MeterProvider, o.TracerProvider = rec.MP, rec.TP })

	creds, err := p.Retrieve(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	rejected = true
	if _, err := p.Retrieve(t.Context()); !errors.Is(err, ErrIDTokenRejected) {
		t.Fatalf("Retrieve = %v, want ErrIDTokenRejected", err)
	}

	m := rec.Metrics(t)
	for _, tc := range []struct {
		name  string
		attrs map[string]string
	}{
		{"awsauth.credentials.retrievals", map[string]string{"awsauth.credentials.provider": "WebIdentity", "error.type": ""}},
		{"awsauth.credentials.retrievals", map[string]string{"awsauth.credentials.provider": "WebIdentity", "error.type": "rejected"}},
		{"awsauth.credentials.retrieval.duration", map[string]string{"awsauth.credentials.provider": "WebIdentity", "error.type": ""}},
	} {
		if got := telemetrytest.Value(m, tc.name, tc.attrs); got != 1 {
			t.Errorf("%s%v = %v, want 1", tc.name, tc.attrs, got)
		}
	}
	retrieves := rec.Spans("awsauth.credentials.retrieve")
	calls := rec.Spans("awsauth.sts.AssumeRoleWithWebIdentity")
	if len(retrieves) != 2 || len(calls) != 2 {
		t.Fatalf("spans: %d retrieve, %d AssumeRoleWithWebIdentity", len(retrieves), len(calls))
	}
	if calls[0].Parent().SpanID() != retrieves[0].SpanContext().SpanID() {
		t.Error("the STS call's span is not inside the retrieve span")
	}
	a := telemetrytest.SpanAttrs(calls[1])
	if a["rpc.system"] != "aws-api" || a["rpc.service"] != "STS" || a["rpc.method"] != "AssumeRoleWithWebIdentity" || a["error.type"] != "rejected" {
		t.Errorf("STS span attributes %v", a)
	}
	rec.NoSecrets(t, idToken, sub, creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
}
