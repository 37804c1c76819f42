package awscreds

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stsWebIdentityErrors are AssumeRoleWithWebIdentity's answers and the class its table gives
// each, as the SDK's typed exception or as a bare code (the Query protocol, MinIO), with and
// without the "Exception" suffix.
var stsWebIdentityErrors = []struct {
	name  string
	err   error
	class errClass
}{
	{"ExpiredTokenException", &types.ExpiredTokenException{Message: aws.String("expired")}, rejected},
	{"ExpiredToken (MinIO)", &smithy.GenericAPIError{Code: "ExpiredToken", Message: "expired"}, rejected},
	{"InvalidIdentityToken", &types.InvalidIdentityTokenException{Message: aws.String("bad audience")}, rejected},
	{"InvalidIdentityTokenException", &smithy.GenericAPIError{Code: "InvalidIdentityTokenException"}, rejected},
	// Changed: IDPRejectedClaim was "other" in WebIdentity (not ridden out, no sentinel) and
	// transient in the basic flow; STS says the claims are invalid, expired or revoked.
	{"IDPRejectedClaim", &types.IDPRejectedClaimException{Message: aws.String("revoked")}, rejected},
	// Changed for WebIdentity: these were "other" (not ridden out, no sentinel); the basic
	// flow and AssumeRole reported them as ErrConfiguration already.
	{"AccessDenied", &smithy.OperationError{ServiceID: "STS", OperationName: "AssumeRoleWithWebIdentity",
		Err: &smithy.GenericAPIError{Code: "AccessDenied", Message: "Not authorized to perform sts:AssumeRoleWithWebIdentity", Fault: smithy.FaultClient}}, configuration},
	{"MalformedPolicyDocument", &types.MalformedPolicyDocumentException{Message: aws.String("bad")}, configuration},
	{"PackedPolicyTooLarge", &types.PackedPolicyTooLargeException{Message: aws.String("too large")}, configuration},
	{"RegionDisabledException", &types.RegionDisabledException{Message: aws.String("disabled")}, configuration},
	// Changed for the basic flow (was transient) and WebIdentity (was "other").
	{"InvalidParameterValue (MinIO: unverifiable token)", &smithy.GenericAPIError{Code: "InvalidParameterValue", Fault: smithy.FaultClient}, configuration},
	{"ValidationError", &smithy.GenericAPIError{Code: "ValidationError", Message: "DurationSeconds exceeds the MaxSessionDuration"}, configuration},
	{"IDPCommunicationError", &types.IDPCommunicationErrorException{Message: aws.String("JWKS unreachable")}, transient},
	{"Throttling", &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}, transient},
	{"500", &smithy.GenericAPIError{Code: "InternalFailure", Fault: smithy.FaultServer}, transient},
	// Changed for WebIdentity (was "other"): a code no table names is transient, everywhere.
	{"unknown 4xx code", &smithy.GenericAPIError{Code: "SomethingNew", Fault: smithy.FaultClient}, transient},
	{"timeout", context.DeadlineExceeded, transient},
}

// AssumeRoleWithWebIdentity is one operation, made by one code path: WebIdentity and
// IdentityPool's basic flow sort each of its errors alike. A rejected token gets one retry
// with a fresh one, then ErrIDTokenRejected; a configuration error is ErrConfiguration at
// once; a transient fault is neither and is ridden out with the last credentials.
func TestAssumeRoleWithWebIdentityErrorsSortedAlike(t *testing.T) {
	for _, tt := range stsWebIdentityErrors {
		for _, provider := range []string{"WebIdentity", "IdentityPool basic flow"} {
			t.Run(tt.name+"/"+provider, func(t *testing.T) {
				var fail atomic.Bool
				st := &stubSTS{respond: func(context.Context, *sts.AssumeRoleWithWebIdentityInput, int) (*sts.AssumeRoleWithWebIdentityOutput, error) {
					if fail.Load() {
						return nil, tt.err
					}
					return okOutput(time.Now().Add(time.Hour)), nil
				}}
				var n atomic.Int32
				old, fresh := fakeJWT(`{"sub":"alice","n":1}`), fakeJWT(`{"sub":"alice","n":2}`)
				var p interface {
					aws.CredentialsProvider
					aws.HandleFailRefreshCredentialsCacheStrategy
				}
				if provider == "WebIdentity" {
					p = NewWebIdentity(st, testRoleARN, tokens(&n, old, old, fresh))
				} else {
					p = NewIdentityPool(&stubCognito{}, testPoolID, func(o *IdentityPoolOptions) {
						o.Logins = loginTokens(&n, old, old, fresh)
						o.BasicFlow = &BasicFlowOptions{RoleARN: testRoleARN, STS: st}
					})
				}
				last, err := p.Retrieve(context.Background())
				require.NoError(t, err)
				fail.Store(true)
				_, err = p.Retrieve(context.Background())
				require.Error(t, err)
				assert.ErrorIs(t, err, tt.err, "the AWS error is wrapped")
				assert.Equal(t, tt.class == rejected, errors.Is(err, ErrIDTokenRejected), "ErrIDTokenRejected")
				assert.Equal(t, tt.class == configuration, errors.Is(err, ErrConfiguration), "ErrConfiguration")
				wantCalls := 2 // the first Retrieve, and this one
				if tt.class == rejected {
					wantCalls++ // one retry with the fresh token
				}
				assert.Len(t, st.calls(), wantCalls)
				if tt.class == rejected {
					assert.Equal(t, int32(3), n.Load(), "a fresh token was asked for")
				}
				got, herr := p.HandleFailToRefresh(context.Background(), last, err)
				if tt.class == transient {
					require.NoError(t, herr, "ridden out")
					assert.Equal(t, last.AccessKeyID, got.AccessKeyID)
				} else {
					assert.ErrorIs(t, herr, err, "not ridden out")
				}
			})
		}
	}
}

