package authflow

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
)

// A Requirement is a per-route rule on a verified token. It returns nil to
// let the request through, or an error that refuses it with 403
// insufficient_scope (a *ScopeError, or any error, which is then wrapped in
// ErrInsufficientScope). It must not modify c.
type Requirement func(c *Claims) error

// Scopes requires every one of scopes in the token's scope claim (RFC 6750
// §3: the 403 challenge then names them in its scope attribute).
func Scopes(scopes ...string) Requirement {
	need := strings.Join(scopes, " ")
	missing := &ScopeError{Scope: need, Reason: "a required scope is missing"}
	return func(c *Claims) error {
		for _, s := range scopes {
			if !c.HasScope(s) {
				return missing
			}
		}
		return nil
	}
}

// Groups requires membership in at least one of groups (cognito:groups).
func Groups(groups ...string) Requirement {
	missing := &ScopeError{Reason: "not in a required group"}
	return func(c *Claims) error {
		for _, g := range groups {
			if c.InGroup(g) {
				return nil
			}
		}
		return missing
	}
}

// Check turns a function into a Requirement. Its error's text is logged:
// keep claim values out of it.
func Check(fn func(c *Claims) error) Requirement { return fn }

// Authenticate reads the bearer token of h (see BearerToken), verifies it
// (see Verify) and applies reqs in order. It is what Require does, for
// callers that are not net/http handlers (Lambda authorizers).
func (b *Bearer) Authenticate(ctx context.Context, h http.Header, reqs ...Requirement) (*Claims, error) {
	tok, err := BearerToken(h, b.maxToken+len("Bearer "))
	if err != nil {
		return nil, err
	}
	c, err := b.Verify(ctx, tok)
	if err != nil {
		return nil, err
	}
	for _, req := range reqs {
		if err := req(c); err != nil {
			if errors.Is(err, ErrInsufficientScope) {
				return nil, err
			}
			return nil, &ScopeError{Reason: "custom requirement refused: " + err.Error()}
		}
	}
	return c, nil
}

type bearerClaimsKey struct{}

// BearerClaimsFrom returns the claims Require put in the request context, or
// nil.
func BearerClaimsFrom(ctx context.Context) *Claims {
	c, _ := ctx.Value(bearerClaimsKey{}).(*Claims)
	return c
}

// WithBearerClaims returns ctx carrying c, as Require makes it; for tests and
// adapters.
func WithBearerClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, bearerClaimsKey{}, c)
}

// Require returns middleware that lets a request reach next only with a
// valid bearer token in its one Authorization header that meets every
// requirement; next finds the claims with BearerClaimsFrom. Refusals go to
// BearerConfig.ErrorHandler, else WriteError. A token in the query
// (access_token, RFC 6750 §2.3) is never accepted: alone it counts as no
// token, beside a header it is a malformed request.
func (b *Bearer) Require(next http.Handler, reqs ...Requirement) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := b.Authenticate(r.Context(), r.Header, reqs...)
		// The cheap test first; "%" because access%5Ftoken is access_token too.
		if q := r.URL.RawQuery; err == nil && (strings.Contains(q, "access_token") || strings.Contains(q, "%")) &&
			r.URL.Query().Has("access_token") {
			err = errTwoMethods
		}
		if err != nil {
			status, _ := bearerStatus(err)
			b.log.LogAttrs(r.Context(), levelFor(status), "authflow: bearer request refused",
				slogErr(err), slog.Int("status", status), slog.String("path", r.URL.Path))
			if b.onError != nil {
				b.onError(w, r, err)
				return
			}
			b.WriteError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithBearerClaims(r.Context(), c)))
	})
}

// WriteError writes the RFC 6750 §3 response for err (from Verify,
// Authenticate or a Requirement): 401 with WWW-Authenticate: Bearer (no
// error code when no token was sent), 400 invalid_request, 401
// invalid_token, 403 insufficient_scope (with the scope attribute), or 503
// when the key set could not be fetched; a JSON body {"error",
// "error_description"}; Cache-Control: no-store. Its text is fixed by this
// package, never copied from the request.
func (b *Bearer) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	status, code := bearerStatus(err)
	var challenge strings.Builder
	challenge.WriteString("Bearer")
	sep := " "
	attr := func(k, v string) {
		challenge.WriteString(sep + k + `="` + v + `"`)
		sep = ", "
	}
	if b.realm != "" {
		attr("realm", b.realm)
	}
	desc := ""
	switch code {
	case "invalid_request":
		desc = "the request's Authorization header is malformed"
	case "invalid_token":
		desc = "the access token is invalid or expired"
		if errors.Is(err, ErrTokenExpired) {
			desc = "the access token expired"
		}
	case "insufficient_scope":
		desc = "the access token does not grant access to this resource"
	}
	if code != "" {
		attr("error", code)
		attr("error_description", desc)
	}
	var se *ScopeError
	if errors.As(err, &se) && se.Scope != "" && isScopeValue(se.Scope) {
		attr("scope", se.Scope)
	}
	h := w.Header()
	if status != http.StatusServiceUnavailable {
		h.Set("WWW-Authenticate", challenge.String())
	} else {
		h.Set("Retry-After", "10")
	}
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	body := map[string]string{"error": code, "error_description": desc}
	switch {
	case status == http.StatusServiceUnavailable:
		body = map[string]string{"error": "temporarily_unavailable", "error_description": "the token can't be checked now; retry later"}
	case code == "":
		body = map[string]string{"error": "unauthorized", "error_description": "a bearer token is required"}
	}
	json.NewEncoder(w).Encode(body)
}

// isScopeValue reports whether s may go in a quoted scope attribute: RFC 6749
// §3.3 scope-tokens (%x21 / %x23-5B / %x5D-7E) separated by spaces.
func isScopeValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != ' ' && (c < 0x21 || c == '"' || c == '\\' || c > 0x7e) {
			return false
		}
	}
	return true
}
