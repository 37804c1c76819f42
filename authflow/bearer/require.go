package bearer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/pubauth/awsauth/internal/httpx"
)

// A Requirement is a per-route rule on a verified token, applied by Require
// and Authenticate after Verify, on every request (a cached token too). It
// returns nil to let the request through, or an error that refuses it:
//
//   - an error that wraps ErrInvalidToken (a token revoked since it was
//     issued, say): 401 invalid_token;
//   - an error that wraps ErrRevocationUnavailable (NotRevoked could not
//     ask the issuer): 503;
//   - any other error (a *ScopeError, or any error, which is then wrapped in
//     ErrInsufficientScope): 403 insufficient_scope (RFC 6750 §3.1).
//
// The error's text is logged: keep claim values out of it. ctx is the
// request's; a Requirement that does I/O must honour it. It must not modify c.
type Requirement func(ctx context.Context, c *Claims) error

// Scopes requires every one of scopes in the token's scope claim (RFC 6750
// §3: the 403 challenge then names them in its scope attribute).
func Scopes(scopes ...string) Requirement {
	need := strings.Join(scopes, " ")
	missing := &ScopeError{Scope: need, Reason: "a required scope is missing"}
	return func(_ context.Context, c *Claims) error {
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
	return func(_ context.Context, c *Claims) error {
		for _, g := range groups {
			if c.InGroup(g) {
				return nil
			}
		}
		return missing
	}
}

// Check turns a function into a Requirement, the one hook for custom rules
// (tenant, revocation list, ...). Its error refuses the request with 403
// insufficient_scope, or with 401 invalid_token when it wraps
// ErrInvalidToken (use that for "this token is no good", 403 for "this token
// may not do this"). Its text is logged: keep claim values out of it.
func Check(fn func(ctx context.Context, c *Claims) error) Requirement { return fn }

// Authenticate reads the bearer token of h (see TokenFromHeader), verifies
// it (see Verify) and applies reqs in order, stopping at the first refusal.
// It is what Require does, for callers that are not net/http handlers
// (Lambda authorizers). A Requirement's refusal is returned as Apply
// returns it.
func (v *Verifier) Authenticate(ctx context.Context, h http.Header, reqs ...Requirement) (*Claims, error) {
	tok, err := TokenFromHeader(h, v.maxToken+len("Bearer "))
	if err != nil {
		return nil, err
	}
	c, err := v.Verify(ctx, tok)
	if err != nil {
		return nil, err
	}
	if err := Apply(ctx, c, reqs...); err != nil {
		return nil, err
	}
	return c, nil
}

// Apply applies reqs to c, verified claims, in order, as Authenticate does,
// stopping at the first refusal; for adapters that need the claims of a
// refused token (a Lambda authorizer's Deny policy names its subject). It
// returns nil, or an error that wraps ErrInvalidToken (the Requirement's own
// error, 401), ErrRevocationUnavailable (NotRevoked's fault, 503) or
// ErrInsufficientScope (403): a Requirement's error that wraps none of them
// is wrapped in ErrInsufficientScope.
func Apply(ctx context.Context, c *Claims, reqs ...Requirement) error {
	for _, req := range reqs {
		if err := req(ctx, c); err != nil {
			if errors.Is(err, ErrInsufficientScope) || errors.Is(err, ErrInvalidToken) || errors.Is(err, ErrRevocationUnavailable) {
				return err
			}
			return fmt.Errorf("%w: custom requirement refused: %w", ErrInsufficientScope, err)
		}
	}
	return nil
}

type claimsKey struct{}

// ClaimsFrom returns the claims Require put in the request context, or nil.
func ClaimsFrom(ctx context.Context) *Claims {
	c, _ := ctx.Value(claimsKey{}).(*Claims)
	return c
}

// WithClaims returns ctx carrying c, as Require makes it; for tests and
// adapters.
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// Require returns middleware that lets a request reach next only with a
// valid bearer token in its one Authorization header that meets every
// requirement; next finds the claims with ClaimsFrom. Refusals go to
// Config.ErrorHandler, else WriteError. A token in the query
// (access_token, RFC 6750 §2.3) is never accepted: alone it counts as no
// token, beside a header it is a malformed request.
func (v *Verifier) Require(next http.Handler, reqs ...Requirement) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := v.Authenticate(r.Context(), r.Header, reqs...)
		// The cheap test first; "%" because access%5Ftoken is access_token too.
		if q := r.URL.RawQuery; err == nil && (strings.Contains(q, "access_token") || strings.Contains(q, "%")) &&
			r.URL.Query().Has("access_token") {
			err = errTwoMethods
		}
		if err != nil {
			status, _ := statusOf(err)
			v.log.LogAttrs(r.Context(), httpx.LevelFor(status), "bearer: request refused",
				slog.String("error", err.Error()), slog.Int("status", status), slog.String("path", r.URL.Path))
			if v.onError != nil {
				v.onError(w, r, err)
				return
			}
			v.WriteError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithClaims(r.Context(), c)))
	})
}

// WriteError writes the RFC 6750 §3 response for err (from Verify,
// Authenticate or a Requirement): 401 with WWW-Authenticate: Bearer (no
// error code when no token was sent), 400 invalid_request, 401
// invalid_token, 403 insufficient_scope (with the scope attribute), or 503
// when the key set could not be fetched or a revocation check answered
// nothing (ErrRevocationUnavailable); a JSON body {"error",
// "error_description"}; Cache-Control: no-store. Its text is fixed by this
// package, never copied from the request.
func (v *Verifier) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	status, code := statusOf(err)
	var challenge strings.Builder
	challenge.WriteString("Bearer")
	sep := " "
	attr := func(k, v string) {
		challenge.WriteString(sep + k + `="` + v + `"`)
		sep = ", "
	}
	if v.realm != "" {
		attr("realm", v.realm)
	}
	desc := ""
	switch code {
	case "invalid_request":
		desc = "the request's Authorization header is malformed"
	case "invalid_token":
		desc = "the access token is invalid or expired"
		switch {
		case errors.Is(err, ErrTokenExpired):
			desc = "the access token expired"
		case errors.Is(err, ErrTokenRevoked):
			desc = "the access token is no longer active"
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
