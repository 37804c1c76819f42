package main

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentity"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/smithy-go"

	"github.com/pubauth/awsauth/authflow"
	"github.com/pubauth/awsauth/awscreds"
	"github.com/pubauth/awsauth/examples/internal/exampleapp"
	"github.com/pubauth/awsauth/tokenstore"
)

type app struct {
	http.Handler
	auth    *authflow.Handler
	cognito *cognitoidentity.Client
	glue    *glue.Client
	users   *awscreds.UserCache
	store   tokenstore.Store
	logins  func(idToken awscreds.IDTokenFunc) awscreds.LoginsFunc
	cfg     config
	logger  *slog.Logger

	closeStore func() error // releases the session store's connections
}

// newApp wires the glue example: the store, the sign-in flow, one AWS
// credentials cache per session, the AWS clients and the routes. Discovery
// at the provider happens here; no AWS call does. On error nothing is left
// open.
func newApp(ctx context.Context, cfg config, logger *slog.Logger) (_ *app, err error) {
	// One store for the sessions and the users' identity ids, the one
	// TOKENSTORE_URL names (storeurl.Open; sealed with
	// tokenstore.NewEncrypted when TOKENSTORE_KEYS is set): a shared one
	// (Redis, SQL, DynamoDB) serves several instances.
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

	// A Cognito user pool is named by its own Logins key; any other provider by its issuer
	// without the scheme (the IAM OIDC provider's URL).
	logins := func(idToken awscreds.IDTokenFunc) awscreds.LoginsFunc {
		return awscreds.OIDCLogins(cfg.Issuer, idToken)
	}
	if _, err := awscreds.CognitoProviderName(cfg.Issuer); err == nil {
		logins = func(idToken awscreds.IDTokenFunc) awscreds.LoginsFunc {
			return awscreds.CognitoLogins(cfg.Issuer, idToken)
		}
	} else if _, err := awscreds.OIDCProviderName(cfg.Issuer); err != nil {
		return nil, err
	}

	// The AWS SDK's own configuration: AWS_REGION, AWS_ENDPOINT_URL, ...
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithDefaultRegion("us-east-1"))
	if err != nil {
		return nil, err
	}
	a := &app{
		auth: auth,
		// GetId and GetCredentialsForIdentity are public operations: no server credentials.
		cognito: cognitoidentity.NewFromConfig(awsCfg, func(o *cognitoidentity.Options) { o.Credentials = aws.AnonymousCredentials{} }),
		// Glue calls are signed per call with the user's credentials (o.Credentials).
		glue:   glue.NewFromConfig(awsCfg),
		users:  users,
		store:  store,
		logins: logins,
		cfg:    cfg,
		logger: logger,

		closeStore: closeStore,
	}
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", exampleapp.Home(auth, homePage, logger, nil))
	mux.Handle("GET /login", auth.Login())
	mux.Handle("GET /callback", auth.Callback())
	mux.Handle("POST /logout", auth.Logout()) // CSRF-checked: the home page's form sends the token
	mux.Handle("GET /me", auth.RequireLogin(http.HandlerFunc(a.me)))
	mux.Handle("GET /databases", auth.RequireLogin(http.HandlerFunc(a.databases)))
	mux.Handle("GET /jobs", auth.RequireLogin(http.HandlerFunc(a.jobs)))
	// StartJobRun changes state: CSRFProtect refuses it (403) without the
	// session's CSRF token or from another origin.
	mux.Handle("POST /jobs/{name}/run", auth.RequireLogin(auth.CSRFProtect(http.HandlerFunc(a.runJob))))
	a.Handler = mux
	return a, nil
}

// pool returns an identity-pool provider for the session's user, fed by the session's
// refreshing ID token, with the identity ids in the app's store.
func (a *app) pool(s *authflow.Session) *awscreds.IdentityPool {
	return awscreds.NewIdentityPool(a.cognito, a.cfg.IdentityPoolID, func(o *awscreds.IdentityPoolOptions) {
		o.Logins = a.logins(a.auth.IDTokenFunc(s.ID))
		o.Store = a.store
		o.Logger = a.logger
	})
}

// credentials returns the user's credentials cache: one per session, kept in the UserCache.
func (a *app) credentials(s *authflow.Session) *aws.CredentialsCache {
	return a.users.Get(s.Handle(), func() aws.CredentialsProvider { return a.pool(s) })
}

