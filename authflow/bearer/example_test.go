package bearer_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/pubauth/awsauth/authflow/bearer"
)

// An API that accepts only Cognito access tokens of one app client with the
// scope orders/read, and an admin route that also requires a group. The key
// set is primed from a file; without JWKS the user pool's jwks.json is
// fetched on first use (see ExampleIssuer_primedJWKS for the difference).
func ExampleVerifier_Require() {
	jwksJSON, err := os.ReadFile("../../internal/jwks/testdata/cognito_jwks.json")
	if err != nil {
		log.Fatal(err)
	}
	raw, err := os.ReadFile("../../internal/jwks/testdata/cognito_access_token.jwt")
	if err != nil {
		log.Fatal(err)
	}
	token := strings.TrimSpace(string(raw))

	pool := bearer.Cognito(bearer.CognitoPool{ID: "eu-west-1_AbCdEfGhI"}, "1example23456789abcdefghij")
	pool.JWKS = jwksJSON
	v, err := bearer.New(context.Background(), bearer.Config{
		Issuers: []bearer.Issuer{pool},
		// The example token was made to live 100 years; real ones live hours.
		MaxLifetime: 200 * 365 * 24 * time.Hour,
		Now:         func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		log.Fatal(err)
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := bearer.ClaimsFrom(r.Context())
		fmt.Fprintf(w, "orders of %s", c.Username)
	})
	mux := http.NewServeMux()
	mux.Handle("/orders", v.Require(api, bearer.Scopes("orders/read")))
	mux.Handle("/admin", v.Require(api, bearer.Groups("superusers")))

	for _, tc := range []struct{ path, auth string }{
		{"/orders", "Bearer " + token},
		{"/admin", "Bearer " + token},
		{"/orders", ""},
		{"/orders", "Bearer " + token[:len(token)-4] + "AAAA"},
	} {
		r := httptest.NewRequest(http.MethodGet, tc.path, nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Println(strings.TrimSpace(fmt.Sprint(w.Code, " ", w.Header().Get("WWW-Authenticate"))))
		if w.Code == http.StatusOK {
			fmt.Println(w.Body)
		}
	}
	// Output:
	// 200
	// orders of alice.example
	// 403 Bearer error="insufficient_scope", error_description="the access token does not grant access to this resource"
	// 401 Bearer
	// 401 Bearer error="invalid_token", error_description="the access token is invalid or expired"
}
