package awsauth_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentity"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/redis/go-redis/v9"

	"github.com/pubauth/awsauth/authflow"
	"github.com/pubauth/awsauth/authflow/bearer"
	"github.com/pubauth/awsauth/authflow/lambdaauth"
	"github.com/pubauth/awsauth/awscreds"
	"github.com/pubauth/awsauth/tokenstore"
	"github.com/pubauth/awsauth/tokenstore/redisstore"
)

// readmeUsage is README.md's Usage block, compiled: TestREADMEUsage keeps the two the same. Its
// parameters are what an application brings: its own handlers and secrets.
func readmeUsage(ctx context.Context, app, api http.Handler, clientID, identityPoolID string, cookieKey, storeKey []byte) error {
	// BEGIN README
	// Sessions in the store the team runs (sqlstore, dynamostore, ...), encrypted at rest.
	store, err := redisstore.New(redis.NewClient(&redis.Options{Addr: "redis:6379"}))
	if err != nil {
		return err
	}
	sealed, err := tokenstore.NewEncrypted(store, []tokenstore.EncryptionKey{{ID: "2026-01", Secret: storeKey}})
	if err != nil {
		return err
	}

	// Each signed-in user's AWS credentials, cached per session and dropped when it ends.
	users := awscreds.NewUserCache()
	// The user pool's issuer in its format (IssuerType "UPDATED": the multi-Region one), or any OIDC issuer.
	issuer, err := authflow.CognitoIssuer(authflow.CognitoPool{ID: "eu-west-1_AbC123"})
	if err != nil {
		return err
	}
	h, err := authflow.New(ctx, authflow.Config{
		Issuer:       issuer,
		ClientID:     clientID, // public client: PKCE only
		RedirectURL:  "https://app.example.com/callback",
		Cognito:      &authflow.Cognito{Domain: "auth.example.com"}, // every endpoint: no discovery at start
		CookieKeys:   [][]byte{cookieKey},                           // 32 random bytes, shared by all instances
		Store:        sealed,                                        // default: memory, for one instance
		OnSessionEnd: users.Evict,
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /login", h.Login())
	mux.Handle("GET /callback", h.Callback())
	mux.Handle("POST /logout", h.Logout()) // the form carries h.CSRFToken(r) as authflow.CSRFField
	mux.Handle("/app/", h.RequireLogin(h.CSRFProtect(app)))

	// The user's own AWS credentials, refreshed before they expire: SigV4 with them, never a bearer token.
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	cognito, glueClient := cognitoidentity.NewFromConfig(cfg), glue.NewFromConfig(cfg)
	mux.Handle("GET /databases", h.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := authflow.SessionFrom(r.Context())
		creds := users.Get(s.Handle(), func() aws.CredentialsProvider {
			return awscreds.NewIdentityPool(cognito, identityPoolID, func(o *awscreds.IdentityPoolOptions) {
				o.Logins = awscreds.CognitoLogins(issuer, h.IDTokenFunc(s.ID))
				o.Store = store // identity ids survive restarts
			})
		})
		out, err := glueClient.GetDatabases(r.Context(), &glue.GetDatabasesInput{}, func(o *glue.Options) { o.Credentials = creds })
		if err != nil {
			http.Error(w, "AWS refused or failed", http.StatusBadGateway)
			return
		}
		_ = out // render out.DatabaseList
	})))

	// An API: only valid access tokens with the scope (401/403 per RFC 6750), on the login's key set.
	// Package authflow/bearer alone compiles no login code.
	pool := bearer.Cognito(bearer.CognitoPool{ID: "eu-west-1_AbC123"}, clientID) // the same IssuerType as the login
	pool.KeySet = h.KeySet()
	v, err := bearer.New(ctx, bearer.Config{Issuers: []bearer.Issuer{pool}})
	if err != nil {
		return err
	}
	mux.Handle("/api/", v.Require(api, bearer.Scopes("orders/read"))) // claims: bearer.ClaimsFrom(r.Context())

	if os.Getenv("AWS_LAMBDA_FUNCTION_NAME") != "" { // the same mux under Lambda (API Gateway HTTP API)
		lambda.Start(lambdaauth.HTTPAPI(mux, lambdaauth.Options{}))
		return nil
	}
	return http.ListenAndServe(":8080", mux)
	// END README
}

var _ = readmeUsage

// TestREADMEUsage: README.md's Usage block is readmeUsage's body, so what a reader copies
// compiles, with every name it uses declared and OnSessionEnd wired.
func TestREADMEUsage(t *testing.T) {
	src, err := os.ReadFile("readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := strings.Cut(string(src), "\t// BEGIN README\n")
	body, _, _ = strings.Cut(body, "\t// END README\n")
	var want bytes.Buffer
	for line := range strings.SplitAfterSeq(body, "\n") {
		want.WriteString(strings.TrimPrefix(line, "\t"))
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, usage, _ := strings.Cut(string(readme), "## Usage\n\n```go\n")
	usage, _, _ = strings.Cut(usage, "```\n")
	if usage != want.String() {
		t.Fatalf("README.md's Usage block differs from readmeUsage in readme_test.go; copy this into README.md:\n%s", want.String())
	}
	if !strings.Contains(usage, "OnSessionEnd: users.Evict") {
		t.Fatal("the Usage block does not wire OnSessionEnd")
	}
}
