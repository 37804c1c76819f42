package authflow

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// The cookies' default names. The __Host- prefix (RFC 6265bis §4.1.3.2) makes
// a browser refuse the cookie unless it is Secure, Path=/ and has no Domain,
// so neither a sibling subdomain nor a plain-http page can plant or
// overwrite it.
const (
	defaultSessionCookieName = "__Host-awsauth-session"
	defaultFlowCookiePrefix  = "__Host-awsauth-flow-"
)

// hostCookie is every cookie this package sets: Secure, HttpOnly,
// SameSite=Lax, Path=/ and no Domain, which is what the __Host- prefix
// requires, so any configured name may carry it. maxAge < 0 deletes.
func hostCookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	}
}

// sessionCookie returns r's session id, when r has a session cookie of the
// shape randomToken makes.
func (h *Handler) sessionCookie(r *http.Request) (string, bool) {
	c, err := r.Cookie(h.cfg.SessionCookieName)
	if err != nil || !validSessionID(c.Value) {
		return "", false
	}
	return c.Value, true
}

func (h *Handler) setSessionCookie(w http.ResponseWriter, s *Session) {
	http.SetCookie(w, hostCookie(h.cfg.SessionCookieName, s.ID, int(s.Expiry.Sub(h.cfg.Now()).Seconds())))
}

func (h *Handler) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, hostCookie(h.cfg.SessionCookieName, "", -1))
}

// flowCookieName derives a login's cookie name from its state, so the
// callback finds its flow from the state parameter alone, and parallel
// logins in several tabs each keep their own cookie.
func (h *Handler) flowCookieName(state string) string {
	sum := sha256.Sum256([]byte(state))
	return h.cfg.FlowCookiePrefix + base64.RawURLEncoding.EncodeToString(sum[:12])
}

func (h *Handler) clearFlowCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, hostCookie(name, "", -1))
}

// checkCookieNames validates the configured names: RFC 6265 §4.1.1 tokens,
// and a session name that no flow cookie can take.
func checkCookieNames(session, flowPrefix string) []error {
	var errs []error
	for _, n := range []struct{ field, v string }{
		{"SessionCookieName", session}, {"FlowCookiePrefix", flowPrefix},
	} {
		if !isCookieToken(n.v) {
			errs = append(errs, fmt.Errorf("%s %q is not a cookie name (RFC 6265 §4.1.1 token)", n.field, n.v))
		}
	}
	if strings.HasPrefix(session, flowPrefix) {
		errs = append(errs, errors.New("SessionCookieName must not start with FlowCookiePrefix"))
	}
	return errs
}

// isCookieToken reports whether s is a non-empty RFC 7230 token, which is
// what RFC 6265 §4.1.1 allows as a cookie name.
func isCookieToken(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}