// One table per operation: the same code can mean different things to different operations,
// and the tables say so.
func TestOperationTables(t *testing.T) {
	tests := []struct {
		op   operation
		code string
		want errClass
	}{
		{opGetID, "ResourceNotFoundException", configuration}, // GetId takes no identity id
		{opGetCredentialsForIdentity, "ResourceNotFoundException", staleIdentity},
		{opGetID, "LimitExceededException", configuration},
		// Changed: LimitExceeded is GetId's (a quota on identities); no other operation lists
		// it, so elsewhere it is an unknown code, transient.
		{opGetCredentialsForIdentity, "LimitExceededException", transient},
		{opGetOpenIDTokenForDeveloperIdentity, "DeveloperUserAlreadyRegisteredException", staleIdentity},
		{opGetOpenIDToken, "NotAuthorizedException", rejected},
		{opAssumeRoleWithWebIdentity, "ExpiredToken", rejected},
		{opAssumeRoleWithWebIdentity, "ExpiredTokenException", rejected},
		{opAssumeRole, "ExpiredTokenException", transient}, // the server's own session
		{opAssumeRole, "AccessDenied", configuration},
		{opAssumeRoleWithWebIdentity, "AccessDenied", configuration},
		{opAssumeRole, "InvalidParameterValue", configuration},
		{opAssumeRoleWithWebIdentity, "InvalidParameterValue", configuration},
	}
	for _, tt := range tests {
		t.Run(tt.op.name+"/"+tt.code, func(t *testing.T) {
			assert.Equal(t, tt.want, classOf(tt.op.failed(&smithy.GenericAPIError{Code: tt.code})))
		})
	}
}

// Changed: WebIdentity's invalid options wrap ErrConfiguration, as IdentityPool's and
// AssumeRole's do (they were plain errors).
func TestWebIdentityConfigErrorsAreErrConfiguration(t *testing.T) {
	var n atomic.Int32
	_, err := NewWebIdentity(nil, testRoleARN, tokens(&n, fakeJWT(`{"sub":"a"}`))).Retrieve(context.Background())
	assert.ErrorIs(t, err, ErrConfiguration)
	_, err = NewWebIdentity(&stubSTS{}, testRoleARN, tokens(&n, fakeJWT(`{"sub":"a"}`)), func(o *WebIdentityOptions) {
		o.Duration = time.Minute
	}).Retrieve(context.Background())
	assert.ErrorIs(t, err, ErrConfiguration)
	assert.Zero(t, n.Load())
}

// Changed: a malformed STS response is transient in WebIdentity too (it was not ridden out),
// as in IdentityPool and AssumeRole.
func TestWebIdentityBadResponseRiddenOut(t *testing.T) {
	var bad atomic.Bool
	st := &stubSTS{respond: func(context.Context, *sts.AssumeRoleWithWebIdentityInput, int) (*sts.AssumeRoleWithWebIdentityOutput, error) {
		if bad.Load() {
			return &sts.AssumeRoleWithWebIdentityOutput{}, nil
		}
		return okOutput(time.Now().Add(time.Hour)), nil
	}}
	var n atomic.Int32
	p := NewWebIdentity(st, testRoleARN, tokens(&n, fakeJWT(`{"sub":"alice"}`)))
	last, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	bad.Store(true)
	_, err = p.Retrieve(context.Background())
	require.Error(t, err)
	got, err := p.HandleFailToRefresh(context.Background(), last, err)
	require.NoError(t, err)
	assert.Equal(t, last.AccessKeyID, got.AccessKeyID)
}
