package mototest

import (
	"context"
	"encoding/base64"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentity"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/awscreds"
	"github.com/pubauth/awsauth/internal/testenv"
	"github.com/pubauth/awsauth/tokenstore"
)

const motoUserPoolIssuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AwsAuth1"

// startMoto starts a moto server for one test (about a second) and stops it when the test
// ends, failed or not.
func startMoto(t *testing.T) *testenv.Moto {
	t.Helper()
	m, err := testenv.StartMoto(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Stop(); err != nil {
			t.Errorf("stop moto: %v", err)
		}
	})
	return m
}

// countingCognito is the real client, counting the calls it makes.
type countingCognito struct {
	*cognitoidentity.Client
	getID, getCreds, getOpenID, getDev atomic.Int32
}

func (c *countingCognito) GetId(ctx context.Context, in *cognitoidentity.GetIdInput, o ...func(*cognitoidentity.Options)) (*cognitoidentity.GetIdOutput, error) {
	c.getID.Add(1)
	return c.Client.GetId(ctx, in, o...)
}

func (c *countingCognito) GetCredentialsForIdentity(ctx context.Context, in *cognitoidentity.GetCredentialsForIdentityInput, o ...func(*cognitoidentity.Options)) (*cognitoidentity.GetCredentialsForIdentityOutput, error) {
	c.getCreds.Add(1)
	return c.Client.GetCredentialsForIdentity(ctx, in, o...)
}

func (c *countingCognito) GetOpenIdToken(ctx context.Context, in *cognitoidentity.GetOpenIdTokenInput, o ...func(*cognitoidentity.Options)) (*cognitoidentity.GetOpenIdTokenOutput, error) {
	c.getOpenID.Add(1)
	return c.Client.GetOpenIdToken(ctx, in, o...)
}

func (c *countingCognito) GetOpenIdTokenForDeveloperIdentity(ctx context.Context, in *cognitoidentity.GetOpenIdTokenForDeveloperIdentityInput, o ...func(*cognitoidentity.Options)) (*cognitoidentity.GetOpenIdTokenForDeveloperIdentityOutput, error) {
	c.getDev.Add(1)
	return c.Client.GetOpenIdTokenForDeveloperIdentity(ctx, in, o...)
}

type motoPool struct {
	moto   *testenv.Moto
	poolID string
	// cognito is unsigned, as a browser-facing app would use it; dev is signed with the
	// server's (test) credentials.
	cognito *countingCognito
	sts     *sts.Client
}

func newMotoPool(t *testing.T) *motoPool {
	t.Helper()
	m := startMoto(t)
	cfg := m.Config()
	admin := cognitoidentity.NewFromConfig(cfg)
	out, err := admin.CreateIdentityPool(t.Context(), &cognitoidentity.CreateIdentityPoolInput{
		IdentityPoolName:               aws.String("awscreds_" + strings.ReplaceAll(t.Name(), "/", "_")),
		AllowUnauthenticatedIdentities: true,
		AllowClassicFlow:               aws.Bool(true),
		DeveloperProviderName:          aws.String("login.awsauth.test"),
		SupportedLoginProviders:        map[string]string{},
	})
	require.NoError(t, err, m.Logs())
	anon := cfg.Copy()
	anon.Credentials = aws.AnonymousCredentials{}
	return &motoPool{
		moto:    m,
		poolID:  aws.ToString(out.IdentityPoolId),
		cognito: &countingCognito{Client: cognitoidentity.NewFromConfig(anon)},
		sts:     sts.NewFromConfig(anon),
	}
}

// callerARN asks moto's STS who the credentials belong to.
func (mp *motoPool) callerARN(t *testing.T, creds aws.Credentials) string {
	t.Helper()
	cfg := mp.moto.Config()
	cfg.Credentials = credentials.StaticCredentialsProvider{Value: creds}
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	return aws.ToString(out.Arn)
}

func staticLogins(provider, token string) awscreds.LoginsFunc {
	return func(context.Context) (map[string]string, error) { return map[string]string{provider: token}, nil }
}

func assertMotoExpiry(t *testing.T, creds aws.Credentials, before time.Time) {
	t.Helper()
	assert.True(t, creds.CanExpire)
	// moto's cognito-identity credentials live 90 s; a second either side for rounding.
	assert.WithinRange(t, creds.Expires, before.Add(89*time.Second), time.Now().Add(91*time.Second))
}

