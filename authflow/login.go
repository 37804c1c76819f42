package authflow

import (
	"net/http"

	"golang.org/x/oauth2"
)

// Login returns the handler that starts a sign-in (GET). An optional
// return_to query parameter names the same-origin path to land on afterwards
// (default "/"); anything else is refused with 400.
//
// It makes a 256-bit state and nonce and a PKCE verifier, seals them in a
// per-login cookie (named Config.FlowCookiePrefix plus a hash of the state;
// Secure, HttpOnly, SameSite=Lax, Path=/; living Config.FlowLifetime), and
// redirects (302) to the authorization endpoint with
// code_challenge_method=S256 (RFC 7636 §4.3, RFC 9700 §2.1.1). While the
// provider is unavailable (see New) it answers 503 and logs why.
func (h *Handler) Login() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			httpError(w, r, http.StatusMethodNotAllowed, "method_not_allowed", "Use GET.")
			return
		}
		q := r.URL.Query()
		returnTo := "/"
		if vs, ok := q["return_to"]; ok {
			if len(vs) != 1 || checkReturnTo(vs[0]) != nil {
				h.cfg.Logger.Info("authflow: login refused an unsafe return_to")
				h.tel.loginRefused(r.Context(), errUnsafeReturnTo)
				httpError(w, r, http.StatusBadRequest, "invalid_request", "The return address is not allowed.")
				return
			}
			returnTo = vs[0]
		}
		p, err := h.provider(r.Context())
		if err != nil {
			h.cfg.Logger.Error("authflow: login unavailable", slogErr(err))
			httpError(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", "Sign-in is temporarily unavailable. Please try again.")
			return
		}
		f := newFlow(returnTo, h.cfg.Now())
		name := h.flowCookieName(f.State)
		http.SetCookie(w, hostCookie(name, h.keys.seal(name, f.marshal()), int(h.cfg.FlowLifetime.Seconds())))
		opts := []oauth2.AuthCodeOption{
			oauth2.S256ChallengeOption(f.Verifier),
			oauth2.SetAuthURLParam("nonce", f.Nonce),
		}
		for k, v := range h.cfg.AuthParams {
			opts = append(opts, oauth2.SetAuthURLParam(k, v))
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, p.oauth.AuthCodeURL(f.State, opts...), http.StatusFound)
		h.tel.loginStarted(r.Context())
	})
}
