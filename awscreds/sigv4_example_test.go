package awscreds_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/pubauth/awsauth/awscreds"
)

// Calling an API Gateway API with IAM authorization (or a Lambda function URL with AWS_IAM
// auth: service "lambda") as the signed-in user: the user's token became the user's own
// temporary credentials, and those sign each request. No bearer token is sent.
//
// Here a local server stands in for API Gateway and shows what arrives, and a static provider
// stands in for the user's WebIdentity or IdentityPool provider.
func ExampleNewSigV4Transport() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		_, cred, _ := strings.Cut(auth, "Credential=")
		cred, _, _ = strings.Cut(cred, ",")
		parts := strings.Split(cred, "/") // access key id, date, region, service, aws4_request
		fmt.Println(strings.Fields(auth)[0], parts[0], parts[2], parts[3])
		fmt.Println("session token sent:", r.Header.Get("X-Amz-Security-Token") != "")
		fmt.Println("X-Amz-Content-Sha256:", r.Header.Get("X-Amz-Content-Sha256")) // the body's SHA-256
		io.WriteString(w, `{"orders":[]}`)
	}))
	defer api.Close()

	// One credentials cache per signed-in user, as for the AWS SDK's clients.
	users := awscreds.NewUserCache()
	creds := users.Get("session-id", func() aws.CredentialsProvider {
		// In an application: awscreds.NewWebIdentity(stsClient, roleARN, h.IDTokenFunc(sess.ID)),
		// or NewIdentityPool.
		return credentials.NewStaticCredentialsProvider("ASIAEXAMPLEUSERKEY", "secret", "session-token")
	})

	client := &http.Client{Transport: awscreds.NewSigV4Transport(creds, "execute-api", "eu-west-1")}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost,
		api.URL+"/prod/orders", strings.NewReader(`{"item":"book"}`))
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, string(body))
	// Output:
	// AWS4-HMAC-SHA256 ASIAEXAMPLEUSERKEY eu-west-1 execute-api
	// session token sent: true
	// X-Amz-Content-Sha256: 4ddc693ce39779d2725b70213ef414e8020b7bda853b0b22fe09354deadb2898
	// 200 OK {"orders":[]}
}
