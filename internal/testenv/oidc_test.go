package testenv

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
)

// These tests start the real peers: a missing binary fails them (run
// scripts/deps.sh), it does not skip them.

func startOIDC(t *testing.T, cfg OIDCConfig) *OIDCProvider {
	t.Helper()
	p, err := StartOIDC(t.Context(), cfg)
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

type discovery struct {
	Issuer                                 string   `json:"issuer"`
	AuthorizationEndpoint                  string   `json:"authorization_endpoint"`
	TokenEndpoint                          string   `json:"token_endpoint"`
	JWKSURI                                string   `json:"jwks_uri"`
	RevocationEndpoint                     string   `json:"revocation_endpoint"`
	IntrospectionEndpoint                  string   `json:"introspection_endpoint"`
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

func discover(t *testing.T, p *OIDCProvider) discovery {
	var d discovery
	getJSON(t, p.Issuer+"/.well-known/openid-configuration", &d)
	return d
}

func TestOIDCDiscovery(t *testing.T) {
	p := startOIDC(t, OIDCConfig{Clients: []OIDCClient{{ID: "app", RedirectURIs: []string{"http://127.0.0.1:1/cb"}}}})
	if !strings.HasPrefix(p.Issuer, "http://127.0.0.1:") || strings.HasSuffix(p.Issuer, "/") {
		t.Errorf("Issuer = %q", p.Issuer)
	}
	d := discover(t, p)
	if d.Issuer != p.Issuer {
		t.Errorf("issuer = %q, want %q", d.Issuer, p.Issuer)
	}
	if !slices.Contains(d.CodeChallengeMethodsSupported, "S256") {
		t.Errorf("code_challenge_methods_supported = %v", d.CodeChallengeMethodsSupported)
	}
	if !d.AuthorizationResponseIssParamSupported {
		t.Error("authorization_response_iss_parameter_supported is not true")
	}
	for name, u := range map[string]string{
		"authorization": d.AuthorizationEndpoint, "token": d.TokenEndpoint, "jwks": d.JWKSURI,
		"revocation": d.RevocationEndpoint, "end_session": d.EndSessionEndpoint,
		"introspection": d.IntrospectionEndpoint,
	} {
		// Endpoints must be on the proxy, or TokenRequests would miss calls.
		if !strings.HasPrefix(u, p.Issuer+"/") {
			t.Errorf("%s endpoint = %q, want one under %s", name, u, p.Issuer)
		}
	}
	for _, s := range []string{"openid", "email", "profile", "offline_access"} {
		if !slices.Contains(d.ScopesSupported, s) {
			t.Errorf("scopes_supported = %v, missing %s", d.ScopesSupported, s)
		}
	}
	var jwks struct {
		Keys []struct{ Kid, Kty, Alg string } `json:"keys"`
	}
	getJSON(t, d.JWKSURI, &jwks)
	if len(jwks.Keys) != 1 || jwks.Keys[0].Kid == "" || jwks.Keys[0].Kty != "RSA" || jwks.Keys[0].Alg != "RS256" {
		t.Errorf("jwks = %+v, want one RS256 RSA key with a kid", jwks.Keys)
	}

	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := http.Get(p.Issuer + "/.well-known/openid-configuration"); err == nil {
		t.Error("the provider still answers after Stop")
	}
}

func TestStartFailureShowsPeerOutput(t *testing.T) {
	fake := t.TempDir() + "/node"
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'boom: cannot start'\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWSAUTH_NODE", fake)
	_, err := StartOIDC(t.Context(), OIDCConfig{Clients: []OIDCClient{{ID: "app", RedirectURIs: []string{"http://127.0.0.1:1/cb"}}}})
	if err == nil || !strings.Contains(err.Error(), "oidc-provider output (tail)") || !strings.Contains(err.Error(), "boom: cannot start") {
		t.Errorf("StartOIDC with a failing node: %v, want its output", err)
	}
	t.Log(err)
	if _, err := StartOIDC(t.Context(), OIDCConfig{Clients: []OIDCClient{{ID: "app"}}}); err == nil {
		t.Error("StartOIDC accepted a client without redirect URIs")
	}
}

// TestOIDCIssuerURL: with a public issuer of its own (here a Cognito user
// pool's UPDATED issuer, path included), the provider is mounted at the
// issuer's path, names https endpoints under it, serves the key set where
// Cognito does, and is reached only through Transport, which carries nothing
// else.
func TestOIDCIssuerURL(t *testing.T) {
	const iss = "https://issuer-cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestEnv1"
	p := startOIDC(t, OIDCConfig{IssuerURL: iss, Clients: []OIDCClient{{ID: "app", RedirectURIs: []string{"http://127.0.0.1:1/cb"}}}})
	if p.Issuer != iss {
		t.Fatalf("Issuer = %q", p.Issuer)
	}
	c := &http.Client{Transport: p.Transport()}
	get := func(u string) (*http.Response, []byte, error) {
		resp, err := c.Get(u)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp, body, err
	}
	resp, body, err := get(iss + "/.well-known/openid-configuration")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery: %v %v %s", err, resp, body)
	}
	if resp.Request.URL.String() != iss+"/.well-known/openid-configuration" {
		t.Errorf("Response.Request.URL = %s, want the URL as asked", resp.Request.URL)
	}
	var d discovery
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatal(err)
	}
	if d.Issuer != iss || d.JWKSURI != iss+"/.well-known/jwks.json" {
		t.Errorf("issuer %q, jwks_uri %q", d.Issuer, d.JWKSURI)
	}
	for name, u := range map[string]string{"authorization": d.AuthorizationEndpoint, "token": d.TokenEndpoint} {
		if !strings.HasPrefix(u, iss+"/") {
			t.Errorf("%s endpoint = %q, want one under %s", name, u, iss)
		}
	}
	if resp, body, err := get(d.JWKSURI); err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"keys"`) {
		t.Errorf("JWKS at %s: %v %v %s", d.JWKSURI, err, resp, body)
	}
	// Outside the issuer's path, nothing; other origins, not even a request.
	if resp, _, err := get("https://issuer-cognito-idp.eu-west-1.amazonaws.com/.well-known/openid-configuration"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("discovery outside the mount: %v %v", err, resp)
	}
	for _, u := range []string{
		"http://issuer-cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestEnv1/.well-known/openid-configuration",
		"https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestEnv1/.well-known/openid-configuration",
		"https://issuer-cognito-idp.eu-west-1.amazonaws.com:443/eu-west-1_TestEnv1/.well-known/openid-configuration",
		"http://" + p.addr + "/eu-west-1_TestEnv1/.well-known/openid-configuration",
	} {
		if _, _, err := get(u); err == nil || !strings.Contains(err.Error(), "not the provider's origin") {
			t.Errorf("GET %s through Transport: %v, want refused", u, err)
		}
	}

	if _, err := StartOIDC(t.Context(), OIDCConfig{IssuerURL: iss + "/", Clients: []OIDCClient{{ID: "app", RedirectURIs: []string{"http://127.0.0.1:1/cb"}}}}); err == nil {
		t.Error("StartOIDC accepted an issuer with a trailing slash")
	}
}

func TestOIDCClientCredentials(t *testing.T) {
	// A client_credentials-only client needs no redirect URI.
	p := startOIDC(t, OIDCConfig{Clients: []OIDCClient{{ID: "svc", Secret: "svc-secret", GrantTypes: []string{"client_credentials"}}}})
	tok := clientCredentials(t, p, "orders/read")
	if p.TokenRequests() != 1 {
		t.Errorf("TokenRequests = %d, want 1", p.TokenRequests())
	}
	parts := strings.Split(tok.AccessToken, ".")
	if len(parts) != 3 || tok.Scope != "orders/read" {
		t.Fatalf("want a JWT access token with scope orders/read, got %d parts, scope %q", len(parts), tok.Scope)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	json.Unmarshal(payload, &claims)
	// Cognito's M2M shape: sub = client_id, token_use access, no user.
	for k, want := range map[string]any{"sub": "svc", "client_id": "svc", "token_use": "access", "scope": "orders/read", "aud": DefaultAPIResource} {
		if claims[k] != want {
			t.Errorf("claim %s = %v, want %v", k, claims[k], want)
		}
	}
	if _, ok := claims["username"]; ok {
		t.Error("an M2M token carries a username")
	}
}

type ccResponse struct {
	AccessToken string `json:"access_token"`
	Scope       string `json:"scope"`
}

// clientCredentials asks p's token endpoint, as client svc (secret
// svc-secret), for an access token to DefaultAPIResource with scope.
func clientCredentials(t *testing.T, p *OIDCProvider, scope string) ccResponse {
	t.Helper()
	d := discover(t, p)
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}, "resource": {DefaultAPIResource}}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, d.TokenEndpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("svc", "svc-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok ccResponse
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("token: %s %v\n%s", resp.Status, err, p.Logs())
	}
	return tok
}

// TestOIDCAPIScopes: OIDCConfig.APIScopes replaces the API resource's
// scopes; a scope it no longer knows is left out of the token.
func TestOIDCAPIScopes(t *testing.T) {
	p := startOIDC(t, OIDCConfig{
		Clients:   []OIDCClient{{ID: "svc", Secret: "svc-secret", GrantTypes: []string{"client_credentials"}}},
		APIScopes: []string{"notes/read", "notes/write"},
	})
	tok := clientCredentials(t, p, "notes/read orders/read")
	if strings.Count(tok.AccessToken, ".") != 2 || tok.Scope != "notes/read" {
		t.Fatalf("want a JWT access token with scope notes/read, got scope %q", tok.Scope)
	}
}
