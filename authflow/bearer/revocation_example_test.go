package bearer_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/pubauth/awsauth/authflow/bearer"
)

// denylist is an application's own Revocation: the tokens its users
// signed out are no longer active.
type denylist struct {
	mu      sync.Mutex
	revoked map[string]bool
}

func (d *denylist) Active(_ context.Context, token string, _ *bearer.Claims) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.revoked[token] {
		return bearer.ErrTokenRevoked
	}
	return nil
}

// A sensitive route checks online that the token is still active; the
// other routes trust the token's signature until exp. The answer is cached
// for TTL (never past the token's exp), so a revoked token is refused at
// most TTL later; a checker that can't answer gets 503 (fail closed).
func ExampleNotRevoked() {
	jwksJSON, err := os.ReadFile("../../internal/jwks/testdata/cognito_jwks.json")
	if err != nil {
		log.Fatal(err)
	}
	raw, err := os.ReadFile("../../internal/jwks/testdata/cognito_access_token.jwt")
	if err != nil {
		log.Fatal(err)
	}
	token := strings.TrimSpace(string(raw))
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }

	pool := bearer.Cognito(bearer.CognitoPool{ID: "eu-west-1_AbCdEfGhI"}, "1example23456789abcdefghij")
	pool.JWKS = jwksJSON
	v, err := bearer.New(context.Background(), bearer.Config{
		Issuers:     []bearer.Issuer{pool},
		MaxLifetime: 200 * 365 * 24 * time.Hour, // the example token lives 100 years
		Now:         clock,
	})
	if err != nil {
		log.Fatal(err)
	}
	// In production the Checker is NewCognitoGetUser or NewIntrospection.
	signedOut := &denylist{revoked: map[string]bool{}}
	check, err := bearer.NewRevocationCheck(bearer.RevocationConfig{Checker: signedOut, TTL: 30 * time.Second, Now: clock})
	if err != nil {
		log.Fatal(err)
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	mux := http.NewServeMux()
	mux.Handle("GET /orders", v.Require(api, bearer.Scopes("orders/read")))
	mux.Handle("POST /transfers", v.Require(api, bearer.Scopes("orders/write"), bearer.NotRevoked(check)))

	call := func(method, path string) {
		r := httptest.NewRequest(method, path, nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Println(strings.TrimSpace(fmt.Sprint(method, " ", path, " ", w.Code, " ", w.Header().Get("WWW-Authenticate"))))
	}
	call("POST", "/transfers")
	signedOut.mu.Lock()
	signedOut.revoked[token] = true // the user signs out everywhere
	signedOut.mu.Unlock()
	call("POST", "/transfers") // the cached answer, for up to TTL
	now = now.Add(30 * time.Second)
	call("POST", "/transfers")
	call("GET", "/orders")
	// Output:
	// POST /transfers 200
	// POST /transfers 200
	// POST /transfers 401 Bearer error="invalid_token", error_description="the access token is no longer active"
	// GET /orders 200
}

// cognitoStub answers GetUser as Cognito would after the user signed out
// globally; in production the client is cognitoidentityprovider.NewFromConfig(cfg)
// or cognitoidentityprovider.New(cognitoidentityprovider.Options{Region: region})
// (GetUser takes no IAM credentials).
type cognitoStub struct{ signedOut map[string]bool }

func (s cognitoStub) GetUser(_ context.Context, in *cip.GetUserInput, _ ...func(*cip.Options)) (*cip.GetUserOutput, error) {
	if s.signedOut[aws.ToString(in.AccessToken)] {
		return nil, &types.NotAuthorizedException{Message: aws.String("Access Token has been revoked")}
	}
	return &cip.GetUserOutput{Username: aws.String("alice")}, nil
}

// Amazon Cognito user pools have no introspection endpoint: GetUser, called
// with the access token, fails once the token is revoked or its user signed
// out globally. The token must carry the aws.cognito.signin.user.admin scope.
func ExampleNewCognitoGetUser() {
	check, err := bearer.NewRevocationCheck(bearer.RevocationConfig{
		Checker: bearer.NewCognitoGetUser(cognitoStub{signedOut: map[string]bool{"token-b": true}}),
	})
	if err != nil {
		log.Fatal(err)
	}
	// What Verifier.Verify returns for the token; NotRevoked passes them.
	claims := &bearer.Claims{
		Issuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEfGhI",
		Scopes: []string{"openid", bearer.ScopeCognitoUserAdmin},
		Expiry: time.Now().Add(time.Hour),
	}
	for _, tok := range []string{"token-a", "token-b"} {
		err := check.Check(context.Background(), tok, claims)
		fmt.Println(tok, "revoked:", errors.Is(err, bearer.ErrTokenRevoked))
	}
	// Output:
	// token-a revoked: false
	// token-b revoked: true
}

// Another provider's tokens are checked at its RFC 7662 introspection
// endpoint, found in its discovery document unless configured, with this
// resource server's client credentials.
func ExampleNewIntrospection() {
	// The provider's introspection endpoint, played by a test server.
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, _, _ := r.BasicAuth(); id != "orders-api" || r.PostFormValue("token") != "token-a" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"active":false}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"active":true,"client_id":"app","scope":"orders/write"}`)
	}))
	defer idp.Close()

	in, err := bearer.NewIntrospection(context.Background(), bearer.IntrospectionConfig{
		Issuer:   idp.URL,                 // the tokens' iss
		Endpoint: idp.URL + "/introspect", // empty: the discovery document's introspection_endpoint
		ClientID: "orders-api", ClientSecret: "orders-api-secret",
	})
	if err != nil {
		log.Fatal(err)
	}
	check, err := bearer.NewRevocationCheck(bearer.RevocationConfig{Checker: in})
	if err != nil {
		log.Fatal(err)
	}
	claims := &bearer.Claims{Issuer: idp.URL, Expiry: time.Now().Add(time.Hour)}
	for _, tok := range []string{"token-a", "token-b"} {
		err := check.Check(context.Background(), tok, claims)
		fmt.Println(tok, "revoked:", errors.Is(err, bearer.ErrTokenRevoked))
	}
	// Output:
	// token-a revoked: false
	// token-b revoked: true
}
