package testenv

import (
	"encoding/json"
	"io"
	"net/http"
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
