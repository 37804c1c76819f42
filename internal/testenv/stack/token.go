package stack

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/pubauth/awsauth/internal/testenv"
)

// TokenRequest asks AccessToken for a user's access token.
type TokenRequest struct {
	// Issuer is the stack's provider: Stack.OIDC.Issuer (make dev's
	// http://127.0.0.1:9400).
	Issuer string
	// RedirectURI is a redirect URI registered for ClientID, such as
	// Config.AppURL + "/callback". Nothing needs to listen there: the code
	// is read from the provider's redirect, which is not followed.
	RedirectURI string
	// Resource is the API's resource indicator (RFC 8707): Stack.APIResource.
	Resource string
	// Login is the user to sign in as (the provider takes any password).
	Login string
	// Scopes are the API scopes to ask for, each one the API knows
	// (Stack.APIScopes); openid is added.
	Scopes []string
}

// AccessToken signs req.Login in at the stack's provider as ClientID (a
// public client: authorization code with PKCE S256, RFC 7636) without a
// browser, asking for openid and req.Scopes for req.Resource, and returns the
// access token: a JWT shaped like a Cognito user pool's access token
// (token_use "access", client_id ClientID, username and sub the login,
// cognito:groups, scope, and aud req.Resource, which Cognito's lack), which
// a bearer.Verifier for the issuer with ClientIDs [ClientID] accepts. It is
// what `go run ./internal/demo -token SCOPE` prints. A scope the API does not
// know is an error (the provider would silently leave it out). ctx bounds
// the whole exchange.
func AccessToken(ctx context.Context, req TokenRequest) (string, error) {
	client := &http.Client{Timeout: 30 * time.Second}
	ep, err := endpoints(ctx, client, req.Issuer)
	if err != nil {
		return "", err
	}
	conf := oauth2.Config{
		ClientID:    ClientID,
		Endpoint:    oauth2.Endpoint{AuthURL: ep.Authorization, TokenURL: ep.Token, AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: req.RedirectURI,
		Scopes:      append([]string{"openid"}, req.Scopes...),
	}
	state, verifier := rand.Text(), oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("resource", req.Resource))
	cb, err := testenv.ProviderLoginHTTP(ctx, client, authURL, req.Login)
	if err != nil {
		return "", err
	}
	q := cb.Query()
	if e := q.Get("error"); e != "" {
		return "", fmt.Errorf("stack: the provider refused the login: %s: %s", e, q.Get("error_description"))
	}
	if q.Get("state") != state || q.Get("code") == "" {
		return "", errors.New("stack: the provider's redirect carries no code for this login")
	}
	tok, err := conf.Exchange(context.WithValue(ctx, oauth2.HTTPClient, client), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return "", fmt.Errorf("stack: code exchange: %w", err)
	}
	if strings.Count(tok.AccessToken, ".") != 2 {
		return "", fmt.Errorf("stack: the provider issued no JWT access token: is %q its API resource?", req.Resource)
	}
	granted, _ := tok.Extra("scope").(string)
	for _, s := range req.Scopes {
		if !slices.Contains(strings.Fields(granted), s) {
			return "", fmt.Errorf("stack: the API does not know scope %q (granted %q): add it to DEV_API_SCOPES", s, granted)
		}
	}
	return tok.AccessToken, nil
}

type providerEndpoints struct {
	Authorization string `json:"authorization_endpoint"`
	Token         string `json:"token_endpoint"`
}

// endpoints reads the provider's discovery document (OpenID Connect
// Discovery 1.0 §4).
func endpoints(ctx context.Context, client *http.Client, issuer string) (providerEndpoints, error) {
	var ep providerEndpoints
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, issuer+"/.well-known/openid-configuration", nil)
	if err != nil {
		return ep, err
	}
	resp, err := client.Do(r)
	if err != nil {
		return ep, fmt.Errorf("stack: is the dev stack running? %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ep, fmt.Errorf("stack: discovery at %s: %s", issuer, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&ep); err != nil {
		return ep, fmt.Errorf("stack: discovery at %s: %w", issuer, err)
	}
	if ep.Authorization == "" || ep.Token == "" {
		return ep, fmt.Errorf("stack: discovery at %s names no authorization or token endpoint", issuer)
	}
	return ep, nil
}
