package exampleapp_test

import (
	"flag"
	"fmt"

	"github.com/pubauth/awsauth/examples/internal/exampleapp"
)

func ExampleLogin() {
	env := map[string]string{"OIDC_ISSUER": "https://idp.example.com", "OIDC_CLIENT_ID": "app"}
	fs := flag.NewFlagSet("example", flag.ContinueOnError)
	var l exampleapp.Login
	l.Register(fs, func(k string) string { return env[k] })
	fs.Parse([]string{"-listen", "127.0.0.1:9000"})
	fmt.Println(l.Check(), l.RedirectURL, l.TokenStoreURL)
	// Output: [] http://127.0.0.1:9000/callback memory://
}
