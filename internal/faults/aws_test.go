package faults

// moto's Cognito Identity and STS under faults, as awscreds providers wrapped
// in aws.CredentialsCache see them. Expected behaviour, written first:
// EXPECTED_provider.md.

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentity"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/awscreds"
	"github.com/pubauth/awsauth/internal/testenv"
	"github.com/pubauth/awsauth/internal/testenv/toxi"
)

func startMoto(t *testing.T) (*testenv.Moto, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	m, err := testenv.StartMoto(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { m.Stop() })
	out, err := cognitoidentity.NewFromConfig(m.Config()).CreateIdentityPool(ctx, &cognitoidentity.CreateIdentityPoolInput{
		IdentityPoolName:               aws.String("faults"),
		AllowUnauthenticatedIdentities: false,
		SupportedLoginProviders:        map[string]string{},
	})
	require.NoError(t, err, m.Logs())
	return m, aws.ToString(out.IdentityPoolId)
}

// awsPeer builds, for one cell, a credentials cache over a provider whose
// AWS clients reach moto through their own toxi proxy.
type awsPeer struct {
	proxy *toxi.Proxy
	logs  *syncBuf
	// newCache returns a new provider in aws.CredentialsCache, as the
	// examples wire them (ExpiryWindow the credentials' lifetime here: every
	// Retrieve refreshes while the last credentials are valid).
	newCache func() *aws.CredentialsCache
}

func newAWSPeer(t *testing.T, m *testenv.Moto, poolID, peer string) *awsPeer {
	t.Helper()
	u, err := url.Parse(m.Endpoint)
	require.NoError(t, err)
	client, proxy := proxied(t, "moto-"+t.Name(), u.Host, 0)
	cfg := m.Config()
	cfg.HTTPClient = client
	cfg.Retryer = nil // the SDK's standard retryer, as the examples have it
	ap := &awsPeer{proxy: proxy, logs: &syncBuf{}}
	logger := slog.New(slog.NewTextHandler(ap.logs, nil))
	// The credentials' lifetime as the window: every Retrieve refreshes
	// while the last credentials are valid.
	window := 90 * time.Second // moto's Cognito credentials
	if peer == "sts" {
		window = stsDuration
	}
	wrap := func(p aws.CredentialsProvider) *aws.CredentialsCache {
		return aws.NewCredentialsCache(p, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = window })
	}
	switch peer {
	case "cognito":
		anon := cfg.Copy()
		anon.Credentials = aws.AnonymousCredentials{}
		enc := base64.RawURLEncoding.EncodeToString // a JWT-shaped token: moto checks no Logins
		token := enc([]byte(`{"alg":"RS256","kid":"k1"}`)) + "." +
			enc([]byte(`{"iss":"https://cognito-idp.us-east-1.amazonaws.com/us-east-1_faults","sub":"alice"}`)) + "." + enc([]byte("signature-bytes"))
		ids := cognitoidentity.NewFromConfig(anon)
		ap.newCache = func() *aws.CredentialsCache {
			return wrap(awscreds.NewIdentityPool(ids, poolID, func(o *awscreds.IdentityPoolOptions) {
				o.Logins = awscreds.CognitoLogins("", func(context.Context) (string, error) { return token, nil })
				o.Timeout, o.Logger = awsTimeout, logger
			}))
		}
	case "sts":
		c := sts.NewFromConfig(cfg)
		ap.newCache = func() *aws.CredentialsCache {
			return wrap(awscreds.NewAssumeRole(c, "arn:aws:iam::000000000000:role/faults", awscreds.VerifiedClaims{"sub": "alice"},
				func(o *awscreds.AssumeRoleOptions) { o.Timeout, o.Logger, o.Duration = awsTimeout, logger, stsDuration }))
		}
	}
	return ap
}

const rideOutLog = "serving the previous credentials"

// stsDuration is the AssumeRole credentials' lifetime (DurationSeconds).
const stsDuration = 15 * time.Minute

// TestPeerFaults runs the provider's and moto's cells as subtests, all at
// once (they wait on timeouts and latencies, not on the CPU, so -parallel's
// GOMAXPROCS bound would only serialize them): the wall time is about the
// slowest cell's. Then it checks that no goroutine outlived them.
func TestPeerFaults(t *testing.T) {
	noGoroutineLeak(t, 10)
	var wg sync.WaitGroup
	run := func(name string, f func(*testing.T)) { wg.Go(func() { t.Run(name, f) }) }
	providerCells(t, run)
	awsCells(t, run)
	wg.Wait()
}

