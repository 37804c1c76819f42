// Command s3 is a file locker on Amazon S3: each signed-in user lists,
// uploads and downloads files in their own prefix of one bucket ("<id>/"),
// with their own temporary AWS credentials, so the bucket policy, not this
// app, is what keeps users apart.
//
// Users sign in with OAuth 2.0 authorization code + PKCE (authflow); the
// app exchanges the user's ID token for credentials with STS
// AssumeRoleWithWebIdentity (awscreds.WebIdentity) and keeps one refreshing
// aws.CredentialsCache per session (awscreds.UserCache), renewed before the
// credentials expire, with jitter.
//
// With IDENTITY_POOL_ID set, the credentials come from a Cognito identity
// pool's basic flow instead (awscreds.IdentityPool: GetId, GetOpenIdToken,
// then AssumeRoleWithWebIdentity with the pool's token) and the user's
// prefix is the identity id: the setup examples/infra creates on AWS.
//
// Run it with flags or their environment variables (the quickstart's
// contract, plus COGNITO_DOMAIN, IDENTITY_POOL_ID and MAX_UPLOAD_BYTES):
//
//	OIDC_ISSUER=https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC \
//	OIDC_CLIENT_ID=... ROLE_ARN=arn:aws:iam::123456789012:role/files \
//	S3_BUCKET=my-bucket AWS_REGION=eu-west-1 go run ./examples/s3
//
// The AWS SDK's own environment applies (AWS_REGION, AWS_ENDPOINT_URL, ...).
//
// Routes: GET / (home, with an upload form), GET /login, GET /callback,
// POST /logout, GET /files (the user's files as JSON), POST /files (upload,
// multipart/form-data with fields file, optional name, csrf_token),
// GET /files/{name...} (download).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/pubauth/awsauth/examples/internal/exampleapp"
)

func main() { exampleapp.Main("s3", parseConfig, run) }

// parseConfig reads flags, each falling back to an environment variable:
// the sign-in settings every example shares (exampleapp.Login) and the
// example's own.
func parseConfig(args []string, getenv func(string) string) (config, error) {
	fs := flag.NewFlagSet("s3", flag.ContinueOnError)
	env := func(name, def string) string { return exampleapp.Env(getenv, name, def) }
	c := config{ExpiryWindowJitterFrac: 0.5}
	c.Login.Register(fs, getenv)
	var pathStyle, maxUpload string
	fs.StringVar(&c.RoleARN, "role-arn", env("ROLE_ARN", ""), "IAM role assumed with the user's ID token (ROLE_ARN)")
	fs.StringVar(&c.IdentityPoolID, "identity-pool-id", env("IDENTITY_POOL_ID", ""), "Cognito identity pool (REGION:GUID) whose basic flow gives the credentials; empty = STS web identity with the ID token (IDENTITY_POOL_ID)")
	fs.StringVar(&c.Bucket, "bucket", env("S3_BUCKET", ""), "S3 bucket holding one prefix per user (S3_BUCKET)")
	fs.StringVar(&pathStyle, "s3-path-style", env("S3_PATH_STYLE", "false"), "path-style S3 addressing, for S3-compatible stores such as MinIO (S3_PATH_STYLE)")
	fs.StringVar(&maxUpload, "max-upload", env("MAX_UPLOAD_BYTES", strconv.Itoa(defaultMaxUpload)), "largest accepted upload, in bytes (MAX_UPLOAD_BYTES)")
	fs.DurationVar(&c.CredentialsDuration, "credentials-duration", 15*time.Minute, "lifetime asked of STS for the user's credentials (at least 15m)")
	fs.DurationVar(&c.ExpiryWindow, "credentials-expiry-window", time.Minute, "renew the user's credentials this long before they expire (less up to half of it, at random)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	errs := c.Login.Check()
	errs = append(errs, exampleapp.Required("ROLE_ARN", c.RoleARN, "S3_BUCKET", c.Bucket)...)
	if c.IdentityPoolID != "" && !identityPoolID.MatchString(c.IdentityPoolID) {
		errs = append(errs, errors.New("IDENTITY_POOL_ID must be REGION:GUID"))
	}
	var err error
	if c.PathStyle, err = strconv.ParseBool(pathStyle); err != nil {
		errs = append(errs, fmt.Errorf("S3_PATH_STYLE: %w", err))
	}
	if c.MaxUploadBytes, err = strconv.ParseInt(maxUpload, 10, 64); err != nil || c.MaxUploadBytes <= 0 {
		errs = append(errs, errors.New("MAX_UPLOAD_BYTES must be a positive number of bytes"))
	}
	if c.ExpiryWindow < 0 || c.ExpiryWindow >= c.CredentialsDuration {
		errs = append(errs, errors.New("credentials-expiry-window must be at least 0 and shorter than credentials-duration"))
	}
	return c, errors.Join(errs...)
}

var identityPoolID = regexp.MustCompile(`^[a-z]{2}(?:-[a-z]+)+-\d:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

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

// serveApp serves h on ln until ctx ends.
func serveApp(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	return exampleapp.Serve(ctx, ln, h, logger, "s3 example")
}
