package main

// End to end on real peers, all on loopback and started by internal/testenv (install them
// with scripts/deps.sh; `make test` does): node oidc-provider signs the users in through
// headless Chromium, moto server is STS, dynalite is DynamoDB. Neither moto nor dynalite
// enforces IAM, so "only the user's own items" is shown by what the app sends (the
// AssumeRole request, recorded by a proxy in front of moto: session name, tag, source
// identity and the session policy, checked against the golden file) and by the
// golden policy itself; on AWS, IAM enforces it.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/awscreds"
	"github.com/pubauth/awsauth/internal/testenv"
	"github.com/pubauth/awsauth/internal/testenv/browser"
)

const (
	clientID = "dynamodb-example"
	tableARN = "arn:aws:dynamodb:us-east-1:123456789012:table/items"
	roleARN  = "arn:aws:iam::123456789012:role/items-users"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/session_policy.json")

// The session policy every user gets, byte for byte (indented in the file for review).
func TestSessionPolicyGolden(t *testing.T) {
	p, err := sessionPolicy(tableARN)
	require.NoError(t, err)
	compact, err := p.JSON()
	require.NoError(t, err)
	var indented bytes.Buffer
	require.NoError(t, json.Indent(&indented, []byte(compact), "", "  "))
	indented.WriteByte('\n')
	path := filepath.Join("testdata", "session_policy.json")
	if *updateGolden {
		require.NoError(t, os.WriteFile(path, indented.Bytes(), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(want), indented.String())
	for _, s := range []string{`"dynamodb:LeadingKeys"`, `"${aws:PrincipalTag/sub}"`, `"ForAllValues:StringEquals"`, `"dynamodb:Scan"`} {
		assert.Contains(t, compact, s)
	}
	assert.LessOrEqual(t, len(compact), 2048, "a session policy must fit STS's 2,048 characters")
}

// recorder forwards to target and keeps, per request, what the test checks: the form of
// STS requests, the access key id of the signature.
type recorder struct {
	mu    sync.Mutex
	forms []url.Values
	keys  []string
}

var credentialKey = regexp.MustCompile(`Credential=([A-Z0-9]+)/`)

func (rec *recorder) handler(target string) http.Handler {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		key := "unsigned"
		if m := credentialKey.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
			key = m[1]
		}
		rec.mu.Lock()
		rec.forms = append(rec.forms, form)
		rec.keys = append(rec.keys, key)
		rec.mu.Unlock()
		rp.ServeHTTP(w, r)
	})
}

func (rec *recorder) seen() ([]url.Values, []string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]url.Values(nil), rec.forms...), append([]string(nil), rec.keys...)
}

func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

type e2e struct {
	t        *testing.T
	ctx      context.Context
	appURL   string
	sts, ddb *recorder
	dynamo   *testenv.DynamoDB
}

func startE2E(t *testing.T) *e2e {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	appURL := "http://" + ln.Addr().String()

	op, err := testenv.StartOIDC(ctx, testenv.OIDCConfig{Clients: []testenv.OIDCClient{{
		ID: clientID, RedirectURIs: []string{appURL + "/callback"}, PostLogoutRedirectURIs: []string{appURL + "/"},
	}}})
	require.NoError(t, err)
	t.Cleanup(func() { op.Stop() })
	m, err := testenv.StartMoto(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { m.Stop() })
	d, err := testenv.StartDynamoDB(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { d.Stop() })
	require.NoError(t, d.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String("items"),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
		},
	}))

	e := &e2e{t: t, ctx: ctx, appURL: appURL, sts: &recorder{}, ddb: &recorder{}, dynamo: d}
	for k, v := range map[string]string{
		"OIDC_ISSUER": op.Issuer, "OIDC_CLIENT_ID": clientID, "LISTEN_ADDR": ln.Addr().String(),
		"ROLE_ARN": roleARN, "DYNAMODB_TABLE_ARN": tableARN,
		"AWS_REGION":                m.Region,
		"AWS_ENDPOINT_URL_STS":      serve(t, e.sts.handler(m.Endpoint)),
		"AWS_ENDPOINT_URL_DYNAMODB": serve(t, e.ddb.handler(d.Endpoint)),
		// The server's own credentials, which only AssumeRole uses.
		"AWS_ACCESS_KEY_ID": "AKIASERVER", "AWS_SECRET_ACCESS_KEY": "server-secret", "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
	} {
		t.Setenv(k, v)
	}
	cfg, err := parseConfig(nil, os.Getenv)
	require.NoError(t, err)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.Default()
	}
	a, err := newApp(ctx, cfg, logger)
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- serveApp(ctx, ln, a, logger) }()
	t.Cleanup(func() {
		cancel()
		<-served
	})
	return e
}

// login signs user in through the provider's form in a new headless browser and returns
// the session cookie.
func (e *e2e) login(user string) *http.Cookie {
	e.t.Helper()
	bctx, cancel, err := browser.New(e.ctx)
	require.NoError(e.t, err)
	e.t.Cleanup(cancel)
	require.NoError(e.t, chromedp.Do(bctx, chromedp.Navigate(e.appURL+"/login?return_to=/")))
	require.NoError(e.t, browser.ProviderLogin(bctx, user))
	c, err := browser.SessionCookie(bctx, e.appURL)
	require.NoError(e.t, err)
	return c
}

