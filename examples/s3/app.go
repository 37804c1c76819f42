package main

import (
	"context"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentity"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/pubauth/awsauth/authflow"
	"github.com/pubauth/awsauth/awscreds"
	"github.com/pubauth/awsauth/examples/internal/exampleapp"
	"github.com/pubauth/awsauth/tokenstore"
)

// defaultMaxUpload is MAX_UPLOAD_BYTES's default, 10 MiB.
const defaultMaxUpload = 10 << 20

type config struct {
	exampleapp.Login
	RoleARN, Bucket string
	// IdentityPoolID selects the identity-pool (basic flow) mode: the user's
	// ID token goes to Cognito GetId and GetOpenIdToken, and the identity
	// pool's token to STS; the prefix is the identity id. Empty: STS web
	// identity with the ID token itself, and the prefix is the sub.
	IdentityPoolID string
	PathStyle      bool
	MaxUploadBytes int64

	// CredentialsDuration is the lifetime asked of STS (DurationSeconds).
	CredentialsDuration time.Duration
	// ExpiryWindow and ExpiryWindowJitterFrac go to each user's
	// aws.CredentialsCache: credentials are renewed between
	// ExpiryWindow×(1−JitterFrac) and ExpiryWindow before they expire.
	ExpiryWindow           time.Duration
	ExpiryWindowJitterFrac float64

	// wrapSTS and wrapCognito let tests count calls; nil = the SDK's clients as they are.
	wrapSTS     func(awscreds.AssumeRoleWithWebIdentityAPIClient) awscreds.AssumeRoleWithWebIdentityAPIClient
	wrapCognito func(awscreds.IdentityPoolAPIClient) awscreds.IdentityPoolAPIClient
}

type app struct {
	http.Handler
	auth *authflow.Handler
	sts  awscreds.AssumeRoleWithWebIdentityAPIClient
	s3   *s3.Client
	// cognito and identityIDs serve the identity-pool mode; cognito is nil
	// in the web-identity mode.
	cognito     awscreds.IdentityPoolAPIClient
	identityIDs tokenstore.Store
	users       *awscreds.UserCache
	cfg         config
	logger      *slog.Logger

	closeStore func() error // releases the session store's connections
}

// newApp wires the s3 example: the store, the sign-in flow, one AWS
// credentials cache per session, the AWS clients and the routes. Discovery
// at the provider happens here; no AWS call does. On error nothing is left
// open.
func newApp(ctx context.Context, cfg config, logger *slog.Logger) (_ *app, err error) {
	// Sessions (and, with an identity pool, the users' identity ids) live on
	// the server, in the store TOKENSTORE_URL names (storeurl.Open; sealed
	// with tokenstore.NewEncrypted when TOKENSTORE_KEYS is set). Several
	// instances share one store and one COOKIE_KEY.
	store, closeStore, err := cfg.OpenStore(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			closeStore()
		}
	}()

	// One refreshing AWS credentials cache per session, renewed between
	// ExpiryWindow×(1−JitterFrac) and ExpiryWindow before they expire.
	users := awscreds.NewUserCache(func(o *awscreds.UserCacheOptions) {
		o.ExpiryWindow = cfg.ExpiryWindow
		o.ExpiryWindowJitterFrac = cfg.ExpiryWindowJitterFrac
	})

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

	// The AWS SDK's own configuration: AWS_REGION, AWS_ENDPOINT_URL, ...
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithDefaultRegion("us-east-1"))
	if err != nil {
		return nil, err
	}
	a := &app{
		auth: auth,
		// AssumeRoleWithWebIdentity is authorized by the ID token alone:
		// the app needs no AWS credentials of its own.
		sts: sts.NewFromConfig(awsCfg, func(o *sts.Options) { o.Credentials = aws.AnonymousCredentials{} }),
		// S3 calls are signed per call with the user's credentials (o.Credentials).
		s3:     s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = cfg.PathStyle }),
		users:  users,
		cfg:    cfg,
		logger: logger,

		closeStore: closeStore,
	}
	if cfg.wrapSTS != nil {
		a.sts = cfg.wrapSTS(a.sts)
	}
	if cfg.IdentityPoolID != "" {
		// GetId and GetOpenIdToken are authorized by the Logins alone.
		a.cognito = cognitoidentity.NewFromConfig(awsCfg, func(o *cognitoidentity.Options) { o.Credentials = aws.AnonymousCredentials{} })
		if cfg.wrapCognito != nil {
			a.cognito = cfg.wrapCognito(a.cognito)
		}
		// One identity id per user, kept across sessions in the session store:
		// GetId runs once per user, and a shared store (TOKENSTORE_URL
		// redis://, postgres://, ...) keeps it across instances and restarts.
		a.identityIDs = store
	}
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", exampleapp.Home(auth, homePage, logger, nil))
	mux.Handle("GET /login", auth.Login())
	mux.Handle("GET /callback", auth.Callback())
	mux.Handle("POST /logout", auth.Logout()) // CSRF-checked: the home page's form sends the token
	mux.Handle("GET /files", auth.RequireLogin(http.HandlerFunc(a.list)))
	mux.Handle("POST /files", auth.RequireLogin(http.HandlerFunc(a.upload)))
	mux.Handle("GET /files/{name...}", auth.RequireLogin(http.HandlerFunc(a.download)))
	a.Handler = mux
	return a, nil
}