var homePage = template.Must(template.New("home").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>awsauth: Glue</title></head><body>
<h1>AWS Glue with your own credentials</h1>
{{if .Subject}}
<p>Signed in as <b id="sub">{{.Subject}}</b>.</p>
<p><a href="/me">/me</a> · <a href="/databases">/databases</a> · <a href="/jobs">/jobs</a></p>
<form method="post" action="/logout"><input type="hidden" name="csrf_token" value="{{.CSRF}}">
<button id="logout" type="submit">Sign out</button></form>
{{else}}
<p><a id="login" href="/login?return_to=/me">Sign in</a></p>
{{end}}
</body></html>
`))

func (a *app) me(w http.ResponseWriter, r *http.Request) {
	s := authflow.SessionFrom(r.Context())
	c, err := a.credentials(s).Retrieve(r.Context())
	if err != nil {
		a.awsError(w, err)
		return
	}
	// The identity id is in the store since the first retrieval: no GetId here.
	id, err := a.pool(s).IdentityID(r.Context())
	if err != nil {
		a.awsError(w, err)
		return
	}
	exampleapp.WriteJSON(w, http.StatusOK, map[string]any{
		"sub":                 s.Subject,
		"identity_id":         id,
		"credentials_source":  c.Source,
		"credentials_expires": c.Expires.UTC(),
	})
}

// databases is Glue GetDatabases, signed with the user's identity-pool credentials.
func (a *app) databases(w http.ResponseWriter, r *http.Request) {
	creds := a.credentials(authflow.SessionFrom(r.Context()))
	out, err := a.glue.GetDatabases(r.Context(), &glue.GetDatabasesInput{}, func(o *glue.Options) { o.Credentials = creds })
	if err != nil {
		a.awsError(w, err)
		return
	}
	names := []string{}
	for _, d := range out.DatabaseList {
		names = append(names, aws.ToString(d.Name))
	}
	exampleapp.WriteJSON(w, http.StatusOK, map[string]any{"databases": names})
}

// jobs is Glue GetJobs.
func (a *app) jobs(w http.ResponseWriter, r *http.Request) {
	creds := a.credentials(authflow.SessionFrom(r.Context()))
	out, err := a.glue.GetJobs(r.Context(), &glue.GetJobsInput{}, func(o *glue.Options) { o.Credentials = creds })
	if err != nil {
		a.awsError(w, err)
		return
	}
	names := []string{}
	for _, j := range out.Jobs {
		names = append(names, aws.ToString(j.Name))
	}
	exampleapp.WriteJSON(w, http.StatusOK, map[string]any{"jobs": names})
}

// runJob is Glue StartJobRun, behind CSRFProtect: it changes state.
func (a *app) runJob(w http.ResponseWriter, r *http.Request) {
	creds := a.credentials(authflow.SessionFrom(r.Context()))
	out, err := a.glue.StartJobRun(r.Context(), &glue.StartJobRunInput{JobName: aws.String(r.PathValue("name"))},
		func(o *glue.Options) { o.Credentials = creds })
	if err != nil {
		a.awsError(w, err)
		return
	}
	exampleapp.WriteJSON(w, http.StatusOK, map[string]any{"job_run_id": aws.ToString(out.JobRunId)})
}

// awsError answers a failed Glue call (or a failure to get the user's credentials for it):
// 401 when the user must sign in again, 403 when IAM refuses, 404 for a missing job or
// database, 503 with Retry-After for a fault that passes by itself (throttling, a 5xx, a
// timeout, a token refresh that failed for now), 500 for a configuration error, else 502.
func (a *app) awsError(w http.ResponseWriter, err error) {
	var api smithy.APIError
	switch {
	case errors.Is(err, authflow.ErrSessionEnded), errors.Is(err, awscreds.ErrIDTokenRejected):
		exampleapp.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "sign in again"})
	case errors.Is(err, awscreds.ErrConfiguration):
		a.logger.Error("AWS configuration", "error", err)
		exampleapp.WriteJSON(w, http.StatusInternalServerError, map[string]string{"error": "configuration"})
	case errors.As(err, &api) && api.ErrorCode() == "AccessDeniedException":
		exampleapp.WriteJSON(w, http.StatusForbidden, map[string]string{"error": api.ErrorCode()})
	case errors.As(err, &api) && api.ErrorCode() == "EntityNotFoundException":
		exampleapp.WriteJSON(w, http.StatusNotFound, map[string]string{"error": api.ErrorCode()})
	case errors.Is(err, authflow.ErrRefreshFailed) || exampleapp.Transient(err):
		a.logger.Warn("AWS call failed for now", "error", err)
		w.Header().Set("Retry-After", "5")
		exampleapp.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily unavailable"})
	default:
		a.logger.Error("AWS call", "error", err)
		exampleapp.WriteJSON(w, http.StatusBadGateway, map[string]string{"error": "AWS call failed"})
	}
}
