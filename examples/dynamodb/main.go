// Command dynamodb shows per-user DynamoDB access with per-user temporary credentials: users
// sign in with OAuth 2.0 authorization code + PKCE (Cognito managed login or any OpenID
// provider); for each user the server calls STS AssumeRole with its own credentials, naming
// the session after the user, tagging it sub=<the user's escaped sub> from the verified ID
// token, and passing a session policy that allows only items whose partition key is
// ${aws:PrincipalTag/sub} (dynamodb:LeadingKeys, with Scan and PartiQL denied). The user
// reads and writes their own items, and IAM, not the app, stops them at their partition.
//
// Run it with flags or their environment variables:
//
//	OIDC_ISSUER=https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC \
//	OIDC_CLIENT_ID=... ROLE_ARN=arn:aws:iam::123456789012:role/items-users \
//	DYNAMODB_TABLE_ARN=arn:aws:dynamodb:eu-west-1:123456789012:table/items \
//	AWS_REGION=eu-west-1 go run ./examples/dynamodb
//
// The AWS SDK's own environment applies (AWS_REGION, AWS_ENDPOINT_URL_STS,
// AWS_ENDPOINT_URL_DYNAMODB, the server's credentials, ...). Routes: GET / (home), GET
// /login, GET /callback, POST /logout, GET /items (the user's items as JSON), POST /items
// (add one: form field text; needs the X-CSRF-Token header or csrf_token field), GET /policy
// (the session policy).
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/pubauth/awsauth/examples/internal/exampleapp"
)

func main() { exampleapp.Main("dynamodb", parseConfig, run) }

type config struct {
	exampleapp.Login
	RoleARN, TableARN   string
	CredentialsDuration time.Duration
}

// parseConfig reads flags, each falling back to an environment variable: the sign-in
// settings every example shares (exampleapp.Login) and the example's own.
func parseConfig(args []string, getenv func(string) string) (config, error) {
	fs := flag.NewFlagSet("dynamodb", flag.ContinueOnError)
	env := func(name, def string) string { return exampleapp.Env(getenv, name, def) }
	var c config
	c.Login.Register(fs, getenv)
	fs.StringVar(&c.RoleARN, "role-arn", env("ROLE_ARN", ""), "IAM role the server assumes for each user (ROLE_ARN)")
	fs.StringVar(&c.TableARN, "table-arn", env("DYNAMODB_TABLE_ARN", ""), "ARN of the items table, partition key pk, sort key sk (DYNAMODB_TABLE_ARN)")
	fs.DurationVar(&c.CredentialsDuration, "credentials-duration", 15*time.Minute, "lifetime asked of STS for the user's credentials (15m to 1h)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	errs := c.Login.Check()
	errs = append(errs, exampleapp.Required("ROLE_ARN", c.RoleARN, "DYNAMODB_TABLE_ARN", c.TableARN)...)
	return c, errors.Join(errs...)
}

func run(ctx context.Context, cfg config, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return err
	}
	a, err := newApp(ctx, cfg, logger)
	if err != nil {
		ln.Close()
		return err
	}
	defer a.closeStore()
	return serveApp(ctx, ln, a, logger)
}

func serveApp(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	return exampleapp.Serve(ctx, ln, h, logger, "dynamodb example")
}
