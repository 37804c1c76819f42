package pkce_test

import (
	"fmt"

	"github.com/pubauth/awsauth/pkce"
)

func Example() {
	// A client makes a verifier per authorization request, keeps it secret,
	// and sends only its challenge to the authorization endpoint.
	verifier := pkce.NewVerifier()
	fmt.Println(len(verifier), pkce.Validate(verifier))
	fmt.Println("code_challenge_method=" + pkce.Method)

	// The token endpoint checks the verifier against the stored challenge.
	// With the verifier of RFC 7636 Appendix B:
	challenge := pkce.Challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
	fmt.Println("code_challenge=" + challenge)
	fmt.Println(pkce.Verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", challenge))
	fmt.Println(pkce.Verify(verifier, challenge))

	// Output:
	// 43 <nil>
	// code_challenge_method=S256
	// code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM
	// true
	// false
}