func TestIdentityPoolMotoEnhancedFlow(t *testing.T) {
	mp := newMotoPool(t)
	token := fakeJWT(`{"iss":"` + motoUserPoolIssuer + `","sub":"alice"}`)
	p := awscreds.NewIdentityPool(mp.cognito, mp.poolID, func(o *awscreds.IdentityPoolOptions) {
		o.Logins = awscreds.CognitoLogins("", func(context.Context) (string, error) { return token, nil })
	})
	before := time.Now()
	creds, err := p.Retrieve(t.Context())
	require.NoError(t, err, mp.moto.Logs())
	assert.True(t, creds.HasKeys())
	assert.Equal(t, awscreds.IdentityPoolProviderName, creds.Source)
	assertMotoExpiry(t, creds, before)

	id, err := p.IdentityID(t.Context())
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(id, testenv.MotoRegion+":"), id)
	_, err = p.Retrieve(t.Context())
	require.NoError(t, err)
	assert.Equal(t, int32(1), mp.cognito.getID.Load(), "GetId once for the user")
	assert.Equal(t, int32(2), mp.cognito.getCreds.Load(), "one GetCredentialsForIdentity per Retrieve")
}

func TestIdentityPoolMotoBasicFlow(t *testing.T) {
	mp := newMotoPool(t)
	token := fakeJWT(`{"iss":"` + motoUserPoolIssuer + `","sub":"auth0|alice"}`)
	p := awscreds.NewIdentityPool(mp.cognito, mp.poolID, func(o *awscreds.IdentityPoolOptions) {
		o.Logins = awscreds.CognitoLogins(motoUserPoolIssuer, func(context.Context) (string, error) { return token, nil })
		o.BasicFlow = &awscreds.BasicFlowOptions{
			RoleARN:            "arn:aws:iam::123456789012:role/basic-flow",
			STS:                mp.sts,
			WebIdentitySession: awscreds.WebIdentitySession{Duration: 15 * time.Minute},
		}
	})
	before := time.Now()
	creds, err := p.Retrieve(t.Context())
	require.NoError(t, err, mp.moto.Logs())
	assert.WithinRange(t, creds.Expires, before.Add(15*time.Minute-time.Second), time.Now().Add(15*time.Minute+time.Second))
	assert.Equal(t, "123456789012", creds.AccountID)
	// The session is named after the user (sanitized), as moto's STS remembers it.
	assert.Equal(t, "arn:aws:sts::123456789012:assumed-role/basic-flow/"+awscreds.SanitizeRoleSessionName("auth0|alice"), mp.callerARN(t, creds))
	assert.Equal(t, int32(1), mp.cognito.getID.Load())
	assert.Equal(t, int32(1), mp.cognito.getOpenID.Load())
	assert.Equal(t, int32(0), mp.cognito.getCreds.Load())
}

func TestIdentityPoolMotoGuest(t *testing.T) {
	for _, flow := range []string{"enhanced", "basic"} {
		t.Run(flow, func(t *testing.T) {
			mp := newMotoPool(t)
			p := awscreds.NewIdentityPool(mp.cognito, mp.poolID, func(o *awscreds.IdentityPoolOptions) {
				if flow == "basic" {
					o.BasicFlow = &awscreds.BasicFlowOptions{RoleARN: "arn:aws:iam::123456789012:role/guests", STS: mp.sts}
				}
			})
			creds, err := p.Retrieve(t.Context())
			require.NoError(t, err, mp.moto.Logs())
			assert.True(t, creds.HasKeys())
			id, err := p.IdentityID(t.Context())
			require.NoError(t, err)
			_, err = p.Retrieve(t.Context())
			require.NoError(t, err)
			assert.Equal(t, int32(1), mp.cognito.getID.Load(), "a guest keeps its identity id in memory")

			// A guest identity id kept elsewhere (a cookie) resumes without GetId.
			again := awscreds.NewIdentityPool(mp.cognito, mp.poolID, func(o *awscreds.IdentityPoolOptions) {
				o.IdentityID = id
				if flow == "basic" {
					o.BasicFlow = &awscreds.BasicFlowOptions{RoleARN: "arn:aws:iam::123456789012:role/guests", STS: mp.sts}
				}
			})
			_, err = again.Retrieve(t.Context())
			require.NoError(t, err)
			got, err := again.IdentityID(t.Context())
			require.NoError(t, err)
			assert.Equal(t, id, got)
			assert.Equal(t, int32(1), mp.cognito.getID.Load())
		})
	}
}

