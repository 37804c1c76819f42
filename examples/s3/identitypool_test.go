package main

// The identity-pool mode end to end: a real login at node oidc-provider, then
// moto server as Cognito identity (GetId, GetOpenIdToken), STS
// (AssumeRoleWithWebIdentity) and S3, in headless Chromium. moto enforces no
// IAM policy (MinIO's tests show the refusals); what this shows is the
// wiring the infra stack relies on: the Logins, one GetId per user across
// sessions, the identity id as the prefix, and the basic flow's role.

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentity"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/authflow"
	"github.com/pubauth/awsauth/awscreds"
	"github.com/pubauth/awsauth/internal/testenv"
)

// countingCognito counts the identity pool calls and checks their Logins.
type countingCognito struct {
	awscreds.IdentityPoolAPIClient
	getID, getOpenID atomic.Int64
	loginsKeys       atomic.Value // []string of the last GetOpenIdToken
}

func (c *countingCognito) GetId(ctx context.Context, in *cognitoidentity.GetIdInput, o ...func(*cognitoidentity.Options)) (*cognitoidentity.GetIdOutput, error) {
	c.getID.Add(1)
	return c.IdentityPoolAPIClient.GetId(ctx, in, o...)
}

func (c *countingCognito) GetOpenIdToken(ctx context.Context, in *cognitoidentity.GetOpenIdTokenInput, o ...func(*cognitoidentity.Options)) (*cognitoidentity.GetOpenIdTokenOutput, error) {
	c.getOpenID.Add(1)
	var keys []string
	for k := range in.Logins {
		keys = append(keys, k)
	}
	c.loginsKeys.Store(keys)
	return c.IdentityPoolAPIClient.GetOpenIdToken(ctx, in, o...)
}

const motoRoleARN = "arn:aws:iam::123456789012:role/s3-files"

func TestIdentityPoolMode(t *testing.T) {
	e, ln := newE2E(t)
	op, err := testenv.StartOIDC(e.ctx, testenv.OIDCConfig{Clients: []testenv.OIDCClient{{
		ID:                     "files",
		RedirectURIs:           []string{e.appURL + "/callback"},
		PostLogoutRedirectURIs: []string{e.appURL + "/"},
	}}})
	require.NoError(t, err)
	t.Cleanup(func() { op.Stop() })
	moto, err := testenv.StartMoto(e.ctx)
	require.NoError(t, err)
	t.Cleanup(func() { moto.Stop() })

	admin := moto.Config()
	pool, err := cognitoidentity.NewFromConfig(admin).CreateIdentityPool(e.ctx, &cognitoidentity.CreateIdentityPoolInput{
		IdentityPoolName:               aws.String("files"),
		AllowUnauthenticatedIdentities: false,
		AllowClassicFlow:               aws.Bool(true),
	})
	require.NoError(t, err, moto.Logs())
	e.bucket = "files"
	e.root = s3.NewFromConfig(admin, func(o *s3.Options) { o.UsePathStyle = true })
	_, err = e.root.CreateBucket(e.ctx, &s3.CreateBucketInput{Bucket: aws.String(e.bucket)})
	require.NoError(t, err, moto.Logs())

	cognito := &countingCognito{}
	e.startApp(ln, []string{
		"OIDC_ISSUER=" + op.Issuer,
		"OIDC_CLIENT_ID=files",
		"LISTEN_ADDR=" + ln.Addr().String(),
		"IDENTITY_POOL_ID=" + aws.ToString(pool.IdentityPoolId),
		"ROLE_ARN=" + motoRoleARN,
		"S3_BUCKET=" + e.bucket,
		"S3_PATH_STYLE=true",
		"AWS_REGION=" + moto.Region,
		"AWS_ENDPOINT_URL=" + moto.Endpoint,
	}, func(c *config) {
		c.wrapCognito = func(next awscreds.IdentityPoolAPIClient) awscreds.IdentityPoolAPIClient {
			cognito.IdentityPoolAPIClient = next
			return cognito
		}
	})

	first := e.newBrowser()
	files := e.login(first, "/files", "alice")
	prefix, _ := files["prefix"].(string)
	require.True(t, strings.HasPrefix(prefix, moto.Region+":") && strings.HasSuffix(prefix, "/"), "the prefix is the identity id: %v", files)
	identityID := strings.TrimSuffix(prefix, "/")
	assert.Empty(t, files["files"])
	assert.Equal(t, int64(1), cognito.getID.Load())
	assert.Equal(t, int64(1), cognito.getOpenID.Load())
	issuerKey := strings.TrimPrefix(op.Issuer, "http://")
	assert.Equal(t, []string{issuerKey}, cognito.loginsKeys.Load(), "Logins key: the issuer without its scheme")
	assert.Equal(t, int64(1), e.sts.calls.Load(), "the identity pool's token goes to STS (basic flow)")

	sid := e.sessionID(first)
	creds, err := e.app.credentials(&authflow.Session{ID: sid}).Retrieve(e.ctx)
	require.NoError(t, err)
	who, err := sts.NewFromConfig(admin, func(o *sts.Options) {
		o.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })
	}).
		GetCallerIdentity(e.ctx, &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	assert.Equal(t, "arn:aws:sts::123456789012:assumed-role/s3-files/"+awscreds.SanitizeRoleSessionName("alice"), aws.ToString(who.Arn),
		"the role of ROLE_ARN, in a session named after the user")

	csrf := e.csrfToken(first)
	body, ct := uploadForm(t, map[string]string{"csrf_token": csrf}, "hello.txt", []byte("hi"))
	r := e.do(http.MethodPost, "/files", sid, body, map[string]string{"Content-Type": ct})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	assert.Equal(t, identityID+"/hello.txt", r.json(t)["key"])
	assert.Equal(t, []string{identityID + "/hello.txt"}, e.bucketKeys())
	assert.Equal(t, []byte("hi"), e.do(http.MethodGet, "/files/hello.txt", sid, nil, nil).body)

	// A second session of the same user (another browser) finds the same
	// identity, and its files, without another GetId.
	second := e.newBrowser()
	files = e.login(second, "/files", "alice")
	assert.NotEqual(t, sid, e.sessionID(second))
	assert.Equal(t, prefix, files["prefix"])
	assert.Equal(t, []string{identityID + "/hello.txt"}, fileKeys(files))
	assert.Equal(t, int64(1), cognito.getID.Load(), "GetId once per user, not per session")

	// Another user gets another identity.
	require.NoError(t, chromedp.Do(second, chromedp.Navigate(e.appURL+"/"), chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("login"))))
	files = e.login(e.newBrowser(), "/files", "bob")
	assert.NotEqual(t, prefix, files["prefix"], "bob's identity is not alice's")
	assert.Equal(t, int64(2), cognito.getID.Load())
}
