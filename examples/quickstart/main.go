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
// and then need one COOKIE_KEY.
// Routes: GET / (home), GET /login, GET /callback, POST /logout, GET /me (the
// session as JSON), GET /files (the keys under the user's prefix, as JSON).
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, err := parseConfig(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, logger); err != nil {
		logger.Error("quickstart stopped", "error", err)
		os.Exit(1)
	}
}

// parseConfig reads flags, each falling back to an environment variable.
func parseConfig(args []string, getenv func(string) string) (config, error) {
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	var c config
	var cookieKey, pathStyle string
	fs.StringVar(&c.Issuer, "issuer", env("OIDC_ISSUER", ""), "OpenID provider issuer URL (OIDC_ISSUER)")
	fs.StringVar(&c.ClientID, "client-id", env("OIDC_CLIENT_ID", ""), "OAuth client id (OIDC_CLIENT_ID)")
	fs.StringVar(&c.ClientSecret, "client-secret", env("OIDC_CLIENT_SECRET", ""), "client secret; empty = public client (OIDC_CLIENT_SECRET)")
	fs.StringVar(&c.RedirectURL, "redirect-url", env("OIDC_REDIRECT_URL", ""), "callback URL registered at the provider; default http://LISTEN_ADDR/callback (OIDC_REDIRECT_URL)")
	fs.StringVar(&c.ListenAddr, "listen", env("LISTEN_ADDR", "127.0.0.1:8080"), "listen address (LISTEN_ADDR)")
	fs.StringVar(&c.RoleARN, "role-arn", env("ROLE_ARN", ""), "IAM role assumed with the user's ID token (ROLE_ARN)")
	fs.StringVar(&c.Bucket, "bucket", env("S3_BUCKET", ""), "S3 bucket holding one prefix per user (S3_BUCKET)")
	fs.StringVar(&pathStyle, "s3-path-style", env("S3_PATH_STYLE", "false"), "path-style S3 addressing, for S3-compatible stores such as MinIO (S3_PATH_STYLE)")
	fs.StringVar(&cookieKey, "cookie-key", env("COOKIE_KEY", ""), "base64 of 32 random bytes sealing login cookies; share it across instances (COOKIE_KEY)")
	fs.StringVar(&c.TokenStoreURL, "tokenstore", env("TOKENSTORE_URL", "memory://"), "session store: memory://, redis://host:port/db, postgres://..., sqlite://PATH, dynamodb://TABLE?region=R (TOKENSTORE_URL)")
	fs.DurationVar(&c.CredentialsDuration, "credentials-duration", 15*time.Minute, "lifetime asked of STS for the user's credentials")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var errs []error
	for name, v := range map[string]string{"OIDC_ISSUER": c.Issuer, "OIDC_CLIENT_ID": c.ClientID, "ROLE_ARN": c.RoleARN, "S3_BUCKET": c.Bucket} {
		if v == "" {
			errs = append(errs, fmt.Errorf("%s (or its flag) is required", name))
		}
	}
	if c.RedirectURL == "" {
		c.RedirectURL = "http://" + c.ListenAddr + "/callback"
	}
	var err error
	if c.PathStyle, err = strconv.ParseBool(pathStyle); err != nil {
		errs = append(errs, fmt.Errorf("S3_PATH_STYLE: %w", err))
	}
	if cookieKey != "" {
		k, err := base64.StdEncoding.DecodeString(cookieKey)
		if err != nil || len(k) != 32 {
			errs = append(errs, errors.New("COOKIE_KEY must be base64 of 32 bytes"))
		}
		c.CookieKey = k
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
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	logger.Info("quickstart listening", "url", "http://"+ln.Addr().String())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