// credentials returns the signed-in user's AWS credentials: one cached
// provider per session, fed by the session's refreshing ID token. The
// UserCache renews them ExpiryWindow (less jitter) before they expire.
func (a *app) credentials(s *authflow.Session) *aws.CredentialsCache {
	return a.users.Get(s.Handle(), func() aws.CredentialsProvider {
		if a.cognito != nil {
			return a.identityPool(s)
		}
		return awscreds.NewWebIdentity(a.sts, a.cfg.RoleARN, a.auth.IDTokenFunc(s.ID),
			func(o *awscreds.WebIdentityOptions) { o.Duration = a.cfg.CredentialsDuration })
	})
}

// identityPool is the identity-pool mode's provider for s: Cognito's basic
// flow (GetId, GetOpenIdToken, then STS AssumeRoleWithWebIdentity of
// RoleARN with the identity pool's token, which STS trusts without an IAM
// OIDC provider). Building one calls nothing.
func (a *app) identityPool(s *authflow.Session) *awscreds.IdentityPool {
	return awscreds.NewIdentityPool(a.cognito, a.cfg.IdentityPoolID, func(o *awscreds.IdentityPoolOptions) {
		// The Logins key is the issuer without https://, for a Cognito user
		// pool (cognito-idp.<region>.amazonaws.com/<pool id>) as for an OIDC
		// provider the pool trusts.
		o.Logins = awscreds.OIDCLogins(a.cfg.Issuer, a.auth.IDTokenFunc(s.ID))
		o.BasicFlow = &awscreds.BasicFlowOptions{
			RoleARN:            a.cfg.RoleARN,
			STS:                a.sts,
			WebIdentitySession: awscreds.WebIdentitySession{Duration: a.cfg.CredentialsDuration},
		}
		o.Store = a.identityIDs
		o.Logger = a.logger
	})
}

// prefix returns the user's key prefix (awscreds.UserPrefix): "<sub>/" with
// web identity (the storage policy's ${jwt:sub} or ${aws:PrincipalTag/sub}),
// "<identity id>/" with an identity pool
// (${cognito-identity.amazonaws.com:sub}). It wraps
// awscreds.ErrUnsupportedUserID for an id that can't name a prefix, and the
// provider's error when the identity id can't be had.
func (a *app) prefix(ctx context.Context, s *authflow.Session) (string, error) {
	if a.cognito == nil {
		return awscreds.UserPrefix(s.Subject)
	}
	id, err := a.identityPool(s).IdentityID(ctx)
	if err != nil {
		return "", err
	}
	return awscreds.UserPrefix(id)
}

var homePage = template.Must(template.New("home").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>awsauth S3 files</title></head><body>
<h1>awsauth S3 files</h1>
{{if .Subject}}
<p>Signed in as <b id="sub">{{.Subject}}</b>. Your files: <a id="files" href="/files">/files</a>.</p>
<form id="upload-form" method="post" action="/files" enctype="multipart/form-data">
<input type="hidden" name="csrf_token" value="{{.CSRF}}">
<input id="file" type="file" name="file">
<input id="name" type="text" name="name" placeholder="name (default: the file's)">
<button id="upload" type="submit">Upload</button></form>
<form method="post" action="/logout"><input type="hidden" name="csrf_token" value="{{.CSRF}}">
<button id="logout" type="submit">Sign out</button></form>
{{else}}
<p><a id="login" href="/login?return_to=/">Sign in</a></p>
{{end}}
</body></html>
`))

func writeError(w http.ResponseWriter, status int, code string) {
	exampleapp.WriteJSON(w, status, map[string]string{"error": code})
}
