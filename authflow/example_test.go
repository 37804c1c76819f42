package authflow_test

import (
	"context"
	"fmt"
	"log"
	"net/http"

	"github.com/pubauth/awsauth/authflow"
)

// A Cognito user pool's issuer is derived from its id.
func ExampleCognitoIssuerFromPoolID() {
	iss, err := authflow.CognitoIssuerFromPoolID("eu-west-1_AbC123")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(iss)
	c := &authflow.Cognito{Domain: "auth.example.com"}
	fmt.Println(c.LogoutURL("my-client", "https://app.example.com/"))
	// Output:
	// https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123
	// https://auth.example.com/logout?client_id=my-client&logout_uri=https%3A%2F%2Fapp.example.com%2F
}

// The wiring of an app that signs users in with Cognito managed login.
func ExampleNew() {
	ctx := context.Background()
	h, err := authflow.New(ctx, authflow.Config{
		Issuer:      authflow.CognitoIssuer("eu-west-1", "eu-west-1_AbC123"),
		ClientID:    "my-public-client",
		RedirectURL: "https://app.example.com/callback",
		Cognito:     &authflow.Cognito{Domain: "auth.example.com"},
		CookieKeys:  [][]byte{[]byte("0123456789abcdef0123456789abcdef")}, // from your secret store
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /login", h.Login())
	mux.Handle("GET /callback", h.Callback())
	mux.Handle("POST /logout", h.Logout())
	mux.Handle("/app/", h.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := authflow.SessionFrom(r.Context())
		fmt.Fprintf(w, "hello %s", s.Subject)
	})))
	log.Fatal(http.ListenAndServe(":8080", mux))
}
