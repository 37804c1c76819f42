package awscreds

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
)

// The real sts client against an httptest server speaking STS's query protocol: the error
// codes on the wire (ExpiredTokenException, InvalidIdentityToken) reach the provider as the
// typed exceptions, the SDK's retryer does not resend a rejected token, and the provider
// retries once with a fresh one.
func TestWebIdentityWithSTSClient(t *testing.T) {
	old, fresh := fakeJWT(`{"sub":"alice","n":1}`), fakeJWT(`{"sub":"alice","n":2}`)
	tests := []struct {
		code         string
		isTyped      func(error) bool
		acceptFresh  bool
		wantRequests int
	}{
		{code: "ExpiredTokenException", isTyped: func(err error) bool { var e *types.ExpiredTokenException; return errors.As(err, &e) }, acceptFresh: true, wantRequests: 2},
		{code: "InvalidIdentityToken", isTyped: func(err error) bool { var e *types.InvalidIdentityTokenException; return errors.As(err, &e) }, acceptFresh: false, wantRequests: 2},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			var mu sync.Mutex
			var seen []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if err := r.ParseForm(); err != nil || r.Form.Get("Action") != "AssumeRoleWithWebIdentity" {
					http.Error(w, "bad request", http.StatusBadRequest)
					return
				}
				tok := r.Form.Get("WebIdentityToken")
				mu.Lock()
				seen = append(seen, tok)
				mu.Unlock()
				w.Header().Set("Content-Type", "text/xml")
				if tok == fresh && tt.acceptFresh {
					fmt.Fprintf(w, stsOK, r.Form.Get("RoleSessionName"))
					return
				}
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprintf(w, stsError, tt.code, "rejected "+tok) // a server that echoes the token
			}))
			defer srv.Close()

			client := sts.NewFromConfig(aws.Config{Region: "us-east-1", HTTPClient: srv.Client()}, func(o *sts.Options) {
				o.BaseEndpoint = aws.String(srv.URL)
			})
			calls := 0
			idToken := func(context.Context) (string, error) {
				calls++
				if calls == 1 {
					return old, nil
				}
				return fresh, nil
			}
			creds, err := NewWebIdentity(client, testRoleARN, idToken).Retrieve(context.Background())
			if len(seen) != tt.wantRequests || seen[0] != old || seen[len(seen)-1] != fresh {
				t.Fatalf("server saw %d requests, want %d: old token, then the fresh one", len(seen), tt.wantRequests)
			}
			if tt.acceptFresh {
				if err != nil {
					t.Fatal(err)
				}
				want := time.Date(2030, 1, 2, 15, 4, 5, 0, time.UTC)
				if !creds.Expires.Equal(want) || !creds.CanExpire || creds.AccountID != "123456789012" {
					t.Errorf("credentials = %+v", creds)
				}
				return
			}
			checkRejected(t, err)
			if !tt.isTyped(err) {
				t.Errorf("errors.As to the typed %s exception failed: %v", tt.code, err)
			}
			if strings.Contains(err.Error(), fresh) || strings.Contains(err.Error(), old) {
				t.Errorf("error contains the token: %v", err)
			}
		})
	}
}

const stsOK = `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials>
      <AccessKeyId>ASIAEXAMPLE</AccessKeyId>
      <SecretAccessKey>secret</SecretAccessKey>
      <SessionToken>session</SessionToken>
      <Expiration>2030-01-02T15:04:05Z</Expiration>
    </Credentials>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/web-users/%s</Arn>
      <AssumedRoleId>AROAEXAMPLE:alice</AssumedRoleId>
    </AssumedRoleUser>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`

const stsError = `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error>
  <RequestId>req-2</RequestId>
</ErrorResponse>`
