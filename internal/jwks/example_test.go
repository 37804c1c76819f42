package jwks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/pubauth/awsauth/internal/jwks"
)

// An offline key set: the keys come from bytes, and the token's signature is checked against them.
func ExampleKeySet_VerifySignature() {
	doc, err := os.ReadFile("testdata/cognito_jwks.json")
	if err != nil {
		log.Fatal(err)
	}
	token, err := os.ReadFile("testdata/cognito_access_token.jwt")
	if err != nil {
		log.Fatal(err)
	}

	ks, err := jwks.New(jwks.Config{Algorithms: []string{"RS256"}})
	if err != nil {
		log.Fatal(err)
	}
	if err := ks.Prime(doc); err != nil {
		log.Fatal(err)
	}
	payload, err := ks.VerifySignature(context.Background(), strings.TrimSpace(string(token)))
	if err != nil {
		log.Fatal(err)
	}
	var claims struct {
		TokenUse string `json:"token_use"`
		ClientID string `json:"client_id"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		log.Fatal(err)
	}
	fmt.Println(claims.TokenUse, claims.ClientID)

	_, err = ks.VerifySignature(context.Background(), "eyJhbGciOiJub25lIn0.e30.")
	fmt.Println(err)
	// Output:
	// access 1example23456789abcdefghij
	// jwks: malformed token: empty part
}

// The key set behind go-oidc's ID-token verifier; the same *KeySet then serves bearer tokens.
func ExampleNew_oidc() {
	ks, err := jwks.New(jwks.Config{
		URL:        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC/.well-known/jwks.json",
		Algorithms: []string{"RS256"},
	})
	if err != nil {
		log.Fatal(err)
	}
	verifier := oidc.NewVerifier("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC", ks,
		&oidc.Config{ClientID: "1example23456789abcdefghij", SupportedSigningAlgs: ks.Algorithms()})
	_ = verifier // verifier.Verify(ctx, rawIDToken) at the login callback
	fmt.Println(ks.Fetches())
	// Output: 0
}
