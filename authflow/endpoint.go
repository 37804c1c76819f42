package authflow

import (
	"net/http"

	"github.com/pubauth/awsauth/internal/httpx"
)

// checkEndpoint requires an absolute https URL, or http on a loopback host,
// with no fragment and no user info: the module's one rule
// (internal/httpx), shared with authflow/bearer.
func checkEndpoint(name, raw string) error { return httpx.CheckEndpoint(name, raw) }

// noRedirectClient copies c (or a default client) so that it never follows
// redirects: the token endpoint must not be able to bounce a POST carrying
// client credentials and a code to another URL.
func noRedirectClient(c *http.Client) *http.Client { return httpx.NoRedirectClient(c) }
