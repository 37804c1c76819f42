package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/awscreds"
)

// awsFault is what the hostile AWS endpoint answers one operation: an HTTP status and an
// error code, or nil for success.
type awsFault struct {
	status int
	code   string
}

// hostileAWS plays STS (query protocol: AssumeRole) and DynamoDB (JSON 1.0: Query), answering
// each operation with its fault or a valid response.
func hostileAWS(t *testing.T, faults map[string]awsFault) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		op := r.PostForm.Get("Action")
		if target := r.Header.Get("X-Amz-Target"); target != "" {
			_, op, _ = strings.Cut(target, ".")
		}
		f, fail := faults[op]
		switch {
		case op == "AssumeRole" && fail:
			w.Header().Set("Content-Type", "text/xml")
			w.WriteHeader(f.status)
			fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>refused by the test</Message></Error><RequestId>r</RequestId></ErrorResponse>`, f.code)
		case op == "AssumeRole":
			w.Header().Set("Content-Type", "text/xml")
			io.WriteString(w, `<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIATEST</AccessKeyId><SecretAccessKey>secret</SecretAccessKey><SessionToken>session</SessionToken><Expiration>2100-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/items/alice</Arn><AssumedRoleId>AROA:alice</AssumedRoleId></AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>`)
		case fail:
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.WriteHeader(f.status)
			fmt.Fprintf(w, `{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":"refused by the test"}`, f.code)
		case op == "Query":
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			io.WriteString(w, `{"Items":[],"Count":0}`)
		default:
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// The status of each way a DynamoDB call made with the user's AssumeRole credentials can
// fail: 403 when IAM refuses, 503 (with Retry-After) for a fault that passes, 500 for the
// operator's configuration or claims that can't name the session.
func TestAWSErrorStatus(t *testing.T) {
	tests := []struct {
		name   string
		faults map[string]awsFault
		claims awscreds.VerifiedClaims
		want   int
	}{
		{name: "the role refuses the server", faults: map[string]awsFault{"AssumeRole": {403, "AccessDenied"}}, want: http.StatusInternalServerError},
		{name: "claims without sub", claims: awscreds.VerifiedClaims{"email": "a@example.com"}, want: http.StatusInternalServerError},
		{name: "STS throttles", faults: map[string]awsFault{"AssumeRole": {400, "Throttling"}}, want: http.StatusServiceUnavailable},
		{name: "STS fails", faults: map[string]awsFault{"AssumeRole": {503, "ServiceUnavailable"}}, want: http.StatusServiceUnavailable},
		{name: "IAM refuses the item", faults: map[string]awsFault{"Query": {400, "AccessDeniedException"}}, want: http.StatusForbidden},
		{name: "throughput exceeded", faults: map[string]awsFault{"Query": {400, "ProvisionedThroughputExceededException"}}, want: http.StatusServiceUnavailable},
		{name: "DynamoDB throttles", faults: map[string]awsFault{"Query": {400, "ThrottlingException"}}, want: http.StatusServiceUnavailable},
		{name: "DynamoDB fails", faults: map[string]awsFault{"Query": {500, "InternalServerError"}}, want: http.StatusServiceUnavailable},
		{name: "DynamoDB refuses the credentials", faults: map[string]awsFault{"Query": {400, "UnrecognizedClientException"}}, want: http.StatusBadGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := hostileAWS(t, tt.faults)
			claims := tt.claims
			if claims == nil {
				claims = awscreds.VerifiedClaims{"sub": "alice"}
			}
			stsc := sts.New(sts.Options{
				Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: aws.AnonymousCredentials{},
				Retryer: aws.NopRetryer{}, HTTPClient: srv.Client(),
			})
			creds := aws.NewCredentialsCache(awscreds.NewAssumeRole(stsc, "arn:aws:iam::123456789012:role/items", claims,
				func(o *awscreds.AssumeRoleOptions) { o.TagClaims = map[string]string{"sub": "sub"} }))
			ddb := dynamodb.New(dynamodb.Options{
				Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: creds,
				Retryer: aws.NopRetryer{}, HTTPClient: srv.Client(),
			})
			_, err := ddb.Query(t.Context(), &dynamodb.QueryInput{
				TableName:                 aws.String("items"),
				KeyConditionExpression:    aws.String("pk = :pk"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "alice"}},
			})
			require.Error(t, err)

			a := &app{logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			rec := httptest.NewRecorder()
			a.awsError(rec, err)
			assert.Equal(t, tt.want, rec.Code, "error: %v", err)
			if tt.want == http.StatusServiceUnavailable {
				assert.NotEmpty(t, rec.Header().Get("Retry-After"))
			}
			var body map[string]string
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			assert.NotEmpty(t, body["error"])
		})
	}
}
