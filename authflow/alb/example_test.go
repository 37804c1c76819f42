package alb_test

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/pubauth/awsauth/authflow/alb"
)

// elbKeys stands in for the load balancer's key endpoint in this example, so
// that it runs offline; in production leave Config.HTTPClient nil and the
// key is fetched from the region's endpoint.
type elbKeys struct{ pem []byte }

func (e elbKeys) RoundTrip(r *http.Request) (*http.Response, error) {
	fmt.Println("GET", r.URL)
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Request: r,
		Body: io.NopCloser(bytes.NewReader(e.pem))}, nil
}

// An app behind an Application Load Balancer whose listener rule signs users
// in with a Cognito user pool (authenticate-cognito): the handler sees only
// requests the load balancer signed, with the user's claims.
func ExampleVerifier_Require() {
	pemKey, err := os.ReadFile("testdata/alb_public_key.pem")
	if err != nil {
		log.Fatal(err)
	}
	raw, err := os.ReadFile("testdata/x-amzn-oidc-data.jwt")
	if err != nil {
		log.Fatal(err)
	}
	data := strings.TrimSpace(string(raw))

	v, err := alb.New(alb.Config{
		LoadBalancerARN: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188",
		Issuer:          "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123",
		ClientID:        "5example6789abcdefghijklmn",
		HTTPClient:      &http.Client{Transport: elbKeys{pemKey}},
		// The example header was signed for 12:02 that day.
		Now: func() time.Time { return time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		log.Fatal(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := alb.ClaimsFrom(r.Context())
		var more struct {
			Email string `json:"email"`
		}
		if err := c.Decode(&more); err != nil {
			http.Error(w, "bad claims", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "hello %s (%s)", c.Username, more.Email)
	})
	mux := http.NewServeMux()
	mux.Handle("/app/", v.Require(app))

	for _, header := range []string{
		data,                               // as the load balancer sent it
		"",                                 // a request that bypassed the load balancer
		strings.Replace(data, "e", "f", 1), // altered on the way
	} {
		r := httptest.NewRequest(http.MethodGet, "/app/", nil)
		if header != "" {
			r.Header.Set(alb.HeaderData, header)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))
	}
	// Output:
	// GET https://public-keys.auth.elb.eu-west-1.amazonaws.com/7b5b2a4e-3c1d-4f2a-9e8b-0a1b2c3d4e5f
	// 200 hello alice (alice@example.com)
	// 401 {"error":"unauthorized","error_description":"the request did not come signed by the load balancer, or its sign-in expired"}
	// 401 {"error":"unauthorized","error_description":"the request did not come signed by the load balancer, or its sign-in expired"}
}
