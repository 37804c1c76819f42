package awscreds

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentity"
	citypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentity/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The real cognitoidentity client against an httptest server speaking Cognito's JSON
// protocol: TooManyRequestsException is retried by the SDK's standard retryer (the provider
// adds no retry of its own), and NotAuthorizedException reaches the provider typed.
func TestIdentityPoolWithCognitoClient(t *testing.T) {
	var getCreds atomic.Int32
	throttleFirst := int32(2)
	var rejectAll atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		fail := func(code, msg string) {
			w.Header().Set("X-Amzn-ErrorType", code)
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
		}
		switch r.Header.Get("X-Amz-Target") {
		case "AWSCognitoIdentityService.GetId":
			json.NewEncoder(w).Encode(map[string]string{"IdentityId": testIdentityID})
		case "AWSCognitoIdentityService.GetCredentialsForIdentity":
			n := getCreds.Add(1)
			if rejectAll.Load() {
				fail("NotAuthorizedException", "Invalid login token.")
				return
			}
			if n <= throttleFirst {
				fail("TooManyRequestsException", "Rate exceeded")
				return
			}
			json.NewEncoder(w).Encode(map[string]any{
				"IdentityId": testIdentityID,
				"Credentials": map[string]any{
					"AccessKeyId": "ASIAHTTP", "SecretKey": "s", "SessionToken": "t",
					"Expiration": float64(time.Date(2030, 1, 2, 15, 4, 5, 0, time.UTC).Unix()),
				},
			})
		default:
			http.Error(w, "unexpected target", http.StatusBadRequest)
		}
	}))
	defer srv.Close()

	client := cognitoidentity.NewFromConfig(aws.Config{
		Region:      "eu-west-1",
		HTTPClient:  srv.Client(),
		Credentials: aws.AnonymousCredentials{},
		Retryer: func() aws.Retryer {
			// The standard retryer, without the wait between attempts.
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			})
		},
	}, func(o *cognitoidentity.Options) { o.BaseEndpoint = aws.String(srv.URL) })

	var n atomic.Int32
	p := NewIdentityPool(client, testPoolID, func(o *IdentityPoolOptions) { o.Logins = loginTokens(&n, fakeJWT(`{"sub":"alice"}`)) })
	creds, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "ASIAHTTP", creds.AccessKeyID)
	assert.True(t, creds.Expires.Equal(time.Date(2030, 1, 2, 15, 4, 5, 0, time.UTC)), creds.Expires)
	assert.Equal(t, int32(3), getCreds.Load(), "two throttled attempts retried by the SDK, then success")
	assert.Equal(t, int32(1), n.Load(), "throttling is not a reason to ask for a fresh token")

	rejectAll.Store(true)
	getCreds.Store(100)
	_, err = p.Retrieve(context.Background())
	var na *citypes.NotAuthorizedException
	require.ErrorAs(t, err, &na)
	assert.ErrorIs(t, err, ErrIDTokenRejected)
	// Not retried by the SDK; the provider asks GetId whether the identity changed and, given
	// the cached id back, does not present the refused token again.
	assert.Equal(t, int32(101), getCreds.Load())
}
