package main

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/pubauth/awsauth/authflow"
	"github.com/pubauth/awsauth/awscreds"
	"github.com/pubauth/awsauth/examples/internal/exampleapp"
)

type config struct {
	exampleapp.Login
	RoleARN, Bucket     string
	PathStyle           bool
	CredentialsDuration time.Duration

	now func() time.Time // tests move the clock; nil = time.Now
	// storeTimeout is authflow.Config.StoreTimeout: tests whose bursts
	// starve the machine raise it; zero = the default.
	storeTimeout time.Duration
	idleTimeout  time.Duration // tests set it; zero: no idle timeout
}

type app struct {
	http.Handler
	auth   *authflow.Handler
	sts    *sts.Client
	s3     *s3.Client
	users  *awscreds.UserCache
	cfg    config
	logger *slog.Logger
	meters metric.MeterProvider

	closeStore func() error // releases the session store's connections
}

// newApp wires the quickstart: the session store, the sign-in flow, one AWS
// credentials cache per session, the AWS clients and the routes. Discovery
// at the provider happens here; no AWS call does. On error nothing is left
// open.
func newApp(ctx context.Context, cfg config, logger *slog.Logger) (_ *app, err error) {
	// Sessions live on the server, in the store TOKENSTORE_URL names
	// (storeurl.Open; sealed with tokenstore.NewEncrypted when
	// TOKENSTORE_KEYS is set). Several instances share one store and one
	// COOKIE_KEY.
	store, closeStore, err := cfg.OpenStore(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			closeStore()
		}
	}()

	// One refreshing AWS credentials cache per session, renewed a minute
	// (less jitter) before the credentials expire.
	users := awscreds.NewUserCache()

	// Metrics: the OpenTelemetry SDK, read by its Prometheus exporter into a
	// registry of the app's own, served at GET /metrics (README.md,
	// Telemetry, lists the instruments). The library takes any
	// metric.MeterProvider (and trace.TracerProvider); nil means none.
	registry := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(registry))
	if err != nil {
		return nil, err
	}
	meters := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))

	ac := authflow.Config{
		Issuer:       cfg.Issuer,
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret, // empty: a public client, PKCE only
		RedirectURL:  cfg.RedirectURL,
		// nil: openid, plus offline_access where the provider's discovery
		// document lists it, so that a refresh token comes back.
		Scopes:     cfg.Scopes,
		Store:      store,
		CookieKeys: cfg.CookieKeys, // nil: a per-process key, logged
		// The user's AWS credentials go with the session: at logout, or
		// when a refresh finds the session can't go on.
		OnSessionEnd: users.Evict,
		Logger:       logger,
		Now:          cfg.now,
		StoreTimeout: cfg.storeTimeout,
		// A session unused this long ends (zero: only its lifetime ends it).
		IdleTimeout: cfg.idleTimeout,
		// Logins, refreshes, session ends, store and JWKS latency.
		MeterProvider: meters,
	}
	if cfg.CognitoDomain != "" {
		// Cognito's discovery document names no logout or revocation
		// endpoint: its managed login domain has them.
		ac.Cognito = &authflow.Cognito{Domain: cfg.CognitoDomain}
	}
	auth, err := authflow.New(ctx, ac)
	if err != nil {
		return nil, err
	}

	// The AWS SDK's own configuration: AWS_REGION, AWS_ENDPOINT_URL, ...
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithDefaultRegion("us-east-1"))
	if err != nil {
		return nil, err
	}
	a := &app{
		auth: auth,
		// AssumeRoleWithWebIdentity is authorized by the ID token alone:
		// the app needs no AWS credentials of its own.
		sts:    sts.NewFromConfig(awsCfg, func(o *sts.Options) { o.Credentials = aws.AnonymousCredentials{} }),
		s3:     s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = cfg.PathStyle }),
		users:  users,
		cfg:    cfg,
		logger: logger,
		meters: meters,

		closeStore: closeStore,
	}
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", exampleapp.Home(auth, homePage, logger, nil))
	mux.Handle("GET /login", auth.Login())
	mux.Handle("GET /callback", auth.Callback())
	mux.Handle("POST /logout", auth.Logout()) // CSRF-checked: the home page's form sends the token
	mux.Handle("GET /me", auth.RequireLogin(http.HandlerFunc(a.me)))
	mux.Handle("GET /files", auth.RequireLogin(http.HandlerFunc(a.files)))
	mux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	a.Handler = mux
	return a, nil
}

