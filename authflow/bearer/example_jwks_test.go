package bearer_test

import (
	"context"
	_ "embed"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/pubauth/awsauth/authflow/bearer"
)

// userPoolJWKS is the user pool's key set, saved at build time
// (curl -o testdata/user_pool_jwks.json <issuer>/.well-known/jwks.json) and
// compiled into the binary.
//
//go:embed testdata/user_pool_jwks.json
var userPoolJWKS []byte

// countRequests stands in for the network: it counts and refuses requests.
type countRequests struct{ n int }

func (c *countRequests) RoundTrip(*http.Request) (*http.Response, error) {
	c.n++
	return nil, fmt.Errorf("no network in this example")
}

// A cold start with no round trip: the key set of a Cognito user pool is
// primed from a JWKS embedded in the binary, so the first token is verified
// with no request. A token naming a kid the embedded set lacks (a key the
// pool rotated in since the build) still fetches the pool's jwks.json, at
// most once per RefetchInterval.
func ExampleIssuer_primedJWKS() {
	raw, err := os.ReadFile("../../internal/jwks/testdata/cognito_access_token.jwt")
	if err != nil {
		log.Fatal(err)
	}
	token := strings.TrimSpace(string(raw))

	network := &countRequests{}
	pool := bearer.Cognito(bearer.CognitoPool{ID: "eu-west-1_AbCdEfGhI"}, "1example23456789abcdefghij")
	pool.JWKS = userPoolJWKS
	v, err := bearer.New(context.Background(), bearer.Config{
		Issuers:    []bearer.Issuer{pool},
		HTTPClient: &http.Client{Transport: network},
		// The example token was made to live 100 years; real ones live hours.
		MaxLifetime: 200 * 365 * 24 * time.Hour,
		Now:         func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		log.Fatal(err)
	}
	c, err := v.Verify(context.Background(), token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Username, c.Scopes)
	fmt.Println("requests:", network.n)
	// Output:
	// alice.example [openid email profile orders/read orders/write]
	// requests: 0
}
