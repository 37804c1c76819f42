package main

// End to end on real peers, all on loopback and started by internal/testenv (install them
// with scripts/deps.sh; `make test` does): node oidc-provider signs the users in through
// headless Chromium, moto server plays Cognito identity pools and Glue. A recording proxy in
// front of moto's Glue shows that each Glue call is SigV4-signed with the identity-pool
// credentials.

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentity"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/internal/testenv"
	"github.com/pubauth/awsauth/internal/testenv/browser"
)

const clientID = "glue-example"

// signingProxy forwards to moto and records the access key id of each request's SigV4
// signature (never the signature or the session token).
type signingProxy struct {
	mu   sync.Mutex
	keys []string
}

var credentialKey = regexp.MustCompile(`Credential=([A-Z0-9]+)/`)

func (p *signingProxy) handler(target string) http.Handler {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := "unsigned"
		if m := credentialKey.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
			key = m[1]
		}
		p.mu.Lock()
		p.keys = append(p.keys, key)
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	})
}

func (p *signingProxy) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.keys...)
}

type e2e struct {
	t      *testing.T
	ctx    context.Context
	appURL string
	moto   *testenv.Moto
	poolID string
	glue   *signingProxy
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

	// What an operator creates (examples/infra does it on AWS): the identity pool trusting
	// the provider, a Glue database and a job.
	admin := m.Config()
	pool, err := cognitoidentity.NewFromConfig(admin).CreateIdentityPool(ctx, &cognitoidentity.CreateIdentityPoolInput{
		IdentityPoolName:               aws.String("glue_example"),
		AllowUnauthenticatedIdentities: false,
		OpenIdConnectProviderARNs:      []string{"arn:aws:iam::123456789012:oidc-provider/" + strings.TrimPrefix(op.Issuer, "http://")},
	})
	require.NoError(t, err, m.Logs())
	g := glue.NewFromConfig(admin)
	_, err = g.CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &types.DatabaseInput{Name: aws.String("sales")}})
	require.NoError(t, err)
	_, err = g.CreateJob(ctx, &glue.CreateJobInput{
		Name:    aws.String("nightly-etl"),
		Role:    aws.String("arn:aws:iam::123456789012:role/glue-jobs"),
		Command: &types.JobCommand{Name: aws.String("glueetl"), ScriptLocation: aws.String("s3://scripts/etl.py")},
	})
	require.NoError(t, err)

	proxy := &signingProxy{}
	ps := &http.Server{Handler: proxy.handler(m.Endpoint), ReadHeaderTimeout: 5 * time.Second}
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go ps.Serve(pl)
	t.Cleanup(func() { ps.Close() })

	for k, v := range map[string]string{
		"OIDC_ISSUER": op.Issuer, "OIDC_CLIENT_ID": clientID, "LISTEN_ADDR": ln.Addr().String(),
		"IDENTITY_POOL_ID": aws.ToString(pool.IdentityPoolId),
		"AWS_REGION":       m.Region, "AWS_ENDPOINT_URL": m.Endpoint,
		"AWS_ENDPOINT_URL_GLUE": "http://" + pl.Addr().String(),
		// The app itself holds no AWS credentials: every Glue call is the user's.
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_PROFILE": "", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
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
	return &e2e{t: t, ctx: ctx, appURL: appURL, moto: m, poolID: aws.ToString(pool.IdentityPoolId), glue: proxy}
}

// login signs user in through the provider's form in a new headless browser and returns
// the session cookie.
func (e *e2e) login(user string) *http.Cookie {
	e.t.Helper()
	bctx, cancel, err := browser.New(e.ctx)
	require.NoError(e.t, err)
	e.t.Cleanup(cancel)
	require.NoError(e.t, chromedp.Do(bctx, chromedp.Navigate(e.appURL+"/login?return_to=/me")))
	require.NoError(e.t, browser.ProviderLogin(bctx, user))
	c, err := browser.SessionCookie(bctx, e.appURL)
	require.NoError(e.t, err)
	return c
}

// call makes a request as the user of cookie and decodes the JSON answer.
func (e *e2e) call(method, path string, cookie *http.Cookie, header map[string]string) (int, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, method, e.appURL+path, nil)
	require.NoError(e.t, err)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	var v map[string]any
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &v); err != nil {
		v = map[string]any{"body": string(body)}
	}
	return resp.StatusCode, v
}

