package authflow

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testPoolID         = "eu-west-1_AbC123"
	testOriginalIss    = "https://cognito-idp.eu-west-1.amazonaws.com/" + testPoolID
	testUpdatedIss     = "https://issuer-cognito-idp.eu-west-1.amazonaws.com/" + testPoolID
	testReplicaIss     = "https://cognito-idp.us-east-1.amazonaws.com/" + testPoolID
	testUpdatedReplica = "https://issuer-cognito-idp.us-east-1.amazonaws.com/" + testPoolID
)

func TestCognitoHelpers(t *testing.T) {
	for _, tt := range []struct {
		pool CognitoPool
		want string
	}{
		{CognitoPool{ID: testPoolID}, testOriginalIss},
		{CognitoPool{ID: testPoolID, IssuerType: "ORIGINAL"}, testOriginalIss},
		{CognitoPool{ID: testPoolID, IssuerType: "UPDATED"}, testUpdatedIss},
		{CognitoPool{ID: testPoolID, Region: "us-east-1"}, testReplicaIss},
		{CognitoPool{ID: "us-gov-west-1_x9"}, "https://cognito-idp.us-gov-west-1.amazonaws.com/us-gov-west-1_x9"},
	} {
		iss, err := CognitoIssuer(tt.pool)
		require.NoError(t, err)
		assert.Equal(t, tt.want, iss)
	}
	for _, bad := range []CognitoPool{
		{}, {ID: "eu-west-1"}, {ID: "_abc"}, {ID: "eu-west-1_"}, {ID: "evil.com/eu-west-1_x"},
		{ID: testPoolID, IssuerType: "updated"},
		{ID: testPoolID, IssuerType: "UPDATED", Region: "us-east-1"}, // UPDATED names the primary only
		{ID: testPoolID, Region: "us-east-1.evil.example"},
	} {
		_, err := CognitoIssuer(bad)
		assert.Error(t, err, "%+v", bad)
	}
	c := &Cognito{Domain: "auth.example.com"}
	assert.Equal(t, "https://auth.example.com/oauth2/revoke", c.RevocationEndpoint())
}

// cognitoDiscovery stands in for AWS: discovery of the user pool issuer iss
// (<iss>/.well-known/openid-configuration) is served by the test OP; any
// other request to an AWS host fails the test.
type cognitoDiscovery struct {
	t   *testing.T
	iss string
	op  *testOP
}

func (c cognitoDiscovery) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(r.URL.Hostname(), ".amazonaws.com") {
		return http.DefaultTransport.RoundTrip(r)
	}
	if r.URL.String() != c.iss+"/.well-known/openid-configuration" {
		c.t.Errorf("unexpected request to %s", r.URL)
		return nil, errors.New("no route")
	}
	u, _ := url.Parse(c.op.issuer() + "/.well-known/openid-configuration")
	r = r.Clone(r.Context())
	r.URL, r.Host = u, u.Host
	return http.DefaultTransport.RoundTrip(r)
}

// cognitoLoginApp is an app whose login flow is configured for pool; the
// test OP answers as that pool, and its ID tokens carry tokenIss.
func cognitoLoginApp(t *testing.T, pool CognitoPool, tokenIss string) *testApp {
	t.Helper()
	iss, err := CognitoIssuer(pool)
	require.NoError(t, err)
	op := newTestOP(t)
	op.issParam = false // Cognito sends no RFC 9207 iss
	op.discoveryMod = func(d map[string]any) { d["issuer"] = iss }
	op.idClaimsMod = func(c map[string]any, refresh bool) { c["iss"] = tokenIss }
	return newTestApp(t, op, func(c *Config) {
		c.Issuer = iss
		c.HTTPClient = &http.Client{Transport: cognitoDiscovery{t: t, iss: iss, op: op}}
	})
}

// TestLoginCognitoIssuerFormats: the login flow signs users in with ID tokens
// of the configured issuer type, and refuses any other issuer, lookalikes of
// it included, at the callback: nothing stored, no session.
func TestLoginCognitoIssuerFormats(t *testing.T) {
	original := CognitoPool{ID: testPoolID}
	updated := CognitoPool{ID: testPoolID, IssuerType: "UPDATED"}
	replica := CognitoPool{ID: testPoolID, Region: "us-east-1"}
	for _, tt := range []struct {
		name     string
		pool     CognitoPool
		tokenIss string
	}{
		{"original", original, testOriginalIss},
		{"updated", updated, testUpdatedIss},
		{"a replica's original", replica, testReplicaIss},
	} {
		t.Run(tt.name, func(t *testing.T) {
			app := cognitoLoginApp(t, tt.pool, tt.tokenIss)
			c := app.browser()
			assert.Equal(t, "/", app.login(c, "/"))
			status, _ := app.me(c)
			assert.Equal(t, http.StatusOK, status)
		})
	}

	for _, tt := range []struct {
		name     string
		pool     CognitoPool
		tokenIss string
	}{
		{"original where updated is configured", updated, testOriginalIss},
		{"updated where original is configured", original, testUpdatedIss},
		{"a replica where not configured", original, testReplicaIss},
		{"a replica where updated is configured", updated, testReplicaIss},
		{"updated naming a replica's Region", updated, testUpdatedReplica},
		{"an extra label", updated, "https://issuer-cognito-idp.x.eu-west-1.amazonaws.com/" + testPoolID},
		{"a trailing slash", updated, testUpdatedIss + "/"},
		{"another case", updated, "https://Issuer-Cognito-Idp.eu-west-1.amazonaws.com/" + testPoolID},
		{"user info", updated, "https://user@issuer-cognito-idp.eu-west-1.amazonaws.com/" + testPoolID},
		{"a pool id of another Region", updated, "https://issuer-cognito-idp.eu-west-1.amazonaws.com/us-east-1_AbC123"},
		{"another pool", original, "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC124"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			app := cognitoLoginApp(t, tt.pool, tt.tokenIss)
			c := app.browser()
			resp := app.get(c, app.startLogin(c, "/"))
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "logs:\n%s", app.logs)
			assert.Zero(t, app.store.sets.Load(), "nothing stored")
			assert.Nil(t, app.sessionCookie(c))
		})
	}
}

// TestNewRefusesCognitoLookalikes: an Issuer naming cognito-idp must be a
// user pool issuer exactly; New refuses a lookalike before any request.
func TestNewRefusesCognitoLookalikes(t *testing.T) {
	for _, iss := range []string{
		"https://issuer-cognito-idp.x.eu-west-1.amazonaws.com/" + testPoolID,
		testUpdatedIss + "/",
		testOriginalIss + "/",
		"https://ISSUER-COGNITO-IDP.eu-west-1.amazonaws.com/" + testPoolID,
		"https://issuer-cognito-idp.eu-west-1.amazonaws.com/EU-west-1_AbC123",
		testUpdatedReplica,
		"https://issuer-cognito-idp.eu-west-1.amazonaws.com/us-east-1_AbC123",
		"https://issuer-cognito-idp.eu-west-1.amazonaws.com.evil.example/" + testPoolID,
		"https://user@issuer-cognito-idp.eu-west-1.amazonaws.com/" + testPoolID,
	} {
		op := newTestOP(t)
		_, err := startTestApp(t, op, func(c *Config) {
			c.Issuer = iss
			c.HTTPClient = &http.Client{Transport: cognitoDiscovery{t: t, op: op}}
		})
		if assert.Error(t, err, iss) {
			assert.Contains(t, err.Error(), "authflow: invalid config", iss)
		}
	}
}
