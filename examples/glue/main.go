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
		fmt.Fprintln(os.Stderr, "glue:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, logger); err != nil {
		logger.Error("glue stopped", "error", err)
		os.Exit(1)
	}
}

type config struct {
	Issuer, ClientID, ClientSecret, RedirectURL string
	ListenAddr                                  string
	IdentityPoolID                              string
	CookieKey                                   []byte
}

// parseConfig reads flags, each falling back to an environment variable (the quickstart's
// contract, with IDENTITY_POOL_ID in place of ROLE_ARN and S3_BUCKET).
func parseConfig(args []string, getenv func(string) string) (config, error) {
	fs := flag.NewFlagSet("glue", flag.ContinueOnError)
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
	fs.StringVar(&c.IdentityPoolID, "identity-pool-id", env("IDENTITY_POOL_ID", ""), "Cognito identity pool id, REGION:GUID (IDENTITY_POOL_ID)")
	fs.StringVar(&cookieKey, "cookie-key", env("COOKIE_KEY", ""), "base64 of 32 random bytes sealing login cookies; share it across instances (COOKIE_KEY)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var errs []error
	for _, req := range []struct{ name, v string }{
		{"OIDC_ISSUER", c.Issuer}, {"OIDC_CLIENT_ID", c.ClientID}, {"IDENTITY_POOL_ID", c.IdentityPoolID},
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
	logger.Info("glue example listening", "url", "http://"+ln.Addr().String())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