func TestEndToEnd(t *testing.T) {
	e := startE2E(t)

	t.Run("signed out: no Glue call", func(t *testing.T) {
		status, _ := e.call("GET", "/databases", nil, nil)
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.Empty(t, e.glue.seen())
	})

	alice := e.login("alice")
	status, me := e.call("GET", "/me", alice, nil)
	require.Equal(t, http.StatusOK, status, me)
	assert.Equal(t, "alice", me["sub"])
	assert.Equal(t, "awscreds.IdentityPool", me["credentials_source"])
	identityID, _ := me["identity_id"].(string)
	assert.True(t, strings.HasPrefix(identityID, testenv.MotoRegion+":"), identityID)
	exp, err := time.Parse(time.RFC3339Nano, me["credentials_expires"].(string))
	require.NoError(t, err)
	// moto's 90 s credentials, as the UserCache's CredentialsCache reports them: due for renewal
	// 30-60 s (the jittered expiry window) before they expire.
	assert.WithinRange(t, exp, time.Now().Add(25*time.Second), time.Now().Add(61*time.Second))

	t.Run("GetDatabases and GetJobs with the user's credentials", func(t *testing.T) {
		status, dbs := e.call("GET", "/databases", alice, nil)
		require.Equal(t, http.StatusOK, status, dbs)
		assert.Equal(t, []any{"sales"}, dbs["databases"])
		status, jobs := e.call("GET", "/jobs", alice, nil)
		require.Equal(t, http.StatusOK, status, jobs)
		assert.Equal(t, []any{"nightly-etl"}, jobs["jobs"])
		// moto's identity-pool credentials carry the access key TESTACCESSKEY12345.
		assert.Equal(t, []string{"TESTACCESSKEY12345", "TESTACCESSKEY12345"}, e.glue.seen())
	})

	t.Run("StartJobRun needs the CSRF token", func(t *testing.T) {
		before := len(e.glue.seen())
		status, _ := e.call("POST", "/jobs/nightly-etl/run", alice, nil)
		assert.Equal(t, http.StatusForbidden, status)
		assert.Len(t, e.glue.seen(), before, "no Glue call without the token")

		status, run := e.call("POST", "/jobs/nightly-etl/run", alice, map[string]string{"X-CSRF-Token": e.csrf(alice)})
		require.Equal(t, http.StatusOK, status, run)
		runID, _ := run["job_run_id"].(string)
		require.NotEmpty(t, runID)
		out, err := glue.NewFromConfig(e.moto.Config()).GetJobRun(e.ctx, &glue.GetJobRunInput{JobName: aws.String("nightly-etl"), RunId: aws.String(runID)})
		require.NoError(t, err)
		assert.Equal(t, runID, aws.ToString(out.JobRun.Id), "Glue knows the run")

		status, missing := e.call("POST", "/jobs/no-such-job/run", alice, map[string]string{"X-CSRF-Token": e.csrf(alice)})
		assert.Equal(t, http.StatusNotFound, status, missing)
		assert.Equal(t, "EntityNotFoundException", missing["error"])
	})

	t.Run("a second user gets an identity of their own", func(t *testing.T) {
		bob := e.login("bob")
		status, me := e.call("GET", "/me", bob, nil)
		require.Equal(t, http.StatusOK, status, me)
		assert.Equal(t, "bob", me["sub"])
		assert.NotEqual(t, identityID, me["identity_id"])
		_, again := e.call("GET", "/me", alice, nil)
		assert.Equal(t, identityID, again["identity_id"], "alice keeps hers")
	})
}

// csrf asks the app for the session's CSRF token, as its home page renders it.
func (e *e2e) csrf(cookie *http.Cookie) string {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, "GET", e.appURL+"/", nil)
	require.NoError(e.t, err)
	req.AddCookie(cookie)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(body)
	require.NotNil(e.t, m, "no CSRF token on the home page")
	return string(m[1])
}

func TestParseConfig(t *testing.T) {
	env := map[string]string{"OIDC_ISSUER": "https://op.example", "OIDC_CLIENT_ID": "c", "IDENTITY_POOL_ID": "eu-west-1:x"}
	cfg, err := parseConfig(nil, func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:8080/callback", cfg.RedirectURL)
	_, err = parseConfig(nil, func(string) string { return "" })
	require.Error(t, err)
	for _, name := range []string{"OIDC_ISSUER", "OIDC_CLIENT_ID", "IDENTITY_POOL_ID"} {
		assert.Contains(t, err.Error(), name)
	}
	_, err = parseConfig([]string{"-cookie-key", "short"}, func(k string) string { return env[k] })
	assert.ErrorContains(t, err, "COOKIE_KEY")
}
