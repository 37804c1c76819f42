// Command lambda is the AWS Lambda integration of awsauth: a web app (sign
// in with OAuth 2.0 authorization code + PKCE, callback, sign out) whose
// pages call an API that accepts only access tokens of the configured app
// client(s) with the scope orders/read. The same net/http handler runs
// locally and under AWS Lambda behind API Gateway (HTTP API or REST API
// proxy events, told apart per event).
//
// Locally:
//
//	OIDC_ISSUER=https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC \
//	OIDC_CLIENT_ID=... go run ./examples/lambda
//
// Under Lambda (AWS_LAMBDA_RUNTIME_API is set by the runtime) it calls
// lambda.Start; see README.md for deployment. With a Cognito issuer,
// COGNITO_DOMAIN and OIDC_JWKS_FILE an instance starts and answers its first
// API request with no network request (README.md, "Cold start"). Routes: GET / (home), GET
// /login, GET /callback, POST /logout, GET /orders (the page: calls the API
// with the user's access token), GET /api/orders (the API: Bearer token with
// scope orders/read), GET /api/admin/orders (also needs the group admin).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pubauth/awsauth/examples/internal/exampleapp"
)

type config struct {
	// Login is the sign-in part every example shares; its RedirectURL
	// defaults to PublicURL + "/callback" here.
	exampleapp.Login
	// PublicURL is the app's public base URL, stage included under API
	// Gateway (https://abc123.execute-api.eu-west-1.amazonaws.com/prod).
	PublicURL string
	// APIURL is where the pages call the API; default PublicURL + "/api".
	APIURL string
	// APIClientIDs are further app clients whose access tokens the API takes.
	APIClientIDs []string
	// APIAudience, when set, must be in the access token's aud (a resource
	// indicator; Cognito's tokens carry none unless configured).
	APIAudience string
	// Resource is sent as the RFC 8707 resource parameter at login; empty
	// sends none (Cognito needs none).
	Resource string
	// JWKSFile names a copy of the issuer's JWKS (its jwks_uri's document)
	// shipped with the function: the key set starts primed from it, so the
	// first API request is verified with no fetch. Empty fetches the key set
	// on first use.
	JWKSFile string
	// HTTPClient reaches the provider (discovery, key set, token and
	// revocation endpoints); nil means authflow's default. Tests record
	// requests through it.
	HTTPClient *http.Client
}

// defaultScopes are the lambda example's: its orders page calls the API,
// which requires orders/read.
var defaultScopes = []string{"openid", "email", "profile", "orders/read"}

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	cfg, err := parseConfig(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lambda example:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
		if cfg.CookieKeys == nil {
			logger.Error("COOKIE_KEY is required under Lambda: every instance must open every login's cookie")
			os.Exit(2)
		}
		h, err := newApp(ctx, cfg, logger)
		if err != nil {
			logger.Error("lambda example: start", "error", err)
			os.Exit(1)
		}
		lambda.StartWithOptions(lambdaHandler(h, publicBasePath(cfg.PublicURL)), lambda.WithContext(ctx))
		return
	}
	if err := run(ctx, cfg, logger); err != nil {
		logger.Error("lambda example stopped", "error", err)
		os.Exit(1)
	}
}

// parseConfig reads flags, each falling back to an environment variable.
func parseConfig(args []string, getenv func(string) string) (config, error) {
	fs := flag.NewFlagSet("lambda", flag.ContinueOnError)
	env := func(name, def string) string { return exampleapp.Env(getenv, name, def) }
	var c config
	c.Login.Register(fs, getenv)
	var apiClients string
	fs.StringVar(&c.PublicURL, "public-url", env("PUBLIC_URL", ""), "public base URL, API Gateway stage included; default http://LISTEN_ADDR (PUBLIC_URL)")
	fs.StringVar(&c.APIURL, "api-url", env("API_URL", ""), "base URL of the orders API; default PUBLIC_URL/api (API_URL)")
	fs.StringVar(&apiClients, "api-client-ids", env("API_CLIENT_IDS", ""), "comma-separated further app clients the API accepts (API_CLIENT_IDS)")
	fs.StringVar(&c.APIAudience, "api-audience", env("API_AUDIENCE", ""), "required aud of access tokens, if any (API_AUDIENCE)")
	fs.StringVar(&c.Resource, "resource", env("OIDC_RESOURCE", ""), "RFC 8707 resource sent at login, if any (OIDC_RESOURCE)")
	fs.StringVar(&c.JWKSFile, "jwks-file", env("OIDC_JWKS_FILE", ""), "a copy of the issuer's JWKS shipped with the function, priming the key set: no fetch at cold start (OIDC_JWKS_FILE)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var errs []error
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.ListenAddr
	}
	c.PublicURL = strings.TrimSuffix(c.PublicURL, "/")
	if u, err := url.Parse(c.PublicURL); err != nil || u.Host == "" || u.RawQuery != "" {
		errs = append(errs, errors.New("PUBLIC_URL must be an absolute URL without a query"))
	}
	if c.RedirectURL == "" {
		c.RedirectURL = c.PublicURL + "/callback"
	}
	errs = append(errs, c.Login.Check()...)
	if c.APIURL == "" {
		c.APIURL = c.PublicURL + "/api"
	}
	c.APIURL = strings.TrimSuffix(c.APIURL, "/")
	for _, id := range strings.Split(apiClients, ",") {
		if id = strings.TrimSpace(id); id != "" {
			c.APIClientIDs = append(c.APIClientIDs, id)
		}
	}
	if len(c.Login.Scopes) == 0 { // -scopes / OIDC_SCOPES, as every example's
		c.Login.Scopes = defaultScopes
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
	h, err := newApp(ctx, cfg, logger)
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	logger.Info("lambda example listening", "url", "http://"+ln.Addr().String(), "public_url", cfg.PublicURL)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
