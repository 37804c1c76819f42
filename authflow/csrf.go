package authflow

import (
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
)

// Cross-site request forgery defence for the app's own state-changing
// requests (OWASP CSRF Prevention Cheat Sheet: a synchronizer token keyed to
// the session, plus Fetch Metadata and Origin checks). The session cookie is
// SameSite=Lax already; this is the second lock.

// Errors CheckCSRF returns (wrapped); CSRFProtect answers 403 to both.
var (
	// ErrCrossOrigin: the request's Origin header is not the app's origin
	// (the scheme and host of Config.RedirectURL), or its Sec-Fetch-Site
	// header says it came from another site or another origin of this site.
	ErrCrossOrigin = errors.New("authflow: cross-origin request")
	// ErrCSRFToken: the request carries no CSRF token, a wrong one, or one
	// for another session. With no session cookie at all the error also
	// wraps ErrSessionEnded.
	ErrCSRFToken = errors.New("authflow: CSRF token missing or wrong")
)

const (
	// CSRFField is the form field that carries CSRFToken's value.
	CSRFField = "csrf_token"
	// CSRFHeader is the request header that carries CSRFToken's value, for
	// scripts (fetch, XHR); it takes precedence over the form field.
	CSRFHeader = "X-CSRF-Token"
)

// CSRFToken returns the token a state-changing request of r's session must
// send (CSRFField or CSRFHeader), or "" when r has no session cookie. It is
// an HMAC of the session id under the cookie key ring, so it needs no
// storage, is the same for every form of a session, and changes with every
// login.
func (h *Handler) CSRFToken(r *http.Request) string {
	id, ok := h.sessionCookie(r)
	if !ok {
		return ""
	}
	return h.keys.csrfToken(id)
}

// CheckCSRF reports whether r may change state on behalf of its session. In
// order, with the first failure returned:
//
//  1. Origin, when present, must be the app's origin (RFC 6454; the scheme
//     and host of Config.RedirectURL), and Sec-Fetch-Site, when present, must
//     be "same-origin" or "none" (Fetch Metadata); else ErrCrossOrigin. The
//     body is not read.
//  2. r must carry a session cookie; else ErrCSRFToken wrapping
//     ErrSessionEnded.
//  3. The CSRFHeader header, or else the CSRFField form field, must be
//     CSRFToken(r) (under any key of Config.CookieKeys); else ErrCSRFToken.
//     The field is read from r.PostForm: an
//     application/x-www-form-urlencoded body is parsed here (r.ParseForm,
//     which bounds it at 10 MB; wrap r.Body in http.MaxBytesReader for
//     less). A multipart/form-data body is never parsed here, as that would
//     spool its files before the token is known: parse it first with your
//     own limits (r.ParseMultipartForm), or send the header.
//
// CheckCSRF checks whatever the method; CSRFProtect skips the safe ones. It
// does not load the session: an ended session's token still checks, and the
// handler then finds no session.
func (h *Handler) CheckCSRF(r *http.Request) error {
	if err := h.checkOrigin(r); err != nil {
		return err
	}
	id, ok := h.sessionCookie(r)
	if !ok {
		return fmt.Errorf("%w: no session cookie: %w", ErrCSRFToken, ErrSessionEnded)
	}
	token := r.Header.Get(CSRFHeader)
	if token == "" && (r.PostForm != nil || isURLEncodedForm(r)) {
		if r.PostForm == nil {
			r.ParseForm() // a parse error leaves no token: refused below
		}
		if vs := r.PostForm[CSRFField]; len(vs) == 1 {
			token = vs[0]
		}
	}
	if token == "" {
		return fmt.Errorf("%w: no token", ErrCSRFToken)
	}
	if !h.keys.checkCSRF(id, token) {
		return ErrCSRFToken
	}
	return nil
}

// checkOrigin is step 1 of CheckCSRF: the one place the module compares a
// request's origin with the app's.
func (h *Handler) checkOrigin(r *http.Request) error {
	if o := r.Header.Get("Origin"); o != "" && o != originOf(h.cfg.RedirectURL) {
		return fmt.Errorf("%w: Origin is not the app's", ErrCrossOrigin)
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return nil
	}
	return fmt.Errorf("%w: Sec-Fetch-Site is not same-origin", ErrCrossOrigin)
}

func isURLEncodedForm(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// CSRFProtect is middleware that serves next only requests CheckCSRF
// accepts, in the shape of gorilla/csrf's Protect. Safe methods (GET, HEAD,
// OPTIONS, TRACE; RFC 9110 §9.2.1) pass unchecked: they must not change
// state. Other requests that fail get 403 with {"error":"invalid_request"}
// (JSON for programs, a small page for browsers), and the refusal is logged
// at Info as "authflow: request refused by the CSRF check" with one
// attribute, reason. Put it inside RequireLogin, or around handlers that
// need no session as well: a request without a session cookie is refused.
func (h *Handler) CSRFProtect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
			next.ServeHTTP(w, r)
			return
		}
		if err := h.CheckCSRF(r); err != nil {
			h.refuseCSRF(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// refuseCSRF logs and answers every CSRF refusal, Logout's included, the
// same way.
func (h *Handler) refuseCSRF(w http.ResponseWriter, r *http.Request, err error) {
	reason := "csrf_token"
	msg := "The form has expired. Reload the page and try again."
	if errors.Is(err, ErrCrossOrigin) {
		reason = "cross_origin"
		msg = "Cross-origin request refused."
	}
	h.cfg.Logger.LogAttrs(r.Context(), slog.LevelInfo, "authflow: request refused by the CSRF check",
		slog.String("reason", reason))
	httpError(w, r, http.StatusForbidden, "invalid_request", msg)
}
