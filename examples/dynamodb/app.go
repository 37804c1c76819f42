package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/pubauth/awsauth/authflow"
	"github.com/pubauth/awsauth/awscreds"
	"github.com/pubauth/awsauth/examples/internal/exampleapp"
)

// maxItemText bounds an item's text (DynamoDB's item limit is 400 KB; the example's is 4 KB).
const maxItemText = 4 << 10

type app struct {
	http.Handler
	auth       *authflow.Handler
	sts        *sts.Client
	ddb        *dynamodb.Client
	users      *awscreds.UserCache
	table      string // the table's name, from its ARN
	policyJSON string // the session policy, the same for every user
	cfg        config
	logger     *slog.Logger

	closeStore func() error // releases the session store's connections
}

// sessionPolicy is the policy every user's session gets: the table's items whose partition
// key is the session's sub tag, which AssumeRole sets to EscapeUserID of the verified sub.
func sessionPolicy(tableARN string) (awscreds.PolicyDocument, error) {
	return awscreds.DynamoDBPartitionPolicy(tableARN, awscreds.PrincipalTagUser("sub"), func(o *awscreds.DynamoDBPartitionOptions) {
		o.Actions = []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"}
	})
}

// partitionKey is where the user's items live: the value of ${aws:PrincipalTag/sub}.
func partitionKey(sub string) string { return awscreds.EscapeUserID(sub) }

// newApp wires the dynamodb example: the session policy, the store, the
// sign-in flow, one AWS credentials cache per session, the AWS clients and
// the routes. Discovery at the provider happens here; no AWS call does. On
// error nothing is left open.
func newApp(ctx context.Context, cfg config, logger *slog.Logger) (_ *app, err error) {
	tableARN, err := arn.Parse(cfg.TableARN)
	name, ok := strings.CutPrefix(tableARN.Resource, "table/")
	if err != nil || !ok {
		return nil, fmt.Errorf("DYNAMODB_TABLE_ARN %q is not a table ARN", cfg.TableARN)
	}
	policy, err := sessionPolicy(cfg.TableARN)
	if err != nil {
		return nil, err
	}
	policyJSON, err := policy.JSON()
	if err != nil {
		return nil, err
	}

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

	// The AWS SDK's own configuration (AWS_REGION, AWS_ENDPOINT_URL_STS,
	// the server's credentials, ...); the table's region when none is set.
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithDefaultRegion(tableARN.Region))
	if err != nil {
		return nil, err
	}
	app := &app{
		auth:       auth,
		sts:        sts.NewFromConfig(awsCfg),      // signed with the server's own credentials
		ddb:        dynamodb.NewFromConfig(awsCfg), // signed per call with the user's (o.Credentials)
		users:      users,
		table:      name,
		policyJSON: policyJSON,
		cfg:        cfg,
		logger:     logger,
		closeStore: closeStore,
	}
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", exampleapp.Home(auth, homePage, logger, func(s *authflow.Session) any {
		if s == nil {
			return nil
		}
		return struct{ Partition string }{partitionKey(s.Subject)}
	}))
	mux.Handle("GET /login", auth.Login())
	mux.Handle("GET /callback", auth.Callback())
	mux.Handle("POST /logout", auth.Logout()) // CSRF-checked: the home page's form sends the token
	mux.Handle("GET /items", auth.RequireLogin(http.HandlerFunc(app.items)))
	// PutItem changes state: CSRFProtect refuses it (403) without the
	// session's CSRF token or from another origin; the form is bounded first.
	mux.Handle("POST /items", auth.RequireLogin(http.MaxBytesHandler(auth.CSRFProtect(http.HandlerFunc(app.addItem)), 2*maxItemText)))
	mux.HandleFunc("GET /policy", app.policy)
	app.Handler = mux
	return app, nil
}

// credentials returns the user's credentials: one AssumeRole provider per session, named,
// tagged and given a source identity from the session's verified claims.
func (a *app) credentials(s *authflow.Session) (*aws.CredentialsCache, error) {
	var claims awscreds.VerifiedClaims
	if err := s.Claims(&claims); err != nil {
		return nil, err
	}
	return a.users.Get(s.Handle(), func() aws.CredentialsProvider {
		return awscreds.NewAssumeRole(a.sts, a.cfg.RoleARN, claims, func(o *awscreds.AssumeRoleOptions) {
			o.Duration = a.cfg.CredentialsDuration
			o.Policy = &a.policyJSON
			o.TagClaims = map[string]string{"sub": "sub"}
			o.SourceIdentityClaim = "sub"
			o.Logger = a.logger
		})
	}), nil
}

