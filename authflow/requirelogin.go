package authflow

import (
	"errors"
	"net/http"
	"net/url"
)

// RequireLogin is middleware that serves next only to signed-in users, with
// the Session in the request context (SessionFrom).
//
// When the access token is within its refresh window (Config.RefreshWindow)
// it is refreshed first, once for all concurrent requests. If the provider rejects the
// refresh token (invalid_grant) the session ends. If the refresh fails for a
// transient reason the request is served while the access token is still
// valid, and gets 503 otherwise; the session is kept either way, except after
// a refresh whose answer was lost (sent, then reset or timed out): its
// refresh token is never presented again and the session ends when its
// tokens expire (EndRefreshUnknown; refreshlost.go). With
// Config.IdleTimeout set, a request is a use of the session (idle.go); a
// session past its idle timeout or lifetime ends (Config.OnSessionEnd).
//
// Without a session, browsers navigating with GET or HEAD are redirected
// (302) to Config.LoginPath with return_to set to the requested path; other
// callers (Accept: application/json, an Authorization header, XHR, or other
// methods) get 401 with a JSON body {"error":"login_required"}. A store
// failure gives 503: the middleware fails closed.
func (h *Handler) RequireLogin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(h.cfg.SessionCookieName)
		if err != nil {
			h.unauthenticated(w, r)
			return
		}
		s, err := h.fresh(r.Context(), c.Value, needAccess)
		switch {
		case err == nil:
			s = h.used(r.Context(), s) // Config.IdleTimeout (idle.go)
			next.ServeHTTP(w, r.WithContext(withSession(r.Context(), s)))
		case errors.Is(err, ErrSessionEnded):
			h.clearSessionCookie(w)
			h.unauthenticated(w, r)
		default:
			h.cfg.Logger.Error("authflow: session unavailable", slogErr(err))
			httpError(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", "Please try again shortly.")
		}
	})
}

// Session returns the signed-in user's session for r, for pages that serve
// everyone but show more to signed-in users. It refreshes like RequireLogin.
// It returns ErrSessionEnded (wrapped) when r has no live session, and a
// store or refresh error otherwise.
func (h *Handler) Session(r *http.Request) (*Session, error) {
	if s := SessionFrom(r.Context()); s != nil {
		return s, nil
	}
	c, err := r.Cookie(h.cfg.SessionCookieName)
	if err != nil {
		return nil, ErrSessionEnded
	}
	s, err := h.fresh(r.Context(), c.Value, needAccess)
	if err != nil {
		return nil, err
	}
	return h.used(r.Context(), s), nil // Config.IdleTimeout (idle.go)
}

func (h *Handler) unauthenticated(w http.ResponseWriter, r *http.Request) {
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && !wantsJSON(r) {
		target := h.cfg.LoginPath
		if rt := r.URL.RequestURI(); checkReturnTo(rt) == nil {
			target += "?" + url.Values{"return_to": {rt}}.Encode()
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, target, http.StatusFound)
		return
	}
	httpError(w, r, http.StatusUnauthorized, "login_required", "Sign in first.")
}
