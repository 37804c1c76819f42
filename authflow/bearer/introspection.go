package bearer

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/pubauth/awsauth/internal/cognito"
	"github.com/pubauth/awsauth/internal/httpx"
)

// MaxIntrospectionResponseBytes bounds an introspection response's body;
// a longer one is a fault.
const MaxIntrospectionResponseBytes = 64 << 10

// IntrospectionConfig configures NewIntrospection.
type IntrospectionConfig struct {
	// Issuer is the issuer whose tokens are introspected, exactly their
	// iss: a token whose claims name another issuer is never sent (a
	// fault). An https URL (http only on a loopback host). Required.
	Issuer string
	// Endpoint is the introspection endpoint. Empty means the
	// introspection_endpoint of the issuer's discovery document (RFC 8414
	// §2; OIDC Discovery 1.0 §4), fetched by NewIntrospection.
	Endpoint string
	// ClientID and ClientSecret authenticate this resource server to the
	// endpoint with client_secret_basic (RFC 7662 §2.1, RFC 6749 §2.3.1).
	// Required.
	ClientID, ClientSecret string
	// HTTPClient makes the requests. Redirects are not followed. Nil means
	// a client with a 10 s timeout.
	HTTPClient *http.Client
}

// Introspection is the online revocation check of an OAuth 2.0 provider
// with a token introspection endpoint (RFC 7662): it POSTs the token
// (token_type_hint access_token) with its client credentials, and reads
// the JSON answer's active member. active false is ErrTokenRevoked; a
// status other than 200, a body that is not one JSON object with a boolean
// active (duplicate members refused), a Content-Type other than
// application/json, more than MaxIntrospectionResponseBytes, an iss member
// other than Issuer, a network fault or a timeout is a fault. Errors
// never contain the token or the response's body. It is safe for
// concurrent use.
//
// A provider may refuse to introspect its own JWT access tokens:
// oidc-provider does (unsupported_token_type, a fault here), since they can
// be verified locally; Keycloak, Okta and others accept them. Amazon
// Cognito has no introspection endpoint: use NewCognitoGetUser.
// See https://www.rfc-editor.org/rfc/rfc7662.
type Introspection struct {
	issuer, endpoint string
	auth             string // the Authorization header
	client           *http.Client
}

var _ Revocation = (*Introspection)(nil)

// NewIntrospection validates cfg and, when cfg.Endpoint is empty, fetches
// the issuer's discovery document within ctx (its issuer must be
// cfg.Issuer exactly). Errors start with "bearer: ".
func NewIntrospection(ctx context.Context, cfg IntrospectionConfig) (*Introspection, error) {
	var errs []error
	if err := httpx.CheckEndpoint("Issuer", cfg.Issuer); err != nil {
		errs = append(errs, err)
	} else if _, ok := cognito.ParseIssuer(cfg.Issuer); ok {
		errs = append(errs, errors.New("an Amazon Cognito user pool has no introspection endpoint: use NewCognitoGetUser"))
	}
	if cfg.Endpoint != "" {
		if err := httpx.CheckEndpoint("Endpoint", cfg.Endpoint); err != nil {
			errs = append(errs, err)
		}
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		errs = append(errs, errors.New("ClientID and ClientSecret are required"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("bearer: invalid introspection config: %w", errors.Join(errs...))
	}
	client := httpx.NoRedirectClient(cfg.HTTPClient)
	endpoint := cfg.Endpoint
	if endpoint == "" {
		var err error
		if endpoint, err = discoverIntrospection(ctx, client, cfg.Issuer); err != nil {
			return nil, err
		}
	}
	// RFC 6749 §2.3.1: the client id and secret are form-encoded, then joined.
	basic := url.QueryEscape(cfg.ClientID) + ":" + url.QueryEscape(cfg.ClientSecret)
	return &Introspection{
		issuer: cfg.Issuer, endpoint: endpoint, client: client,
		auth: "Basic " + base64.StdEncoding.EncodeToString([]byte(basic)),
	}, nil
}

// discoverIntrospection reads introspection_endpoint from the issuer's
// discovery document; go-oidc checks that its issuer is the configured one.
func discoverIntrospection(ctx context.Context, client *http.Client, issuer string) (string, error) {
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, client), issuer)
	if err != nil {
		return "", fmt.Errorf("bearer: discovery of %q: %w", issuer, err)
	}
	var meta struct {
		Endpoint string `json:"introspection_endpoint"`
	}
	if err := p.Claims(&meta); err != nil {
		return "", fmt.Errorf("bearer: discovery of %q: %w", issuer, err)
	}
	if meta.Endpoint == "" {
		return "", fmt.Errorf("bearer: discovery of %q: no introspection_endpoint", issuer)
	}
	if err := httpx.CheckEndpoint("introspection_endpoint", meta.Endpoint); err != nil {
		return "", fmt.Errorf("bearer: discovery of %q: %w", issuer, err)
	}
	return meta.Endpoint, nil
}

