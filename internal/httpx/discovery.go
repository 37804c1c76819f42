package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// MaxDiscoveryBytes bounds a discovery document; real ones are a few KB.
const MaxDiscoveryBytes = 256 << 10

// ErrUnavailable marks a discovery failure that says nothing about the
// configuration: no answer (connection refused, reset, timeout, the
// context's end) or an HTTP status of 408, 429 or 5xx. It may succeed later;
// any other failure (another status, a document that is not JSON, an issuer
// that is not the configured one) is the provider's or the configuration's
// fault and does not heal by waiting.
var ErrUnavailable = errors.New("provider unavailable")

// Discover fetches issuer's OpenID Provider Configuration document at
// issuer + "/.well-known/openid-configuration" (OpenID Connect Discovery 1.0
// §4; RFC 8414 §3 for OAuth 2.0 servers that publish it there), at most
// MaxDiscoveryBytes, decodes it into doc and requires its "issuer" to be
// issuer exactly (§4.3: byte for byte). Errors never quote the response
// body; those that may heal by waiting match ErrUnavailable.
func Discover(ctx context.Context, client *http.Client, issuer string, doc any) error {
	url := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("discovery of %q: %w", issuer, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("discovery of %q: %w: %w", issuer, ErrUnavailable, err)
	}
	defer resp.Body.Close()
	switch s := resp.StatusCode; {
	case s == http.StatusOK:
	case s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500:
		return fmt.Errorf("discovery of %q: %w: status %s", issuer, ErrUnavailable, resp.Status)
	default:
		return fmt.Errorf("discovery of %q: status %s", issuer, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxDiscoveryBytes+1))
	if err != nil {
		return fmt.Errorf("discovery of %q: %w: %w", issuer, ErrUnavailable, err)
	}
	if len(body) > MaxDiscoveryBytes {
		return fmt.Errorf("discovery of %q: document larger than %d bytes", issuer, MaxDiscoveryBytes)
	}
	var head struct {
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return fmt.Errorf("discovery of %q: the document is not a JSON object", issuer)
	}
	if head.Issuer != issuer {
		return fmt.Errorf("discovery of %q: the document's issuer %.200q did not match", issuer, head.Issuer)
	}
	if err := json.Unmarshal(body, doc); err != nil {
		return fmt.Errorf("discovery of %q: %w", issuer, err)
	}
	return nil
}