// awsCells runs moto's cells as subtests of t, all at once (run).
func awsCells(t *testing.T, run func(string, func(*testing.T))) {
	m, poolID := startMoto(t)

	for _, peer := range []string{"cognito", "sts"} {
		run(peer+"/latency_2s", func(t *testing.T) {
			ap := newAWSPeer(t, m, poolID, peer)
			cache := ap.newCache()
			_, err := cache.Retrieve(t.Context()) // GetId (cognito) before the fault
			require.NoError(t, err)
			inject(t, ap.proxy, toxi.Latency(latency2s))
			var creds aws.Credentials
			took := timed(func() { creds, err = cache.Retrieve(t.Context()) })
			require.NoError(t, err)
			assert.True(t, creds.HasKeys())
			assert.Greater(t, took, 2*latency2s-time.Second)
			assert.Less(t, took, awsTimeout)
			assert.NotContains(t, ap.logs.String(), rideOutLog, "new credentials, not ridden out")
		})

		// transient: valid credentials ridden out; none: a clear error within
		// the provider's Timeout; recovery after Heal.
		transient := func(f toxi.Fault, maxTime time.Duration, errLike string) func(t *testing.T) {
			return func(t *testing.T) {
				ap := newAWSPeer(t, m, poolID, peer)
				cache := ap.newCache()
				first, err := cache.Retrieve(t.Context())
				require.NoError(t, err)
				fresh := ap.newCache() // no credentials yet
				inject(t, ap.proxy, f)

				var wg sync.WaitGroup
				var ridden, none aws.Credentials
				var ridErr, noneErr error
				var tookRidden, tookNone time.Duration
				wg.Go(func() { tookRidden = timed(func() { ridden, ridErr = cache.Retrieve(t.Context()) }) })
				wg.Go(func() { tookNone = timed(func() { none, noneErr = fresh.Retrieve(t.Context()) }) })
				wg.Wait()

				require.NoError(t, ridErr, "valid credentials are ridden out")
				assert.Equal(t, first.AccessKeyID, ridden.AccessKeyID)
				assert.WithinDuration(t, time.Now(), ridden.Expires, 11*time.Second, "until the next try")
				assert.Contains(t, ap.logs.String(), rideOutLog)
				assert.Less(t, tookRidden, maxTime)

				require.Error(t, noneErr, "no credentials to ride out")
				assert.False(t, none.HasKeys())
				assert.Regexp(t, errLike, noneErr.Error())
				assert.Less(t, tookNone, maxTime)

				require.NoError(t, ap.proxy.Heal())
				cache.Invalidate() // not to wait for the ride-out's next try (10 s)
				creds, err := cache.Retrieve(t.Context())
				require.NoError(t, err, "recovered after Heal")
				assert.True(t, creds.HasKeys())
				creds, err = fresh.Retrieve(t.Context())
				require.NoError(t, err, "recovered after Heal")
				assert.True(t, creds.HasKeys())
			}
		}
		run(peer+"/latency_beyond_timeout", transient(toxi.Latency(awsBeyond), awsTimeout+slack, `deadline exceeded|timeout`))
		run(peer+"/reset", transient(toxi.ResetResponse(), slack+2*time.Second, `reset|EOF|closed`))
		run(peer+"/blackhole", transient(toxi.Blackhole(), awsTimeout+slack, `deadline exceeded|timeout`))
	}

	run("cognito/restart", func(t *testing.T) {
		m, poolID := startMoto(t)
		ap := newAWSPeer(t, m, poolID, "cognito")
		cache := ap.newCache()
		_, err := cache.Retrieve(t.Context())
		require.NoError(t, err)
		require.NoError(t, m.Restart(t.Context()))
		// moto's GetCredentialsForIdentity checks neither the pool nor the
		// identity id: the cached identity id keeps working.
		creds, err := cache.Retrieve(t.Context())
		require.NoError(t, err)
		assert.True(t, creds.HasKeys())
		// A new user's GetId names the pool, which moto lost.
		// A new user's GetId names the pool, which moto lost: moto answers
		// 500 (an HTML error page), a transient fault to the SDK and awscreds.
		_, err = ap.newCache().Retrieve(t.Context())
		require.Error(t, err)
		assert.Regexp(t, `GetId.*StatusCode: 500`, err.Error())
	})
	run("sts/restart", func(t *testing.T) {
		m, poolID := startMoto(t)
		ap := newAWSPeer(t, m, poolID, "sts")
		cache := ap.newCache()
		_, err := cache.Retrieve(t.Context())
		require.NoError(t, err)
		require.NoError(t, m.Restart(t.Context()))
		creds, err := cache.Retrieve(t.Context())
		require.NoError(t, err, "AssumeRole keeps no state")
		assert.True(t, creds.HasKeys())
	})
}
