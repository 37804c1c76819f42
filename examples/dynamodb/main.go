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
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, err := parseConfig(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dynamodb:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, logger); err != nil {
		logger.Error("dynamodb stopped", "error", err)
		os.Exit(1)
	}
}

type config struct {
	Issuer, ClientID, ClientSecret, RedirectURL string
	ListenAddr                                  string
	RoleARN, TableARN                           string
	CookieKey                                   []byte
	CredentialsDuration                         time.Duration
}

// parseConfig reads flags, each falling back to an environment variable (the quickstart's
// contract, with DYNAMODB_TABLE_ARN in place of S3_BUCKET).
func parseConfig(args []string, getenv func(string) string) (config, error) {
	fs := flag.NewFlagSet("dynamodb", flag.ContinueOnError)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	var c config
	var cookieKey string
	fs.StringVar(&c.Issuer, "issuer", env("OIDC_ISSUER", ""), "OpenID provider issuer URL (OIDC_ISSUER)")
	fs.StringVar(&c.ClientID, "client-id", env("OIDC_CLIENT_ID", ""), "OAuth client id (OIDC_CLIENT_ID)")
	fs.StringVar(&c.ClientSecret, "client-secret", env("OIDC_CLIENT_SECRET", ""), "client secret; empty = public client (OIDC_CLIENT_SECRET)")
	fs.StringVar(&c.RedirectURL, "redirect-url", env("OIDC_REDIRECT_URL", ""), "callback URL registered at the provider; default http://LISTEN_ADDR/callback (OIDC_REDIRECT_URL)")
	fs.StringVar(&c.ListenAddr, "listen", env("LISTEN_ADDR", "127.0.0.1:8080"), "listen address (LISTEN_ADDR)")
	fs.StringVar(&c.RoleARN, "role-arn", env("ROLE_ARN", ""), "IAM role the server assumes for each user (ROLE_ARN)")
	fs.StringVar(&c.TableARN, "table-arn", env("DYNAMODB_TABLE_ARN", ""), "ARN of the items table, partition key pk, sort key sk (DYNAMODB_TABLE_ARN)")
	fs.StringVar(&cookieKey, "cookie-key", env("COOKIE_KEY", ""), "base64 of 32 random bytes sealing login cookies; share it across instances (COOKIE_KEY)")
	fs.DurationVar(&c.CredentialsDuration, "credentials-duration", 15*time.Minute, "lifetime asked of STS for the user's credentials (15m to 1h)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var errs []error
	for _, req := range []struct{ name, v string }{
		{"OIDC_ISSUER", c.Issuer}, {"OIDC_CLIENT_ID", c.ClientID}, {"ROLE_ARN", c.RoleARN}, {"DYNAMODB_TABLE_ARN", c.TableARN},
	} {
		if req.v == "" {
			errs = append(errs, fmt.Errorf("%s (or its flag) is required", req.name))
		}
	}
	if c.RedirectURL == "" {
		c.RedirectURL = "http://" + c.ListenAddr + "/callback"
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
	a, err := newApp(ctx, cfg, logger)
	if err != nil {
		ln.Close()
		return err
	}
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
	logger.Info("dynamodb example listening", "url", "http://"+ln.Addr().String())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
