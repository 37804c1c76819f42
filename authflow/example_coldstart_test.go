package authflow_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/pubauth/awsauth/authflow"
	"github.com/pubauth/awsauth/authflow/bearer"
)

// network stands in for the internet: it counts requests and answers none.
type network struct{ requests int }

func (n *network) RoundTrip(*http.Request) (*http.Response, error) {
	n.requests++
	return nil, fmt.Errorf("no network in this example")
}

// A cold start with no round trip, as on AWS Lambda: a user pool issuer
// with Config.Cognito needs no discovery (the endpoints are the domain's),
// and Config.JWKS primes the key set, here from a file (a //go:embed
// variable works as well), so the API behind bearer verifies the first
// token with no request. The first login then compares the endpoints with
// the pool's discovery document; unreachable here, it is retried later and
// the domain's endpoints serve meanwhile.
func ExampleNew_coldStart() {
	ctx := context.Background()
	jwks, err := os.ReadFile("../internal/jwks/testdata/cognito_jwks.json") // <issuer>/.well-known/jwks.json, saved at build time
	if err != nil {
		log.Fatal(err)
	}
	raw, err := os.ReadFile("../internal/jwks/testdata/cognito_access_token.jwt")
	if err != nil {
		log.Fatal(err)
	}
	internet := &network{}
	pool := authflow.CognitoPool{ID: "eu-west-1_AbCdEfGhI"}
	issuer, err := authflow.CognitoIssuer(pool)
	if err != nil {
		log.Fatal(err)
	}
	h, err := authflow.New(ctx, authflow.Config{
		Issuer:      issuer,
		ClientID:    "1example23456789abcdefghij",
		RedirectURL: "https://app.example.com/callback",
		Cognito:     &authflow.Cognito{Domain: "myapp.auth.eu-west-1.amazoncognito.com"},
		JWKS:        jwks,
		CookieKeys:  [][]byte{[]byte("0123456789abcdef0123456789abcdef")}, // from your secret store
		HTTPClient:  &http.Client{Transport: internet},
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	api := bearer.Cognito(pool, "1example23456789abcdefghij")
	api.KeySet = h.KeySet()
	v, err := bearer.New(ctx, bearer.Config{
		Issuers: []bearer.Issuer{api},
		// The example token was made to live 100 years; real ones live hours.
		MaxLifetime: 200 * 365 * 24 * time.Hour,
		Now:         func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		log.Fatal(err)
	}
	c, err := v.Verify(ctx, strings.TrimSpace(string(raw)))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("API caller:", c.Username, "requests:", internet.requests)

	w := httptest.NewRecorder()
	h.Login().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/login", nil))
	loc, _, _ := strings.Cut(w.Header().Get("Location"), "?")
	fmt.Println(w.Code, loc, "requests:", internet.requests)
	// Output:
	// API caller: alice.example requests: 0
	// 302 https://myapp.auth.eu-west-1.amazoncognito.com/oauth2/authorize requests: 1
}
