package browser

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/pubauth/awsauth/internal/testenv"
	"github.com/pubauth/awsauth/internal/testenv/minio"
)

// These tests start the real peers: a missing binary fails them (run
// scripts/deps.sh), it does not skip them.

func startOIDC(t *testing.T, cfg testenv.OIDCConfig) *testenv.OIDCProvider {
	t.Helper()
	p, err := testenv.StartOIDC(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("stop provider: %v", err)
		}
	})
	return p
}

func startMinIO(t *testing.T, cfg minio.Config) *minio.Server {
	t.Helper()
	m, err := minio.Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Stop(); err != nil {
			t.Errorf("stop minio: %v", err)
		}
	})
	return m
}

func newBrowser(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel, err := New(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	return ctx
}

type discovery struct {
	Issuer                                 string   `json:"issuer"`
	AuthorizationEndpoint                  string   `json:"authorization_endpoint"`
	TokenEndpoint                          string   `json:"token_endpoint"`
	JWKSURI                                string   `json:"jwks_uri"`
	RevocationEndpoint                     string   `json:"revocation_endpoint"`
	EndSessionEndpoint                     string   `json:"end_session_endpoint"`
	CodeChallengeMethodsSupported          []string `json:"code_challenge_methods_supported"`
	AuthorizationResponseIssParamSupported bool     `json:"authorization_response_iss_parameter_supported"`
	ScopesSupported                        []string `json:"scopes_supported"`
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", u, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

func discover(t *testing.T, p *testenv.OIDCProvider) discovery {
	var d discovery
	getJSON(t, p.Issuer+"/.well-known/openid-configuration", &d)
	return d
}

// jwtPart decodes the header (0) or payload (1) of a compact JWT, unverified.
func jwtPart(t *testing.T, token string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func wantClaim(t *testing.T, claims map[string]any, name string, want any) {
	t.Helper()
	got, _ := json.Marshal(claims[name])
	w, _ := json.Marshal(want)
	if string(got) != string(w) {
		t.Errorf("claim %s = %s, want %s", name, got, w)
	}
}

// rp is a relying party's redirect endpoints: each hit's query lands on a channel.
type rp struct {
	*httptest.Server
	callbacks, logouts chan url.Values
}

func newRP(t *testing.T) *rp {
	r := &rp{callbacks: make(chan url.Values, 1), logouts: make(chan url.Values, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, req *http.Request) {
		r.callbacks <- req.URL.Query()
		io.WriteString(w, "signed in")
	})
	mux.HandleFunc("GET /logged-out", func(w http.ResponseWriter, req *http.Request) {
		r.logouts <- req.URL.Query()
		io.WriteString(w, "signed out")
	})
	r.Server = httptest.NewServer(mux)
	t.Cleanup(r.Close)
	return r
}

func receive(t *testing.T, ch <-chan url.Values, what string) url.Values {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("no %s within 30s", what)
		return nil
	}
}

func wantAPIError(t *testing.T, err error, code, what string) {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != code {
		t.Errorf("%s: got %v, want %s", what, err, code)
	}
}

func wantInvalidGrant(t *testing.T, err error, what string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("%s: got %v, want invalid_grant", what, err)
	}
}

const prefixPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::demo"],
     "Condition": {"StringLike": {"s3:prefix": ["${jwt:sub}/*"]}}},
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": ["arn:aws:s3:::demo/${jwt:sub}/*"]}
  ]
}`

// TestBrowserLoginToMinIO is the whole path the S3 example takes: a browser
// login with PKCE at the provider, the code exchange, the ID token traded at
// MinIO's STS for credentials that reach only the user's prefix, a refresh, and
// an RP-initiated logout that revokes the grant.
func TestBrowserLoginToMinIO(t *testing.T) {
	ctx := t.Context()
	rp := newRP(t)
	p := startOIDC(t, testenv.OIDCConfig{Clients: []testenv.OIDCClient{{
		ID: "web", Secret: "web-secret",
		RedirectURIs:           []string{rp.URL + "/callback"},
		PostLogoutRedirectURIs: []string{rp.URL + "/logged-out"},
	}}})
	m := startMinIO(t, minio.Config{
		OpenIDConfigURL: p.Issuer + "/.well-known/openid-configuration",
		ClientID:        "web",
		RolePolicy:      "user-prefix",
	})
	if err := m.PutPolicy(ctx, "user-prefix", []byte(prefixPolicy)); err != nil {
		t.Fatal(err)
	}
	if err := m.CreateBucket(ctx, "demo"); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"alice/hello.txt", "bob/secret.txt"} {
		if err := m.PutObject(ctx, "demo", key, []byte(key)); err != nil {
			t.Fatal(err)
		}
	}
	d := discover(t, p)

	conf := oauth2.Config{
		ClientID:     "web",
		ClientSecret: "web-secret",
		Endpoint:     oauth2.Endpoint{AuthURL: d.AuthorizationEndpoint, TokenURL: d.TokenEndpoint, AuthStyle: oauth2.AuthStyleInHeader},
		RedirectURL:  rp.URL + "/callback",
		Scopes:       []string{"openid", "email", "profile"},
	}
	verifier, state, nonce := oauth2.GenerateVerifier(), oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", nonce))

	b := newBrowser(t)
	start := time.Now()
	if err := chromedp.Do(b, chromedp.Navigate(authURL)); err != nil {
		t.Fatal(err)
	}
	if err := ProviderLogin(b, "alice"); err != nil {
		t.Fatal(err)
	}
	cb := receive(t, rp.callbacks, "callback")
	t.Logf("browser login took %v", time.Since(start))
	if cb.Get("state") != state || cb.Get("code") == "" {
		t.Fatalf("callback = %v", cb)
	}
	if cb.Get("iss") != p.Issuer { // RFC 9207
		t.Errorf("callback iss = %q, want %q", cb.Get("iss"), p.Issuer)
	}

	tok, err := conf.Exchange(ctx, cb.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v\n%s", err, p.Logs())
	}
	if n := p.TokenRequests(); n != 1 {
		t.Errorf("TokenRequests = %d after the exchange, want 1", n)
	}
	idToken, _ := tok.Extra("id_token").(string)
	if tok.RefreshToken == "" || idToken == "" {
		t.Fatalf("exchange gave refresh token %q, id token %q", tok.RefreshToken, idToken)
	}
	claims := jwtPart(t, idToken, 1)
	for name, want := range map[string]any{
		"iss": p.Issuer, "aud": "web", "sub": "alice", "nonce": nonce, "email": "alice@example.com",
		"email_verified": true, "name": "Alice", "preferred_username": "alice",
	} {
		wantClaim(t, claims, name, want)
	}

	stsc := sts.New(sts.Options{BaseEndpoint: aws.String(m.Endpoint), Region: minio.Region, Credentials: aws.AnonymousCredentials{}})
	assume := func(token string) (*sts.AssumeRoleWithWebIdentityOutput, error) {
		return stsc.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
			RoleArn:          aws.String(m.RoleARN),
			RoleSessionName:  aws.String("alice"),
			WebIdentityToken: aws.String(token),
			DurationSeconds:  aws.Int32(900),
		})
	}
	tampered := idToken[:len(idToken)-4] + strings.Map(func(r rune) rune {
		if r == 'A' {
			return 'B'
		}
		return 'A'
	}, idToken[len(idToken)-4:])
	if _, err := assume(tampered); err == nil {
		t.Error("MinIO accepted a tampered ID token")
	}
	out, err := assume(idToken)
	if err != nil {
		t.Fatalf("AssumeRoleWithWebIdentity: %v\n%s", err, m.Logs())
	}
	if exp := time.Until(*out.Credentials.Expiration); exp < 10*time.Minute || exp > 16*time.Minute {
		t.Errorf("credentials expire in %v, want about 15m", exp)
	}
	user := s3.New(s3.Options{
		BaseEndpoint: aws.String(m.Endpoint), Region: minio.Region, UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(
			*out.Credentials.AccessKeyId, *out.Credentials.SecretAccessKey, *out.Credentials.SessionToken),
	})
	list, err := user.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("demo"), Prefix: aws.String("alice/")})
	if err != nil {
		t.Fatalf("list alice/: %v", err)
	}
	if len(list.Contents) != 1 || *list.Contents[0].Key != "alice/hello.txt" {
		t.Errorf("list alice/ = %d objects", len(list.Contents))
	}
	if _, err := user.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("demo"), Key: aws.String("alice/new.txt"), Body: strings.NewReader("new")}); err != nil {
		t.Errorf("put alice/new.txt: %v", err)
	}
	_, err = user.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("demo"), Prefix: aws.String("bob/")})
	wantAPIError(t, err, "AccessDenied", "list bob/")
	_, err = user.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("demo"), Key: aws.String("bob/secret.txt")})
	wantAPIError(t, err, "AccessDenied", "get bob/secret.txt")

	refreshed, err := refresh(ctx, conf, tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if refreshed.AccessToken == tok.AccessToken || refreshed.Extra("id_token") == nil {
		t.Error("refresh gave no new tokens")
	}
	if n := p.TokenRequests(); n != 2 {
		t.Errorf("TokenRequests = %d after a refresh, want 2", n)
	}

	// RP-initiated logout: by default the confirmation submits itself.
	endSession := d.EndSessionEndpoint + "?" + url.Values{
		"id_token_hint":            {idToken},
		"post_logout_redirect_uri": {rp.URL + "/logged-out"},
		"state":                    {"bye"},
	}.Encode()
	if err := chromedp.Do(b, chromedp.Navigate(endSession)); err != nil {
		t.Fatal(err)
	}
	if lo := receive(t, rp.logouts, "post-logout redirect"); lo.Get("state") != "bye" {
		t.Errorf("post-logout redirect = %v", lo)
	}
	// Like Cognito's /logout, end-session leaves refresh tokens alive: the RP
	// revokes them itself (RFC 7009), which ends the whole grant.
	if _, err := refresh(ctx, conf, tok.RefreshToken); err != nil {
		t.Errorf("refresh after logout: %v", err)
	}
	form := url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, d.RevocationEndpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("web", "web-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %s", resp.Status)
	}
	_, err = refresh(ctx, conf, tok.RefreshToken)
	wantInvalidGrant(t, err, "refresh after revocation")
}

// TestBrowserPublicClient covers a public client asking for the API resource:
// Cognito-shaped JWT access tokens, refresh token rotation, and a logout whose
// confirmation page is clicked through.
func TestBrowserPublicClient(t *testing.T) {
	ctx := t.Context()
	rp := newRP(t)
	p := startOIDC(t, testenv.OIDCConfig{
		Clients: []testenv.OIDCClient{{
			ID:                     "spa",
			RedirectURIs:           []string{rp.URL + "/callback"},
			PostLogoutRedirectURIs: []string{rp.URL + "/logged-out"},
		}},
		RotateRefreshToken: true,
		ConfirmLogout:      true,
		AccessTokenTTL:     5 * time.Minute,
	})
	d := discover(t, p)
	conf := oauth2.Config{
		ClientID:    "spa",
		Endpoint:    oauth2.Endpoint{AuthURL: d.AuthorizationEndpoint, TokenURL: d.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: rp.URL + "/callback",
		Scopes:      []string{"openid", "orders/read"},
	}
	verifier, state := oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("resource", testenv.DefaultAPIResource))

	b := newBrowser(t)
	if err := chromedp.Do(b, chromedp.Navigate(authURL)); err != nil {
		t.Fatal(err)
	}
	if err := ProviderLogin(b, "alice"); err != nil {
		t.Fatal(err)
	}
	cb := receive(t, rp.callbacks, "callback")
	tok, err := conf.Exchange(ctx, cb.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v\n%s", err, p.Logs())
	}

	var jwks struct {
		Keys []struct{ Kid string } `json:"keys"`
	}
	getJSON(t, d.JWKSURI, &jwks)
	header := jwtPart(t, tok.AccessToken, 0)
	if len(jwks.Keys) == 0 || header["kid"] != jwks.Keys[0].Kid {
		t.Errorf("access token kid = %v, jwks = %+v", header["kid"], jwks.Keys)
	}
	at := jwtPart(t, tok.AccessToken, 1)
	for name, want := range map[string]any{
		"iss": p.Issuer, "aud": testenv.DefaultAPIResource, "sub": "alice", "token_use": "access",
		"client_id": "spa", "username": "alice", "cognito:groups": []string{"admin"}, "scope": "orders/read",
	} {
		wantClaim(t, at, name, want)
	}
	if exp, iat := at["exp"].(float64), at["iat"].(float64); exp-iat != 300 {
		t.Errorf("access token lives %vs, want 300", exp-iat)
	}

	refreshed, err := refresh(ctx, conf, tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v\n%s", err, p.Logs())
	}
	if refreshed.RefreshToken == "" || refreshed.RefreshToken == tok.RefreshToken {
		t.Error("refresh did not rotate the refresh token")
	}
	if aud := jwtPart(t, refreshed.AccessToken, 1)["aud"]; aud != testenv.DefaultAPIResource {
		t.Errorf("refreshed access token aud = %v: the resource was not kept", aud)
	}

	endSession := d.EndSessionEndpoint + "?" + url.Values{
		"id_token_hint":            {tok.Extra("id_token").(string)},
		"post_logout_redirect_uri": {rp.URL + "/logged-out"},
	}.Encode()
	if err := chromedp.Do(b, chromedp.Navigate(endSession)); err != nil {
		t.Fatal(err)
	}
	if err := ProviderConfirmLogout(b); err != nil {
		t.Fatal(err)
	}
	receive(t, rp.logouts, "post-logout redirect")

	// Presenting a rotated-out refresh token revokes the whole grant, with no grace.
	_, err = refresh(ctx, conf, tok.RefreshToken)
	wantInvalidGrant(t, err, "reuse of the rotated-out refresh token")
	_, err = refresh(ctx, conf, refreshed.RefreshToken)
	wantInvalidGrant(t, err, "refresh after a reuse")
}

func refresh(ctx context.Context, conf oauth2.Config, refreshToken string) (*oauth2.Token, error) {
	return conf.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken, Expiry: time.Now().Add(-time.Minute)}).Token()
}