func (e *e2e) call(method, path string, cookie *http.Cookie, form url.Values) (int, map[string]any) {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(e.ctx, method, e.appURL+path, body)
	require.NoError(e.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "application/json")
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		v = map[string]any{"body": string(b)}
	}
	return resp.StatusCode, v
}

func (e *e2e) csrf(cookie *http.Cookie) string {
	e.t.Helper()
	_, page := e.call("GET", "/", cookie, nil)
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(page["body"].(string))
	require.NotNil(e.t, m, "no CSRF token on the home page")
	return m[1]
}

func texts(v map[string]any) []string {
	var out []string
	items, _ := v["items"].([]any)
	for _, it := range items {
		out = append(out, it.(map[string]any)["text"].(string))
	}
	return out
}

func TestEndToEnd(t *testing.T) {
	e := startE2E(t)
	want, err := os.ReadFile(filepath.Join("testdata", "session_policy.json"))
	require.NoError(t, err)
	var wantPolicy bytes.Buffer
	require.NoError(t, json.Compact(&wantPolicy, want))

	status, _ := e.call("GET", "/items", nil, nil)
	assert.Equal(t, http.StatusUnauthorized, status, "signed out")

	users := []struct{ login, partition string }{
		{"alice", "alice"},
		{"carol/x", "carol=2Fx"}, // a sub with a '/' gets a partition of its own, not carol's
	}
	cookies := map[string]*http.Cookie{}
	for _, u := range users {
		t.Run(u.login, func(t *testing.T) {
			c := e.login(u.login)
			cookies[u.login] = c
			status, got := e.call("POST", "/items", c, url.Values{"text": {"no token"}})
			assert.Equal(t, http.StatusForbidden, status, got)

			token := e.csrf(c)
			for _, text := range []string{u.login + "'s first note", u.login + "'s second note"} {
				status, got := e.call("POST", "/items", c, url.Values{"text": {text}, "csrf_token": {token}})
				require.Equal(t, http.StatusCreated, status, got)
			}
			status, items := e.call("GET", "/items", c, nil)
			require.Equal(t, http.StatusOK, status, items)
			assert.Equal(t, u.partition, items["partition"])
			assert.Equal(t, []string{u.login + "'s first note", u.login + "'s second note"}, texts(items))
		})
	}

	t.Run("each user's items live under their escaped sub only", func(t *testing.T) {
		out, err := e.dynamo.Client().Scan(e.ctx, &dynamodb.ScanInput{TableName: aws.String("items")})
		require.NoError(t, err)
		byPartition := map[string]int{}
		for _, it := range out.Items {
			byPartition[it["pk"].(*types.AttributeValueMemberS).Value]++
		}
		assert.Equal(t, map[string]int{"alice": 2, "carol=2Fx": 2}, byPartition)
	})

	t.Run("AssumeRole: one per user, named, tagged, with the golden session policy", func(t *testing.T) {
		forms, keys := e.sts.seen()
		var assumed []url.Values
		for i, f := range forms {
			if f.Get("Action") == "AssumeRole" {
				assumed = append(assumed, f)
				assert.Equal(t, "AKIASERVER", keys[i], "AssumeRole is signed with the server's credentials")
			}
		}
		require.Len(t, assumed, len(users), "one AssumeRole per user: the credentials are cached")
		for i, u := range users {
			f := assumed[i]
			assert.Equal(t, roleARN, f.Get("RoleArn"))
			assert.Equal(t, awscreds.SanitizeRoleSessionName(u.login), f.Get("RoleSessionName"))
			assert.Equal(t, awscreds.SanitizeRoleSessionName(u.login), f.Get("SourceIdentity"))
			assert.Equal(t, "sub", f.Get("Tags.member.1.Key"))
			assert.Equal(t, u.partition, f.Get("Tags.member.1.Value"), "the tag ${aws:PrincipalTag/sub} resolves to")
			assert.Equal(t, "900", f.Get("DurationSeconds"))
			assert.Equal(t, wantPolicy.String(), f.Get("Policy"))
		}
	})

	t.Run("DynamoDB calls are signed with the users' temporary credentials", func(t *testing.T) {
		_, keys := e.ddb.seen()
		require.NotEmpty(t, keys)
		for _, k := range keys {
			assert.NotEqual(t, "AKIASERVER", k)
			assert.True(t, strings.HasPrefix(k, "ASIA"), "temporary credentials from AssumeRole, got %s", k)
		}
	})

	t.Run("the policy route shows the session policy", func(t *testing.T) {
		status, got := e.call("GET", "/policy", nil, nil)
		require.Equal(t, http.StatusOK, status)
		assert.Equal(t, "2012-10-17", got["Version"])
	})
}

func TestParseConfig(t *testing.T) {
	env := map[string]string{"OIDC_ISSUER": "https://op.example", "OIDC_CLIENT_ID": "c", "ROLE_ARN": roleARN, "DYNAMODB_TABLE_ARN": tableARN}
	cfg, err := parseConfig(nil, func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:8080/callback", cfg.RedirectURL)
	assert.Equal(t, 15*time.Minute, cfg.CredentialsDuration)
	_, err = parseConfig(nil, func(string) string { return "" })
	require.Error(t, err)
	for _, name := range []string{"OIDC_ISSUER", "OIDC_CLIENT_ID", "ROLE_ARN", "DYNAMODB_TABLE_ARN"} {
		assert.Contains(t, err.Error(), name)
	}
}