var homePage = template.Must(template.New("home").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>awsauth: DynamoDB</title></head><body>
<h1>Your own DynamoDB items</h1>
{{if .Subject}}
<p>Signed in as <b id="sub">{{.Subject}}</b>; your partition is <code>{{.Extra.Partition}}</code>.</p>
<p><a href="/items">/items</a> · <a href="/policy">/policy</a></p>
<form method="post" action="/items"><input type="hidden" name="csrf_token" value="{{.CSRF}}">
<input name="text" maxlength="4096"> <button type="submit">Add</button></form>
<form method="post" action="/logout"><input type="hidden" name="csrf_token" value="{{.CSRF}}">
<button id="logout" type="submit">Sign out</button></form>
{{else}}
<p><a id="login" href="/login?return_to=/items">Sign in</a></p>
{{end}}
</body></html>
`))

// items is a Query of the user's partition, signed with the user's credentials.
func (a *app) items(w http.ResponseWriter, r *http.Request) {
	s := authflow.SessionFrom(r.Context())
	creds, err := a.credentials(s)
	if err != nil {
		a.awsError(w, err)
		return
	}
	pk := partitionKey(s.Subject)
	out, err := a.ddb.Query(r.Context(), &dynamodb.QueryInput{
		TableName:                 aws.String(a.table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
	}, func(o *dynamodb.Options) { o.Credentials = creds })
	if err != nil {
		a.awsError(w, err)
		return
	}
	items := []map[string]string{}
	for _, it := range out.Items {
		sk, _ := it["sk"].(*types.AttributeValueMemberS)
		text, _ := it["text"].(*types.AttributeValueMemberS)
		if sk != nil && text != nil {
			items = append(items, map[string]string{"id": sk.Value, "text": text.Value})
		}
	}
	exampleapp.WriteJSON(w, http.StatusOK, map[string]any{"partition": pk, "items": items})
}

// addItem is a PutItem into the user's partition, behind CSRFProtect: it changes
// state.
func (a *app) addItem(w http.ResponseWriter, r *http.Request) {
	text := r.PostFormValue("text")
	if text == "" || len(text) > maxItemText {
		exampleapp.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "text must be 1-4096 bytes"})
		return
	}
	s := authflow.SessionFrom(r.Context())
	creds, err := a.credentials(s)
	if err != nil {
		a.awsError(w, err)
		return
	}
	id := newItemID()
	_, err = a.ddb.PutItem(r.Context(), &dynamodb.PutItemInput{
		TableName: aws.String(a.table),
		Item: map[string]types.AttributeValue{
			"pk":   &types.AttributeValueMemberS{Value: partitionKey(s.Subject)},
			"sk":   &types.AttributeValueMemberS{Value: id},
			"text": &types.AttributeValueMemberS{Value: text},
		},
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	}, func(o *dynamodb.Options) { o.Credentials = creds })
	if err != nil {
		a.awsError(w, err)
		return
	}
	exampleapp.WriteJSON(w, http.StatusCreated, map[string]string{"id": id})
}

// newItemID is a sort key that sorts by creation time: UTC nanoseconds, then randomness.
func newItemID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%020d-%s", time.Now().UTC().UnixNano(), hex.EncodeToString(b))
}

func (a *app) policy(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(a.policyJSON))
}

// awsError answers a failed DynamoDB call (or a failure to get the user's credentials for
// it): 401 when the user must sign in again, 403 when IAM refuses, 503 with Retry-After for a
// fault that passes by itself (throttling, exceeded throughput, a 5xx, a timeout), 500 for a
// configuration error or claims that can't name the session, else 502.
func (a *app) awsError(w http.ResponseWriter, err error) {
	var api smithy.APIError
	switch {
	case errors.Is(err, authflow.ErrSessionEnded):
		exampleapp.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "sign in again"})
	case errors.Is(err, awscreds.ErrConfiguration), errors.Is(err, awscreds.ErrInvalidClaims):
		a.logger.Error("AWS configuration", "error", err)
		exampleapp.WriteJSON(w, http.StatusInternalServerError, map[string]string{"error": "configuration"})
	case errors.As(err, &api) && api.ErrorCode() == "AccessDeniedException":
		exampleapp.WriteJSON(w, http.StatusForbidden, map[string]string{"error": api.ErrorCode()})
	case exampleapp.Transient(err):
		a.logger.Warn("AWS call failed for now", "error", err)
		w.Header().Set("Retry-After", "5")
		exampleapp.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily unavailable"})
	default:
		a.logger.Error("AWS call", "error", err)
		exampleapp.WriteJSON(w, http.StatusBadGateway, map[string]string{"error": "AWS call failed"})
	}
}
