package alb

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/pubauth/awsauth/authflow/bearer"
	"github.com/pubauth/awsauth/internal/httpx"
)

// Authenticate verifies the one x-amzn-oidc-data header of h (see Verify)
// and, with Config.AccessToken set, x-amzn-oidc-accesstoken: verified by
// that bearer.Verifier, of the same subject, then reqs applied to its claims
// in order (bearer.Apply). reqs without Config.AccessToken fail with
// ErrNoAccessTokenVerifier. It is what Require does, for callers that are
// not net/http handlers.
func (v *Verifier) Authenticate(ctx context.Context, h http.Header, reqs ...bearer.Requirement) (*Claims, error) {
	vals := h[HeaderData]
	switch {
	case len(vals) == 0:
		return nil, ErrNoToken
	case len(vals) > 1:
		return nil, errSeveralHeaders
	}
	c, err := v.Verify(ctx, vals[0])
	if err != nil {
		return nil, err
	}
	if v.access == nil {
		if len(reqs) > 0 {
			return nil, ErrNoAccessTokenVerifier
		}
		return c, nil
	}
	toks := h[HeaderAccessToken]
	if len(toks) != 1 {
		return nil, errNoAccessToken
	}
	ac, err := v.access.Verify(ctx, toks[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAccessToken, err)
	}
	if ac.Subject != c.Subject {
		return nil, errSubject
	}
	if err := bearer.Apply(ctx, ac, reqs...); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAccessToken, err)
	}
	c.AccessToken = ac
	return c, nil
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
// valid x-amzn-oidc-data header from the configured load balancer (and,
// with Config.AccessToken, a valid access token meeting every one of reqs);
// next finds the claims with ClaimsFrom. Refusals go to
// Config.ErrorHandler, else WriteError.
func (v *Verifier) Require(next http.Handler, reqs ...bearer.Requirement) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := v.Authenticate(r.Context(), r.Header, reqs...)
		if err != nil {
			status := StatusOf(err)
			v.log.LogAttrs(r.Context(), httpx.LevelFor(status), "alb: request refused",
				slog.String("error", err.Error()), slog.Int("status", status), slog.String("path", r.URL.Path))
			if v.onError != nil {
				v.onError(w, r, err)
				return
			}
			WriteError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithClaims(r.Context(), c)))
	})
}

// WriteError writes the response for err: the status of StatusOf, a JSON
// body {"error", "error_description"} of fixed text, Cache-Control: no-store.
// No WWW-Authenticate: the browser signs in at the load balancer, not here.
func WriteError(w http.ResponseWriter, _ *http.Request, err error) {
	status := StatusOf(err)
	code, desc := "unauthorized", "the request did not come signed by the load balancer, or its sign-in expired"
	switch status {
	case http.StatusForbidden:
		code, desc = "forbidden", "the access token does not grant access to this resource"
	case http.StatusServiceUnavailable:
		code, desc = "temporarily_unavailable", "the sign-in can't be checked now; retry later"
		w.Header().Set("Retry-After", "10")
	case http.StatusInternalServerError:
		code, desc = "server_error", "the sign-in check is misconfigured"
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}
