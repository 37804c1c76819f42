package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/pubauth/awsauth/internal/testenv"
	"github.com/pubauth/awsauth/internal/testenv/stack"
)

// make dev's fixed addresses: the quickstart's, the provider's (its issuer
// is http://127.0.0.1:devOIDCPort) and MinIO's.
const (
	devAppAddr   = "127.0.0.1:8080"
	devOIDCPort  = 9400
	devMinIOPort = 9000
)

// The environment variables through which an app of one's own joins the
// stack. Each holds a list separated by spaces or commas.
const (
	// envRedirectURIs: redirect URIs registered for the stack's client
	// besides the quickstart's (an app's callback, such as
	// http://127.0.0.1:3000/callback).
	envRedirectURIs = "DEV_REDIRECT_URIS"
	// envPostLogoutURIs: post-logout redirect URIs registered besides the
	// quickstart's (OIDC RP-Initiated Logout 1.0 §3).
	envPostLogoutURIs = "DEV_POST_LOGOUT_URIS"
	// envAPIScopes: scopes the provider's API resource knows besides
	// orders/read and orders/write, like a Cognito resource server's custom
	// scopes (notes/read).
	envAPIScopes = "DEV_API_SCOPES"
)

// devEnv is what the environment adds to the stack for apps of one's own.
type devEnv struct {
	redirectURIs, postLogoutURIs, apiScopes []string
}

// readDevEnv reads envRedirectURIs, envPostLogoutURIs and envAPIScopes. A
// URI must be an absolute http or https URL without user info or fragment
// (RFC 6749 §3.1.2); the provider checks it again at the first login.
func readDevEnv(getenv func(string) string) (devEnv, error) {
	var e devEnv
	for _, v := range []struct {
		name string
		dst  *[]string
	}{{envRedirectURIs, &e.redirectURIs}, {envPostLogoutURIs, &e.postLogoutURIs}} {
		for _, s := range splitList(getenv(v.name)) {
			u, err := url.Parse(s)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" || strings.Contains(s, "#") {
				return devEnv{}, fmt.Errorf("%s: %q is not an absolute http(s) URL without user info or fragment", v.name, s)
			}
			*v.dst = append(*v.dst, s)
		}
	}
	e.apiScopes = splitList(getenv(envAPIScopes))
	return e, nil
}

// splitList splits a list separated by spaces or commas.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}

// stackConfig is the stack for the quickstart at appURL plus e.
func (e devEnv) stackConfig(appURL string, oidcPort, minioPort int) stack.Config {
	return stack.Config{
		AppURL:                 appURL,
		RedirectURIs:           e.redirectURIs,
		PostLogoutRedirectURIs: e.postLogoutURIs,
		APIScopes:              e.apiScopes,
		OIDC:                   testenv.OIDCConfig{Port: oidcPort, RotateRefreshToken: true},
		MinIOPort:              minioPort,
	}
}

// settingComments explain the settings block's variables, in its order;
// the values are the quickstart's own (stack.QuickstartEnv).
var settingComments = []struct{ name, comment string }{
	{"OIDC_ISSUER", "OpenID provider (node oidc-provider); discovery at OIDC_ISSUER/.well-known/openid-configuration"},
	{"OIDC_CLIENT_ID", "a public client: no secret, PKCE S256 (authflow.Config.ClientSecret empty)"},
	{"ROLE_ARN", "MinIO's STS: AssumeRoleWithWebIdentity with the user's ID token, confined to S3_BUCKET/<sub>/"},
	{"S3_BUCKET", ""},
	{"S3_PATH_STYLE", "MinIO needs path-style addressing: s3.Options.UsePathStyle = true"},
	{"AWS_REGION", ""},
	{"AWS_ENDPOINT_URL", "MinIO, for STS and S3 (the AWS SDK reads it)"},
}

// settings is the block make dev prints for an app of one's own: the
// quickstart's settings (stack.QuickstartEnv) as shell exports, what is
// registered for the client, the API resource and its scopes, and how to
// get a bearer token.
func settings(st *stack.Stack, appAddr string) string {
	values := map[string]string{}
	for _, kv := range st.QuickstartEnv(appAddr) {
		k, v, _ := strings.Cut(kv, "=")
		values[k] = v
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Registered for %s: redirect URIs %s\n", stack.ClientID, strings.Join(st.RedirectURIs, " "))
	fmt.Fprintf(&b, "#   and post-logout URIs %s\n", strings.Join(st.PostLogoutRedirectURIs, " "))
	fmt.Fprintf(&b, "#   (add yours with %s and %s).\n", envRedirectURIs, envPostLogoutURIs)
	for _, s := range settingComments {
		if s.comment != "" {
			fmt.Fprintf(&b, "# %s\n", s.comment)
		}
		fmt.Fprintf(&b, "export %s=%s\n", s.name, values[s.name])
	}
	fmt.Fprintf(&b, "# The API: logins that send resource=OIDC_RESOURCE (authflow.Config.AuthParams; Cognito needs\n")
	fmt.Fprintf(&b, "#   none) get JWT access tokens shaped like Cognito's, with the scopes asked for among\n")
	fmt.Fprintf(&b, "#   %s (add yours with %s).\n", strings.Join(st.APIScopes, " "), envAPIScopes)
	fmt.Fprintf(&b, "export OIDC_RESOURCE=%s\n", st.APIResource)
	fmt.Fprintf(&b, "# A bearer token with a scope (alice's; add -user bob for bob's), which\n")
	fmt.Fprintf(&b, "#   bearer.Issuer{Issuer: OIDC_ISSUER, ClientIDs: []string{OIDC_CLIENT_ID}} accepts:\n")
	fmt.Fprintf(&b, "#   curl -H \"Authorization: Bearer $(go run ./internal/demo -token %s)\" http://127.0.0.1:3000/api/...\n",
		st.APIScopes[len(st.APIScopes)-1])
	return b.String()
}

// devTokenRequest asks the make dev stack at issuer for user's access token
// with scopes (a list separated by spaces or commas).
func devTokenRequest(issuer, user, scopes string) stack.TokenRequest {
	return stack.TokenRequest{
		Issuer:      issuer,
		RedirectURI: "http://" + devAppAddr + "/callback",
		Resource:    testenv.DefaultAPIResource,
		Login:       user,
		Scopes:      splitList(scopes),
	}
}

// printToken writes req's access token (stack.AccessToken) and a newline to
// w, and nothing else: `$(go run ./internal/demo -token SCOPE)` is the token.
func printToken(ctx context.Context, w io.Writer, req stack.TokenRequest) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tok, err := stack.AccessToken(ctx, req)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, tok)
	return err
}
