// Command quickstart is the smallest complete awsauth application: users sign
// in with OAuth 2.0 authorization code + PKCE at an OpenID provider (Amazon
// Cognito managed login or any other), their tokens stay on the server, and
// the app lists each user's own S3 prefix with that user's temporary AWS
// credentials from STS AssumeRoleWithWebIdentity.
//
// Run it with flags or their environment variables:
//
//	OIDC_ISSUER=https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC \
//	OIDC_CLIENT_ID=... ROLE_ARN=arn:aws:iam::123456789012:role/quickstart \
//	S3_BUCKET=my-bucket AWS_REGION=eu-west-1 go run ./examples/quickstart
//
// The AWS SDK's own environment applies (AWS_REGION, AWS_ENDPOINT_URL, ...).
// Sessions live in the store TOKENSTORE_URL (or -tokenstore) names, memory://
// by default; several instances share sessions through redis://host:port/0,
// postgres://..., sqlite://PATH or dynamodb://TABLE (see package storeurl),
// and then need one COOKIE_KEY; TOKENSTORE_KEYS encrypts the records. The
// sign-in settings are those of every example (see examples/internal/exampleapp).
// Routes: GET / (home), GET /login, GET /callback, POST /logout, GET /me (the
// session as JSON), GET /files (the keys under the user's prefix, as JSON).
//
// newApp in app.go is the whole wiring, with public packages only; README.md
// says how to run it on this machine (make dev) and on AWS.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/pubauth/awsauth/examples/internal/exampleapp"
)

func main() { exampleapp.Main("quickstart", parseConfig, run) }

// parseConfig reads flags, each falling back to an environment variable:
// the sign-in settings every example shares (exampleapp.Login) and the
// quickstart's role and bucket.
func parseConfig(args []string, getenv func(string) string) (config, error) {
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	env := func(name, def string) string { return exampleapp.Env(getenv, name, def) }
	var c config
	c.Login.Register(fs, getenv)
	var pathStyle string
	fs.StringVar(&c.RoleARN, "role-arn", env("ROLE_ARN", ""), "IAM role assumed with the user's ID token (ROLE_ARN)")
	fs.StringVar(&c.Bucket, "bucket", env("S3_BUCKET", ""), "S3 bucket holding one prefix per user (S3_BUCKET)")
	fs.StringVar(&pathStyle, "s3-path-style", env("S3_PATH_STYLE", "false"), "path-style S3 addressing, for S3-compatible stores such as MinIO (S3_PATH_STYLE)")
	fs.DurationVar(&c.CredentialsDuration, "credentials-duration", 15*time.Minute, "lifetime asked of STS for the user's credentials")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	errs := c.Login.Check()
	errs = append(errs, exampleapp.Required("ROLE_ARN", c.RoleARN, "S3_BUCKET", c.Bucket)...)
	var err error
	if c.PathStyle, err = strconv.ParseBool(pathStyle); err != nil {
		errs = append(errs, fmt.Errorf("S3_PATH_STYLE: %w", err))
	}
	return c, errors.Join(errs...)
}

func run(ctx context.Context, cfg config, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return err
	}
	return serve(ctx, ln, cfg, logger)
}

// serve runs the app on ln until ctx ends.
func serve(ctx context.Context, ln net.Listener, cfg config, logger *slog.Logger) error {
	a, err := newApp(ctx, cfg, logger)
	if err != nil {
		ln.Close()
		return err
	}
	defer a.closeStore()
	return serveApp(ctx, ln, a, logger)
}

func serveApp(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	return exampleapp.Serve(ctx, ln, h, logger, "quickstart")
}