// Endpoint returns the introspection endpoint in use.
func (in *Introspection) Endpoint() string { return in.endpoint }

var (
	errIntrospectOtherIssuer = errors.New("bearer: introspection: the token's issuer is not this endpoint's")
	errIntrospectInactive    = fmt.Errorf("%w: introspection: active is false", ErrTokenRevoked)
	errIntrospectTooLarge    = errors.New("bearer: introspection: response larger than the limit")
	errIntrospectType        = errors.New("bearer: introspection: response is not application/json")
	errIntrospectIssuer      = errors.New("bearer: introspection: response's iss is not the issuer")
)

// Active introspects token (RFC 7662 §2.1) and reads the answer (§2.2).
func (in *Introspection) Active(ctx context.Context, token string, c *Claims) error {
	if c != nil && c.Issuer != in.issuer {
		return errIntrospectOtherIssuer
	}
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("bearer: introspection: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", in.auth)
	resp, err := in.client.Do(req)
	if err != nil {
		// *url.Error names the endpoint; the token is in the body, never in the text.
		return fmt.Errorf("bearer: introspection: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, MaxIntrospectionResponseBytes))
		return fmt.Errorf("bearer: introspection: status %d", resp.StatusCode)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return errIntrospectType
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxIntrospectionResponseBytes+1))
	if err != nil {
		return fmt.Errorf("bearer: introspection: reading the response: %w", err)
	}
	if len(body) > MaxIntrospectionResponseBytes {
		return errIntrospectTooLarge
	}
	active, iss, err := parseIntrospection(body)
	if err != nil {
		return err
	}
	if iss != nil && *iss != in.issuer {
		return errIntrospectIssuer
	}
	if !active {
		return errIntrospectInactive
	}
	return nil
}

// parseIntrospection reads an introspection response strictly: one JSON
// object, no member twice, active a boolean (required), iss a string when
// present; other members are skipped. Its errors name the rule broken,
// never a value.
func parseIntrospection(body []byte) (active bool, iss *string, err error) {
	bad := func(why string) (bool, *string, error) {
		return false, nil, errors.New("bearer: introspection: malformed response: " + why)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return bad("not a JSON object")
	}
	seen := map[string]bool{}
	var gotActive bool
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return bad("not JSON")
		}
		name, _ := t.(string)
		if seen[name] {
			return bad("a member appears twice")
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return bad("not JSON")
		}
		switch name {
		case "active":
			switch string(raw) {
			case "true":
				active = true
			case "false":
				active = false
			default:
				return bad("active is not a boolean")
			}
			gotActive = true
		case "iss":
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return bad("iss is not a string")
			}
			iss = &s
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return bad("not JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad("data after the object")
	}
	if !gotActive {
		return bad("no active member")
	}
	return active, iss, nil
}
