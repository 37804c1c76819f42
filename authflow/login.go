package authflow

import (
	"net/http"
)

// Login returns the handler that starts a sign-in (GET). An optional
// return_to query parameter names the same-origin path to land on afterwards
// (default "/"); anything else is refused with 400. No other query parameter
// is read: the application chooses a login's parameters (LoginWith,
// StartLogin).
//
// It makes a 256-bit state and nonce and a PKCE verifier, seals them in a
// per-login cookie (named Config.FlowCookiePrefix plus a hash of the state;
// Secure, HttpOnly, SameSite=Lax, Path=/; living Config.FlowLifetime), and
// redirects (302) to the authorization endpoint with
// code_challenge_method=S256 (RFC 7636 §4.3, RFC 9700 §2.1.1) and
// Config.AuthParams. While the provider is unavailable (see New) it answers
// 503 and logs why. It is LoginWith(LoginOptions{}).
func (h *Handler) Login() http.Handler { return h.LoginWith(LoginOptions{}) }
