// Command glue shows AWS Glue called with a signed-in user's own credentials from an Amazon
// Cognito identity pool: users sign in with OAuth 2.0 authorization code + PKCE (Cognito
// managed login or any OpenID provider the pool trusts), the app exchanges their ID token for
// identity-pool credentials (GetId once per user, then GetCredentialsForIdentity, refreshed
// before they expire), and every Glue call is SigV4-signed with them. Glue never sees the
// OAuth token.
//
// Run it with flags or their environment variables:
//
//	OIDC_ISSUER=https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC \
//	OIDC_CLIENT_ID=... IDENTITY_POOL_ID=eu-west-1:1111-... \
//	AWS_REGION=eu-west-1 go run ./examples/glue
//
// The AWS SDK's own environment applies (AWS_REGION, AWS_ENDPOINT_URL, ...). Routes: GET /
// (home), GET /login, GET /callback, POST /logout, GET /me (the session and the identity id as
// JSON), GET /databases (Glue GetDatabases), GET /jobs (GetJobs), POST /jobs/{name}/run
// (StartJobRun; needs the X-CSRF-Token header or csrf_token field).
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"

	"github.com/pubauth/awsauth/examples/internal/exampleapp"
)

func main() { exampleapp.Main("glue", parseConfig, run) }

type config struct {
	exampleapp.Login
	IdentityPoolID string
}

// parseConfig reads flags, each falling back to an environment variable: the sign-in
// settings every example shares (exampleapp.Login) and the example's own.
func parseConfig(args []string, getenv func(string) string) (config, error) {
	fs := flag.NewFlagSet("glue", flag.ContinueOnError)
	env := func(name, def string) string { return exampleapp.Env(getenv, name, def) }
	var c config
	c.Login.Register(fs, getenv)
	fs.StringVar(&c.IdentityPoolID, "identity-pool-id", env("IDENTITY_POOL_ID", ""), "Cognito identity pool id, REGION:GUID (IDENTITY_POOL_ID)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	errs := c.Login.Check()
	errs = append(errs, exampleapp.Required("IDENTITY_POOL_ID", c.IdentityPoolID)...)
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
	return exampleapp.Serve(ctx, ln, h, logger, "glue example")
}
