// Package httpx holds the HTTP rules that the login flow (authflow) and the
// resource server (authflow/bearer) share: which endpoint URLs are
// acceptable, the client that never follows redirects, and the log level of
// a refusal. Written once here so that the two sides cannot drift.
package httpx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/oauth2"
)

// DefaultTimeout is the timeout of the client NoRedirectClient makes when
// given none.
const DefaultTimeout = 10 * time.Second

// CheckEndpoint requires raw to be an absolute https URL, or http on a
// loopback host (for development and tests), with no fragment and no user
// info. name names the setting in the error; the error quotes raw, so raw
// must be configuration, never a request's or a token's value.
func CheckEndpoint(name, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s is not a URL", name)
	}
	if !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("%s %q is not an absolute URL", name, raw)
	}
	if u.User != nil || u.Fragment != "" {
		return fmt.Errorf("%s %q must not have user info or a fragment", name, raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if IsLoopback(u.Hostname()) {
			return nil
		}
	}
	return fmt.Errorf("%s %q must use https (http only on a loopback host)", name, raw)
}

// IsLoopback reports whether host is "localhost" or a loopback IP address.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NoRedirectClient copies c (or a default client with DefaultTimeout) so
// that it never follows redirects: a token endpoint must not be able to
// bounce a POST carrying client credentials and a code to another URL, nor a
// discovery or JWKS endpoint send the fetch elsewhere.
func NoRedirectClient(c *http.Client) *http.Client {
	var cp http.Client
	if c != nil {
		cp = *c
	} else {
		cp.Timeout = DefaultTimeout
	}
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

// LevelFor is the level at which a refused request is logged: client
// mistakes (4xx) quietly, our own or a peer's faults (5xx) loudly.
func LevelFor(status int) slog.Level {
	if status >= http.StatusInternalServerError {
		return slog.LevelError
	}
	return slog.LevelInfo
}

// DescribeTokenError summarizes a token endpoint failure from x/oauth2
// without the response body, which oauth2.RetrieveError prints and which
// may be large or carry what must not be logged: the RFC 6749 §5.2 error
// code when there is one, the HTTP status, the transport error, "timeout",
// or "unparseable response".
func DescribeTokenError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		if re.ErrorCode != "" {
			return fmt.Sprintf("status %s, error %q", re.Response.Status, re.ErrorCode)
		}
		return "status " + re.Response.Status
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + " token endpoint: " + ue.Err.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	return "unparseable response"
}
