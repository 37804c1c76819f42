package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentity"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/authflow"
	"github.com/pubauth/awsauth/awscreds"
)

// awsFault is what the hostile AWS endpoint answers one operation: an HTTP status and an
// error code (JSON 1.1 protocol), or nil for success.
type awsFault struct {
	status int
	code   string
}

// hostileAWS plays Cognito identity pools and Glue over the JSON 1.1 protocol, answering
// each operation (X-Amz-Target's suffix) with its fault or a valid response.
func hostileAWS(t *testing.T, faults map[string]awsFault) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		_, op, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if f, ok := faults[op]; ok {
			w.Header().Set("X-Amzn-ErrorType", f.code)
			w.WriteHeader(f.status)
			fmt.Fprintf(w, `{"__type":%q,"message":"refused by the test"}`, f.code)
			return
		}
		switch op {
		case "GetId":
			io.WriteString(w, `{"IdentityId":"us-east-1:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"}`)
		case "GetCredentialsForIdentity":
			io.WriteString(w, `{"IdentityId":"us-east-1:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee","Credentials":{"AccessKeyId":"ASIATEST","SecretKey":"secret","SessionToken":"session","Expiration":4102444800}}`)
		case "GetJobs":
			io.WriteString(w, `{"Jobs":[]}`)
		default:
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"__type":"UnknownOperationException","message":%q}`, op)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// The status of each way a Glue call made with the user's identity-pool credentials can
// fail: 401 when the user must sign in again, 403 when IAM refuses, 404 for no such job, 503
// (with Retry-After) for a fault that passes, 500 for the operator's configuration.
func TestAWSErrorStatus(t *testing.T) {
	const issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Test1"
	enc := base64.RawURLEncoding.EncodeToString
	idToken := enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(`{"iss":"`+issuer+`","sub":"alice"}`)) + "." + enc([]byte("signature-of-the-test-token"))
	tests := []struct {
		name       string
		faults     map[string]awsFault
		idTokenErr error
		want       int
	}{
		{name: "Cognito refuses the login", faults: map[string]awsFault{"GetCredentialsForIdentity": {400, "NotAuthorizedException"}}, want: http.StatusUnauthorized},
		{name: "session ended", idTokenErr: fmt.Errorf("authflow: %w", authflow.ErrSessionEnded), want: http.StatusUnauthorized},
		{name: "token refresh failed for now", idTokenErr: fmt.Errorf("%w: token endpoint: 503", authflow.ErrRefreshFailed), want: http.StatusServiceUnavailable},
		{name: "Cognito throttles", faults: map[string]awsFault{"GetCredentialsForIdentity": {400, "TooManyRequestsException"}}, want: http.StatusServiceUnavailable},
		{name: "Cognito fails", faults: map[string]awsFault{"GetCredentialsForIdentity": {500, "InternalErrorException"}}, want: http.StatusServiceUnavailable},
		{name: "no such identity pool", faults: map[string]awsFault{"GetId": {400, "ResourceNotFoundException"}}, want: http.StatusInternalServerError},
		{name: "IAM refuses Glue", faults: map[string]awsFault{"GetJobs": {400, "AccessDeniedException"}}, want: http.StatusForbidden},
		{name: "no such job", faults: map[string]awsFault{"GetJobs": {400, "EntityNotFoundException"}}, want: http.StatusNotFound},
		{name: "Glue throttles", faults: map[string]awsFault{"GetJobs": {400, "ThrottlingException"}}, want: http.StatusServiceUnavailable},
		{name: "Glue fails", faults: map[string]awsFault{"GetJobs": {500, "InternalServiceException"}}, want: http.StatusServiceUnavailable},
		{name: "Glue refuses the credentials", faults: map[string]awsFault{"GetJobs": {400, "UnrecognizedClientException"}}, want: http.StatusBadGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := hostileAWS(t, tt.faults)
			pool := awscreds.NewIdentityPool(cognitoidentity.New(cognitoidentity.Options{
				Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: aws.AnonymousCredentials{},
				Retryer: aws.NopRetryer{}, HTTPClient: srv.Client(),
			}), "us-east-1:11111111-2222-3333-4444-555555555555", func(o *awscreds.IdentityPoolOptions) {
				o.Logins = awscreds.CognitoLogins(issuer, func(context.Context) (string, error) { return idToken, tt.idTokenErr })
			})
			g := glue.New(glue.Options{
				Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: aws.NewCredentialsCache(pool),
				Retryer: aws.NopRetryer{}, HTTPClient: srv.Client(),
			})
			_, err := g.GetJobs(t.Context(), &glue.GetJobsInput{})
			require.Error(t, err)

			var logs strings.Builder
			a := &app{logger: slog.New(slog.NewTextHandler(&logs, nil))}
			rec := httptest.NewRecorder()
			a.awsError(rec, err)
			assert.Equal(t, tt.want, rec.Code, "error: %v", err)
			if tt.want == http.StatusServiceUnavailable {
				assert.NotEmpty(t, rec.Header().Get("Retry-After"))
			}
			var body map[string]string
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			assert.NotEmpty(t, body["error"])
			for _, part := range strings.Split(idToken, ".") {
				assert.NotContains(t, rec.Body.String()+logs.String(), part, "the ID token in the answer or the log")
			}
		})
	}
}