var homePage = template.Must(template.New("home").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>awsauth quickstart</title></head><body>
<h1>awsauth quickstart</h1>
{{if .Subject}}
<p>Signed in as <b id="sub">{{.Subject}}</b>.</p>
<p><a href="/me">/me</a> · <a href="/files">/files</a></p>
<form method="post" action="/logout"><input type="hidden" name="csrf_token" value="{{.CSRF}}">
<button id="logout" type="submit">Sign out</button></form>
{{else}}
<p><a id="login" href="/login?return_to=/me">Sign in</a></p>
{{end}}
</body></html>
`))

func (a *app) me(w http.ResponseWriter, r *http.Request) {
	s := authflow.SessionFrom(r.Context())
	var claims map[string]any
	if err := s.Claims(&claims); err != nil {
		exampleapp.WriteJSON(w, http.StatusInternalServerError, map[string]string{"error": "claims"})
		return
	}
	exampleapp.WriteJSON(w, http.StatusOK, map[string]any{
		"sub":                 s.Subject,
		"claims":              claims,
		"session_expires":     s.Expiry,
		"access_token_expiry": s.AccessTokenExpiry(),
	})
}

// credentials returns the signed-in user's AWS credentials: one cached
// provider per session, fed by the session's refreshing ID token.
func (a *app) credentials(s *authflow.Session) *aws.CredentialsCache {
	return a.users.Get(s.Handle(), func() aws.CredentialsProvider {
		return awscreds.NewWebIdentity(a.sts, a.cfg.RoleARN, a.auth.IDTokenFunc(s.ID),
			func(o *awscreds.WebIdentityOptions) {
				o.Duration = a.cfg.CredentialsDuration
				o.MeterProvider = a.meters // credential retrievals, by outcome
			})
	})
}

// files lists the keys under the user's own prefix ("<sub>/"). A prefix
// query parameter asks for another one: the storage's policy, not this app,
// decides, which is the point of per-user credentials. That policy
// substitutes the raw sub, so a sub that can't name a prefix (a "/", or a
// wildcard "*" or "?") is refused before any AWS call (awscreds.UserPrefix).
func (a *app) files(w http.ResponseWriter, r *http.Request) {
	s := authflow.SessionFrom(r.Context())
	prefix, err := awscreds.UserPrefix(s.Subject)
	if err != nil {
		// An id such as "*" would widen the storage's ${jwt:sub} policy.
		a.logger.Warn("files: user id can't name a prefix", "error", err)
		exampleapp.WriteJSON(w, http.StatusForbidden, map[string]string{"error": "unsupported_user_id"})
		return
	}
	if p := r.URL.Query().Get("prefix"); p != "" {
		prefix = p
	}
	creds := a.credentials(s)
	c, err := creds.Retrieve(r.Context())
	if err != nil {
		a.awsError(w, err)
		return
	}
	out, err := a.s3.ListObjectsV2(r.Context(), &s3.ListObjectsV2Input{Bucket: &a.cfg.Bucket, Prefix: &prefix},
		func(o *s3.Options) { o.Credentials = creds })
	if err != nil {
		a.awsError(w, err)
		return
	}
	keys := []string{}
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	exampleapp.WriteJSON(w, http.StatusOK, map[string]any{
		"bucket":              a.cfg.Bucket,
		"prefix":              prefix,
		"keys":                keys,
		"credentials_expires": c.Expires.UTC(),
	})
}

func (a *app) awsError(w http.ResponseWriter, err error) {
	var api smithy.APIError
	switch {
	case errors.Is(err, authflow.ErrSessionEnded):
		exampleapp.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "login_required"})
	case errors.As(err, &api) && (api.ErrorCode() == "AccessDenied" || strings.HasPrefix(api.ErrorCode(), "AccessDenied")):
		exampleapp.WriteJSON(w, http.StatusForbidden, map[string]string{"error": api.ErrorCode()})
	default:
		a.logger.Error("aws call failed", "error", err)
		exampleapp.WriteJSON(w, http.StatusBadGateway, map[string]string{"error": "aws_error"})
	}
}
