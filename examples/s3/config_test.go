package main

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func envOf(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

func TestParseConfig(t *testing.T) {
	required := map[string]string{
		"OIDC_ISSUER": "https://issuer.example", "OIDC_CLIENT_ID": "c",
		"ROLE_ARN": "arn:aws:iam::123456789012:role/files", "S3_BUCKET": "b",
	}

	t.Run("environment and defaults", func(t *testing.T) {
		env := map[string]string{"LISTEN_ADDR": "127.0.0.1:9999", "S3_PATH_STYLE": "true", "MAX_UPLOAD_BYTES": "1024",
			"COGNITO_DOMAIN": "files.auth.eu-west-1.amazoncognito.com", "IDENTITY_POOL_ID": "eu-west-1:6f1c2a5e-0c1b-4f0e-9d7a-2b8e5f3c1a90",
			"COOKIE_KEY": base64.StdEncoding.EncodeToString(make([]byte, 32))}
		for k, v := range required {
			env[k] = v
		}
		c, err := parseConfig(nil, envOf(env))
		require.NoError(t, err)
		assert.Equal(t, "http://127.0.0.1:9999/callback", c.RedirectURL)
		assert.True(t, c.PathStyle)
		assert.Equal(t, int64(1024), c.MaxUploadBytes)
		assert.Equal(t, "files.auth.eu-west-1.amazoncognito.com", c.CognitoDomain)
		require.Len(t, c.CookieKeys, 1)
		assert.Len(t, c.CookieKeys[0], 32)
		assert.Equal(t, "eu-west-1:6f1c2a5e-0c1b-4f0e-9d7a-2b8e5f3c1a90", c.IdentityPoolID)
		assert.Equal(t, 15*time.Minute, c.CredentialsDuration)
		assert.Equal(t, time.Minute, c.ExpiryWindow)
		assert.Equal(t, 0.5, c.ExpiryWindowJitterFrac)
	})

	t.Run("flags win over the environment", func(t *testing.T) {
		c, err := parseConfig([]string{"-bucket", "flag-bucket", "-credentials-expiry-window", "2m"}, envOf(required))
		require.NoError(t, err)
		assert.Equal(t, "flag-bucket", c.Bucket)
		assert.Equal(t, 2*time.Minute, c.ExpiryWindow)
	})

	t.Run("errors name every bad setting", func(t *testing.T) {
		_, err := parseConfig([]string{"-credentials-expiry-window", "1h"}, envOf(map[string]string{
			"S3_PATH_STYLE": "maybe", "MAX_UPLOAD_BYTES": "-1", "COOKIE_KEY": "short", "IDENTITY_POOL_ID": "eu-west-1_AbC",
		}))
		require.Error(t, err)
		for _, want := range []string{"OIDC_ISSUER", "OIDC_CLIENT_ID", "ROLE_ARN", "S3_BUCKET", "S3_PATH_STYLE",
			"MAX_UPLOAD_BYTES", "COOKIE_KEY", "credentials-expiry-window", "IDENTITY_POOL_ID"} {
			assert.Contains(t, err.Error(), want)
		}
	})
}