func TestIdentityPoolMotoDeveloperAuthenticated(t *testing.T) {
	for _, flow := range []string{"enhanced", "basic"} {
		t.Run(flow, func(t *testing.T) {
			mp := newMotoPool(t)
			dev := &countingCognito{Client: cognitoidentity.NewFromConfig(mp.moto.Config())} // signed
			store := tokenstore.NewMemory()
			newProvider := func() *awscreds.IdentityPool {
				return awscreds.NewIdentityPool(mp.cognito, mp.poolID, func(o *awscreds.IdentityPoolOptions) {
					o.Developer = &awscreds.DeveloperIdentity{
						Client:         dev,
						ProviderName:   "login.awsauth.test",
						UserIdentifier: "user-42",
						TokenDuration:  time.Hour,
					}
					o.Store = store
					if flow == "basic" {
						o.BasicFlow = &awscreds.BasicFlowOptions{RoleARN: "arn:aws:iam::123456789012:role/developer", STS: mp.sts}
					}
				})
			}
			creds, err := newProvider().Retrieve(t.Context())
			require.NoError(t, err, mp.moto.Logs())
			assert.True(t, creds.HasKeys())
			if flow == "basic" {
				assert.Equal(t, "arn:aws:sts::123456789012:assumed-role/developer/user-42", mp.callerARN(t, creds))
			} else {
				assert.Equal(t, int32(1), mp.cognito.getCreds.Load())
			}
			_, err = newProvider().Retrieve(t.Context())
			require.NoError(t, err)
			assert.Equal(t, int32(2), dev.getDev.Load(), "one developer token per retrieval")
			assert.Equal(t, int32(0), mp.cognito.getID.Load(), "no GetId for a developer identity")
		})
	}
}

// The identity id survives a process restart: a new client and a new provider over the same
// store find it, and GetId runs once for the user in all.
func TestIdentityPoolMotoIdentityIDSurvivesRestart(t *testing.T) {
	mp := newMotoPool(t)
	store := tokenstore.NewMemory() // stands for a shared store (Redis, SQL, DynamoDB)
	token := fakeJWT(`{"iss":"` + motoUserPoolIssuer + `","sub":"alice"}`)
	boot := func() (*awscreds.IdentityPool, *countingCognito) {
		anon := mp.moto.Config()
		anon.Credentials = aws.AnonymousCredentials{}
		c := &countingCognito{Client: cognitoidentity.NewFromConfig(anon)}
		return awscreds.NewIdentityPool(c, mp.poolID, func(o *awscreds.IdentityPoolOptions) {
			o.Logins = staticLogins("cognito-idp.us-east-1.amazonaws.com/us-east-1_AwsAuth1", token)
			o.Store = store
		}), c
	}
	first, c1 := boot()
	_, err := first.Retrieve(t.Context())
	require.NoError(t, err, mp.moto.Logs())
	id1, err := first.IdentityID(t.Context())
	require.NoError(t, err)

	second, c2 := boot()
	_, err = second.Retrieve(t.Context())
	require.NoError(t, err)
	id2, err := second.IdentityID(t.Context())
	require.NoError(t, err)
	assert.Equal(t, id1, id2)
	assert.Equal(t, int32(1), c1.getID.Load())
	assert.Equal(t, int32(0), c2.getID.Load(), "the restarted process found the identity id in the store")

	// Another user of the same pool is another key.
	other := awscreds.NewIdentityPool(c2, mp.poolID, func(o *awscreds.IdentityPoolOptions) {
		o.Logins = staticLogins("cognito-idp.us-east-1.amazonaws.com/us-east-1_AwsAuth1", fakeJWT(`{"sub":"bob"}`))
		o.Store = store
	})
	idBob, err := other.IdentityID(t.Context())
	require.NoError(t, err)
	assert.NotEqual(t, id1, idBob)
	assert.Equal(t, int32(1), c2.getID.Load())
}

