package authflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// revokeTimeout bounds the revocation request during logout: the local
// session is gone already, so a slow provider only delays the redirect.
const revokeTimeout = 5 * time.Second

// Logout returns the handler that signs the user out (POST only; other
// methods get 405, so a link or image can't log anyone out).
//
// The request must pass CheckCSRF (its origin, then CSRFToken's value in
// the csrf_token form field or the X-CSRF-Token header); otherwise 403,
// logged as CSRFProtect logs. Without a session cookie it only clears the
// cookie and redirects (303) to PostLogoutRedirectURL. Otherwise it ends
// the session (EndLogout: deleted, Config.OnSessionEnd run), revokes the
// refresh token, or the access token when there is none (RFC 7009; see
// revokeAtLogout; a failed revocation is logged and does not stop the
// logout), clears the cookie, and redirects (303) to the provider's logout (Cognito's
// /logout, or OIDC RP-Initiated Logout's end_session_endpoint with
// id_token_hint) which returns the browser to PostLogoutRedirectURL.
func (h *Handler) Logout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			httpError(w, r, http.StatusMethodNotAllowed, "method_not_allowed", "Use POST.")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
		if err := h.CheckCSRF(r); err != nil {
			if errors.Is(err, ErrSessionEnded) {
				// No session here: nothing to forge, nothing to end.
				h.clearSessionCookie(w)
				http.Redirect(w, r, h.cfg.PostLogoutRedirectURL, http.StatusSeeOther)
				return
			}
			h.refuseCSRF(w, r, err)
			return
		}
		id, _ := h.sessionCookie(r)

		ctx := r.Context()
		s, err := h.load(ctx, id)
		if err != nil && !errors.Is(err, ErrSessionEnded) {
			h.cfg.Logger.Error("authflow: logout could not load the session", slogErr(err))
			httpError(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", "Please try again shortly.")
			return
		}
		if s == nil {
			err = h.cfg.Store.Delete(ctx, storeKey(id)) // a record that does not decode goes too
		} else if err = h.endSession(ctx, s, EndLogout, nil); errors.Is(err, ErrSessionEnded) {
			err = nil
		}
		if err != nil {
			h.cfg.Logger.Error("authflow: logout could not delete the session", slogErr(err))
			httpError(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", "Please try again shortly.")
			return
		}
		h.clearSessionCookie(w)
		target := h.cfg.PostLogoutRedirectURL
		if s != nil {
			// The session is gone already: an unavailable provider only
			// skips the revocation and the provider's own logout.
			p, err := h.provider(ctx)
			if err != nil {
				h.cfg.Logger.Warn("authflow: tokens not revoked", "sub", s.Subject, slogErr(err))
			} else {
				h.revokeAtLogout(ctx, p, s)
			}
			target = h.logoutURL(p, s)
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
	})
}

// logoutURL is where the browser goes to end the provider's own session;
// p is nil when the provider is unavailable.
func (h *Handler) logoutURL(p *provider, s *Session) string {
	switch {
	case h.cfg.Cognito != nil:
		return h.cfg.Cognito.LogoutURL(h.cfg.ClientID, h.cfg.PostLogoutRedirectURL)
	case p != nil && p.meta.EndSessionEndpoint != "":
		q := url.Values{
			"client_id":                {h.cfg.ClientID},
			"post_logout_redirect_uri": {h.cfg.PostLogoutRedirectURL},
		}
		if s.tokens.IDToken != "" {
			q.Set("id_token_hint", s.tokens.IDToken)
		}
		sep := "?"
		if strings.Contains(p.meta.EndSessionEndpoint, "?") {
			sep = "&"
		}
		return p.meta.EndSessionEndpoint + sep + q.Encode()
	}
	return h.cfg.PostLogoutRedirectURL
}

// revokeAtLogout revokes s's refresh token at p's revocation endpoint, if it
// has one; without a refresh token it revokes the access token instead (RFC
// 7009 §2.1 token_type_hint=access_token) while that is unexpired, except at
// Amazon Cognito, whose /oauth2/revoke takes refresh tokens only
// (https://docs.aws.amazon.com/cognito/latest/developerguide/revocation-endpoint.html).
// A failure is logged: the local session is gone already (SECURITY.md F.27).
func (h *Handler) revokeAtLogout(ctx context.Context, p *provider, s *Session) {
	if p.meta.RevocationEndpoint == "" {
		return
	}
	tok, hint := s.tokens.RefreshToken, "refresh_token"
	if tok == "" {
		if h.cfg.Cognito != nil || cognitoIssuer(h.cfg.Issuer) || s.tokens.AccessToken == "" ||
			s.tokens.ExpiresWithin(h.cfg.Now(), 0) {
			return
		}
		tok, hint = s.tokens.AccessToken, "access_token"
	}
	if err := h.revoke(ctx, p, tok, hint); err != nil {
		h.cfg.Logger.Warn("authflow: token revocation failed", "sub", s.Subject, "token_type_hint", hint, slogErr(err))
	}
}

// revoke asks the provider to revoke token, of the kind hint names
// ("refresh_token" or "access_token"; RFC 7009 §2.1). Revoking a refresh
// token also ends the access tokens issued from it at providers that support
// it (Cognito does). 200 means revoked or unknown; both are success.
func (h *Handler) revoke(ctx context.Context, p *provider, token, hint string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), revokeTimeout)
	defer cancel()
	form := url.Values{"token": {token}, "token_type_hint": {hint}}
	if h.cfg.ClientSecret == "" {
		form.Set("client_id", h.cfg.ClientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.meta.RevocationEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("authflow: revocation request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if h.cfg.ClientSecret != "" {
		// RFC 6749 §2.3.1: form-encode both parts before Basic encoding.
		req.SetBasicAuth(url.QueryEscape(h.cfg.ClientID), url.QueryEscape(h.cfg.ClientSecret))
	}
	ctx, span := h.tel.tokenRequest(ctx, "awsauth.token.revoke", p.meta.RevocationEndpoint)
	resp, err := p.client.Do(req.WithContext(ctx))
	h.tel.revokeDone(span, resp, err)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("authflow: revocation: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("authflow: revocation: status %s", resp.Status)
	}
	return nil
}
