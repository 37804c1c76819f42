// Package stack starts what the quickstart (examples/quickstart, examples/s3,
// internal/demo) runs against locally: node oidc-provider with the
// quickstart's client, and MinIO trusting that provider, with sample files per
// user and a policy confining every user to their own prefix. Apps of one's
// own join it through Config's extra redirect URIs and API scopes (make dev's
// DEV_* variables) and AccessToken.
package stack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pubauth/awsauth/internal/testenv"
	"github.com/pubauth/awsauth/internal/testenv/minio"
)

// ClientID is the OAuth client the stack registers.
const ClientID = "quickstart"

// Bucket is the bucket the stack fills with per-user files.
const Bucket = "demo"

// policyName is the MinIO canned policy every web-identity session gets.
const policyName = "quickstart-user"

// UserPrefixPolicy confines a web-identity session to its own prefix of
// bucket: list only "<sub>/", read and write only objects under it. MinIO
// substitutes ${jwt:sub} with the verified ID token's sub.
func UserPrefixPolicy(bucket string) []byte {
	return fmt.Appendf(nil, `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["s3:ListBucket"],
      "Resource": ["arn:aws:s3:::%[1]s"],
      "Condition": {"StringLike": {"s3:prefix": ["${jwt:sub}/*", "${jwt:sub}/"]}}
    },
    {
      "Effect": "Allow",
      "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
      "Resource": ["arn:aws:s3:::%[1]s/${jwt:sub}/*"]
    }
  ]
}`, bucket)
}

// Config configures Start.
type Config struct {
	// AppURL is the quickstart's base URL (http://127.0.0.1:PORT), registered
	// with the provider for the callback and post-logout redirects.
	AppURL string
	// RedirectURIs and PostLogoutRedirectURIs are registered for ClientID
	// besides AppURL's, so that apps of one's own sign in and out with the
	// same client (make dev's DEV_REDIRECT_URIS and DEV_POST_LOGOUT_URIS).
	RedirectURIs, PostLogoutRedirectURIs []string
	// APIScopes are scopes the provider's API resource knows besides
	// testenv.DefaultAPIScopes (make dev's DEV_API_SCOPES); OIDC.APIScopes
	// is replaced by both.
	APIScopes []string
	// OIDC tunes the provider; its Clients are replaced by the quickstart's.
	OIDC testenv.OIDCConfig
	// MinIOPort fixes MinIO's port; 0 picks a free one.
	MinIOPort int
}

// Stack is a running stack: an OpenID provider with the quickstart's client
// (ClientID), and MinIO trusting that provider, with bucket Bucket holding
// files for alice and bob and a policy confining every user to their own prefix.
type Stack struct {
	OIDC  *testenv.OIDCProvider
	MinIO *minio.Server
	// APIResource is the resource indicator (RFC 8707) for which the
	// provider issues Cognito-shaped JWT access tokens, and APIScopes the
	// scopes it knows (testenv.OIDCConfig.APIResource, APIScopes).
	APIResource string
	APIScopes   []string
	// RedirectURIs and PostLogoutRedirectURIs are those registered for
	// ClientID: the quickstart's, then Config's.
	RedirectURIs, PostLogoutRedirectURIs []string
}

// Start starts the provider and MinIO and loads the sample data. On
// error everything started is stopped.
func Start(ctx context.Context, cfg Config) (_ *Stack, err error) {
	oc := cfg.OIDC
	oc.APIResource = cmp.Or(oc.APIResource, testenv.DefaultAPIResource)
	oc.APIScopes = append(strings.Fields(testenv.DefaultAPIScopes), cfg.APIScopes...)
	s := &Stack{
		APIResource:            oc.APIResource,
		APIScopes:              oc.APIScopes,
		RedirectURIs:           append([]string{cfg.AppURL + "/callback"}, cfg.RedirectURIs...),
		PostLogoutRedirectURIs: append([]string{cfg.AppURL + "/"}, cfg.PostLogoutRedirectURIs...),
	}
	oc.Clients = []testenv.OIDCClient{{
		ID:                     ClientID,
		RedirectURIs:           s.RedirectURIs,
		PostLogoutRedirectURIs: s.PostLogoutRedirectURIs,
	}}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	if s.OIDC, err = testenv.StartOIDC(ctx, oc); err != nil {
		return nil, err
	}
	s.MinIO, err = minio.Start(ctx, minio.Config{
		OpenIDConfigURL: s.OIDC.Issuer + "/.well-known/openid-configuration",
		ClientID:        ClientID,
		RolePolicy:      policyName,
		Port:            cfg.MinIOPort,
	})
	if err != nil {
		return nil, err
	}
	if err = s.MinIO.PutPolicy(ctx, policyName, UserPrefixPolicy(Bucket)); err != nil {
		return nil, err
	}
	if err = s.MinIO.CreateBucket(ctx, Bucket); err != nil {
		return nil, err
	}
	for key, body := range map[string]string{
		"alice/hello.txt":  "Hello, Alice.\n",
		"alice/notes.md":   "# Alice's notes\n",
		"bob/secret.txt":   "Bob's secret.\n",
		"shared-readme.md": "Nobody's prefix.\n",
	} {
		if err = s.MinIO.PutObject(ctx, Bucket, key, []byte(body)); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// QuickstartEnv is the environment that points the quickstart at the stack.
func (s *Stack) QuickstartEnv(listenAddr string) []string {
	return []string{
		"OIDC_ISSUER=" + s.OIDC.Issuer,
		"OIDC_CLIENT_ID=" + ClientID,
		"LISTEN_ADDR=" + listenAddr,
		"ROLE_ARN=" + s.MinIO.RoleARN,
		"S3_BUCKET=" + Bucket,
		"S3_PATH_STYLE=true",
		"AWS_REGION=" + minio.Region,
		"AWS_ENDPOINT_URL=" + s.MinIO.Endpoint,
	}
}

// Stop stops MinIO and the provider.
func (s *Stack) Stop() error {
	var errs []error
	if s.MinIO != nil {
		errs = append(errs, s.MinIO.Stop())
	}
	if s.OIDC != nil {
		errs = append(errs, s.OIDC.Stop())
	}
	return errors.Join(errs...)
}