// Under aws.CredentialsCache the credentials renew before moto's 90-second expiry, with no
// failed call. An ExpiryWindow of 90 s makes every credential set due for renewal as soon as
// it is issued, so the test sees renewals without waiting; each set used must still have
// most of its 90 s real life left when it is handed out.
func TestIdentityPoolMotoRenewsBeforeExpiry(t *testing.T) {
	mp := newMotoPool(t)
	token := fakeJWT(`{"iss":"` + motoUserPoolIssuer + `","sub":"alice"}`)
	p := awscreds.NewIdentityPool(mp.cognito, mp.poolID, func(o *awscreds.IdentityPoolOptions) {
		o.Logins = awscreds.CognitoLogins(motoUserPoolIssuer, func(context.Context) (string, error) { return token, nil })
	})
	cache := aws.NewCredentialsCache(p, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = 90 * time.Second })

	const rounds = 5
	for i := range rounds {
		creds, err := cache.Retrieve(t.Context())
		require.NoError(t, err, "round %d", i)
		real := creds.Expires.Add(90 * time.Second) // the cache moved it back by the window
		assert.Greater(t, time.Until(real), 80*time.Second, "round %d: handed out with most of its life left", i)
		// The credentials work: moto's STS knows nothing of cognito-identity keys, but it
		// answers a signed call; a failed signature or missing keys would fail here.
		assert.NotEmpty(t, mp.callerARN(t, creds))
	}
	assert.Equal(t, int32(rounds), mp.cognito.getCreds.Load(), "every round renewed")

	// Concurrent signed calls across renewals: none fails.
	cfg := mp.moto.Config()
	cfg.Credentials = cache
	client := sts.NewFromConfig(cfg)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 4 {
		wg.Go(func() {
			for range 5 {
				if _, err := client.GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{}); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	assert.Zero(t, failed.Load(), "failed calls across renewals")
	assert.Greater(t, mp.cognito.getCreds.Load(), int32(rounds+1), "the concurrent calls renewed too")
	assert.Equal(t, int32(1), mp.cognito.getID.Load())

	// With a production window the cache keeps them, and renews a minute before expiry.
	before := mp.cognito.getCreds.Load()
	prod := aws.NewCredentialsCache(p, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = time.Minute })
	first, err := prod.Retrieve(t.Context())
	require.NoError(t, err)
	second, err := prod.Retrieve(t.Context())
	require.NoError(t, err)
	assert.Equal(t, first.Expires, second.Expires)
	assert.Equal(t, before+1, mp.cognito.getCreds.Load())
	assert.WithinRange(t, first.Expires, time.Now().Add(25*time.Second), time.Now().Add(31*time.Second),
		"renewal due 60 s before the 90 s expiry")
}

// Against moto's STS: the session is named after the user, and the credentials work.
func TestAssumeRoleMoto(t *testing.T) {
	m := startMoto(t)
	client := sts.NewFromConfig(m.Config())
	p := awscreds.NewAssumeRole(client, "arn:aws:iam::123456789012:role/items", awscreds.VerifiedClaims{"sub": "auth0|alice"}, func(o *awscreds.AssumeRoleOptions) {
		o.Duration = time.Hour
		o.TagClaims = map[string]string{"sub": "sub"}
		o.SourceIdentityClaim = "sub"
	})
	cache := aws.NewCredentialsCache(p, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = time.Minute })
	before := time.Now()
	creds, err := cache.Retrieve(t.Context())
	require.NoError(t, err, m.Logs())
	assert.WithinRange(t, creds.Expires, before.Add(59*time.Minute-time.Second), time.Now().Add(59*time.Minute+time.Second),
		"an hour, less the cache's one-minute window")
	cfg := m.Config()
	cfg.Credentials = cache
	who, err := sts.NewFromConfig(cfg).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	assert.Equal(t, "arn:aws:sts::123456789012:assumed-role/items/"+awscreds.SanitizeRoleSessionName("auth0|alice"), aws.ToString(who.Arn))
}

// fakeJWT builds an unsigned compact JWS around payload: moto verifies no token, and awscreds
// only reads iss and sub.
func fakeJWT(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","kid":"k1"}`)) + "." + enc([]byte(payload)) + "." + enc([]byte("signature-bytes-that-are-long"))
}
