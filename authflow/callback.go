package authflow

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/pubauth/awsauth/internal/httpx"
	"github.com/pubauth/awsauth/internal/jwt"
)

// Errors the callback reports (wrapped) to the logs; the browser sees only a
// generic page.
var (
	// ErrStateMismatch: the state parameter matches no login flow started in
	// this browser (missing, wrong, replayed, expired, or a login CSRF).
	ErrStateMismatch = errors.New("authflow: state does not match a login in progress")
	// ErrIssuerMismatch: the RFC 9207 iss parameter is wrong, or missing while
	// the provider advertises it (mix-up attack defence).
	ErrIssuerMismatch = errors.New("authflow: authorization response iss mismatch")
	// ErrBadCallback: the callback's query is malformed (oversized,
	// duplicated or missing parameters).
	ErrBadCallback = errors.New("authflow: malformed callback request")
	// ErrTokenResponse: the token endpoint's answer is unusable (not a Bearer
	// token, no ID token, an error code).
	ErrTokenResponse = errors.New("authflow: unusable token response")
)

// maxCallbackQuery bounds the callback query before it is parsed.
const maxCallbackQuery = 8 << 10

// callbackParams is the authorization response (RFC 6749 §4.1.2, §4.1.2.1;
// RFC 9207 §2).
type callbackParams struct {
	Code, State, Iss string
	Error            string // error code, when the provider reports one
	ErrorDescription string
}

var errorCodeRE = regexp.MustCompile(`^[a-z_]{1,64}$`)

// parseCallback parses a callback query strictly: each parameter at most
// once, code and state required unless error is present.
func parseCallback(rawQuery string) (callbackParams, error) {
	var p callbackParams
	if len(rawQuery) > maxCallbackQuery {
		return p, fmt.Errorf("%w: query too long", ErrBadCallback)
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return p, fmt.Errorf("%w: %v", ErrBadCallback, "unparseable query")
	}
	one := func(name string) (string, error) {
		vs := q[name]
		switch len(vs) {
		case 0:
			return "", nil
		case 1:
			return vs[0], nil
		}
		return "", fmt.Errorf("%w: repeated %s", ErrBadCallback, name)
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"code", &p.Code}, {"state", &p.State}, {"iss", &p.Iss},
		{"error", &p.Error}, {"error_description", &p.ErrorDescription},
	} {
		if *f.dst, err = one(f.name); err != nil {
			return callbackParams{}, err
		}
	}
	if _, ok := q["error"]; ok {
		if !errorCodeRE.MatchString(p.Error) {
			p.Error = "invalid_error_code"
		}
		return p, nil
	}
	if p.Code == "" || p.State == "" {
		return callbackParams{}, fmt.Errorf("%w: code and state are required", ErrBadCallback)
	}
	return p, nil
}

// Callback returns the redirect_uri handler (GET). It completes the login
// started by Login and, on success, sets the session cookie and redirects
// (303) to the flow's return_to. Every failure leaves no session and no
// stored entry, clears the flow cookie, and shows a generic page: 400 for a
// bad request, 502 when the provider misbehaves, 503 when the store is down.
func (h *Handler) Callback() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			httpError(w, r, http.StatusMethodNotAllowed, "method_not_allowed", "Use GET.")
			return
		}
		ctx, done := h.tel.callback(r.Context())
		status, err := h.callback(w, r.WithContext(ctx))
		done(status, err)
		if err == nil {
			return
		}
		h.cfg.Logger.LogAttrs(r.Context(), levelFor(status), "authflow: callback failed",
			slogErr(err))
		switch status {
		case http.StatusServiceUnavailable:
			httpError(w, r, status, "temporarily_unavailable", "Sign-in is temporarily unavailable. Please try again.")
		case http.StatusBadGateway:
			httpError(w, r, status, "server_error", "The identity provider did not complete the sign-in. Please try again.")
		default:
			httpError(w, r, status, "access_denied", "Sign-in could not be completed. Please start again.")
		}
	})
}

func (h *Handler) callback(w http.ResponseWriter, r *http.Request) (int, error) {
	p, err := parseCallback(r.URL.RawQuery)
	if err != nil {
		return http.StatusBadRequest, err
	}
	if p.Error != "" {
		if p.State != "" {
			h.clearFlowCookie(w, h.flowCookieName(p.State))
		}
		// error_description is logged length-bounded, never shown: it is
		// attacker-controllable text.
		desc := p.ErrorDescription
		if len(desc) > 200 {
			desc = desc[:200]
		}
		return http.StatusBadRequest, fmt.Errorf("%w %q (%s)", errProviderError, p.Error, strconv.Quote(desc))
	}

	name := h.flowCookieName(p.State)
	c, err := r.Cookie(name)
	if err != nil {
		return http.StatusBadRequest, ErrStateMismatch
	}
	h.clearFlowCookie(w, name) // single use, whatever happens next
	plain, err := h.keys.open(name, c.Value, maxFlowCookieLen)
	if err != nil {
		return http.StatusBadRequest, fmt.Errorf("%w: %w", ErrStateMismatch, err)
	}
	var f flow
	if err := f.unmarshal(plain); err != nil {
		return http.StatusBadRequest, fmt.Errorf("%w: %w", ErrStateMismatch, err)
	}
	if subtle.ConstantTimeCompare([]byte(f.State), []byte(p.State)) != 1 {
		return http.StatusBadRequest, ErrStateMismatch
	}
	now := h.cfg.Now()
	if now.Sub(f.Created) > h.cfg.FlowLifetime || f.Created.After(now.Add(h.cfg.ClockSkew)) {
		return http.StatusBadRequest, fmt.Errorf("%w: login flow expired", ErrStateMismatch)
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.RefreshTimeout)
	defer cancel()
	prov, err := h.provider(ctx)
	if err != nil {
		return http.StatusServiceUnavailable, err
	}
	if p.Iss != "" || prov.meta.AuthorizationIssParam {
		if p.Iss != h.cfg.Issuer {
			return http.StatusBadRequest, ErrIssuerMismatch
		}
	}

	tctx, span := h.tel.tokenRequest(ctx, "awsauth.token.exchange", prov.oauth.Endpoint.TokenURL)
	tok, err := prov.oauth.Exchange(prov.clientContext(tctx), p.Code, oauth2.VerifierOption(f.Verifier))
	h.tel.tokenDone(span, err)
	if err != nil {
		if code := errorCode(err); code != "" {
			return http.StatusBadRequest, fmt.Errorf("%w: token endpoint error %q", ErrTokenResponse, code)
		}
		return http.StatusBadGateway, fmt.Errorf("%w: %s", ErrTokenResponse, describeTokenErr(err))
	}
	ts, rawID, err := tokenSetFrom(tok)
	if err != nil {
		return http.StatusBadGateway, err
	}
	ts.Expiry = h.expiresAt(tok)
	o := f.authentication() // max_age, prompt=login, acr_values as sealed (stepup.go)
	o.Nonce, o.IssuedAfter = f.Nonce, f.Created
	idt, err := h.verifyIDToken(ctx, prov, rawID, o)
	if errors.Is(err, errIDTokenKeys) {
		return http.StatusBadGateway, err
	} else if err != nil {
		return http.StatusBadRequest, err
	}
	kept, err := idt.Subset(h.cfg.ClaimsToKeep)
	if err != nil {
		return http.StatusBadRequest, fmt.Errorf("%w: %w", ErrIDToken, err)
	}

	sess := &Session{
		ID:            randomToken(),
		Subject:       idt.Subject,
		Created:       now.UTC(),
		Expiry:        h.sessionExpiry(now, tok, ts),
		IDTokenExpiry: idt.Expiry,
		issued:        h.cfg.Now().UTC(),
		LastUsed:      now.UTC(),
		claims:        kept,
		nonce:         f.Nonce,
		tokens:        ts,
		ACR:           idt.ACR,
		sid:           idt.SessionID,
		device:        userAgentFamily(r.UserAgent()),
	}
	if idt.Has(jwt.ClaimAuthTime) {
		sess.AuthTime = idt.AuthTime.UTC()
	}
	rec, err := sess.marshal()
	if err != nil {
		return http.StatusBadGateway, fmt.Errorf("%w: %w", ErrTokenResponse, err)
	}
	// Indexed before it is stored (index.go): a session exists only once
	// sign-out-everywhere and back-channel logout can find it.
	if err := h.index(ctx, sess); err != nil {
		return http.StatusServiceUnavailable, err
	}
	if err := h.cfg.Store.Set(ctx, storeKey(sess.ID), rec, h.recordExpiry(sess)); err != nil {
		h.unindex(ctx, sess.Subject, sess.sid, sess.Handle())
		return http.StatusServiceUnavailable, fmt.Errorf("authflow: storing session: %w", err)
	}
	// A session cookie from an earlier login in this browser is replaced;
	// that session ends.
	if old, ok := h.sessionCookie(r); ok {
		h.endReplaced(ctx, old)
	}
	h.setSessionCookie(w, sess)
	h.tel.user(ctx, sess.Subject)
	h.cfg.Logger.Info("authflow: signed in", "sub", sess.Subject)
	http.Redirect(w, r, f.ReturnTo, http.StatusSeeOther)
	return 0, nil
}

// tokenSetFrom checks a token response (RFC 6749 §5.1, OIDC Core §3.1.3.3)
// and returns its tokens.
func tokenSetFrom(tok *oauth2.Token) (TokenSet, string, error) {
	// x/oauth2's Token.Type() defaults an empty type to Bearer; the raw
	// field must say bearer, in any case (RFC 6749 §7.1 is case-insensitive).
	if !strings.EqualFold(tok.TokenType, "bearer") {
		return TokenSet{}, "", fmt.Errorf("%w: token_type is not Bearer", ErrTokenResponse)
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return TokenSet{}, "", fmt.Errorf("%w: no id_token", ErrTokenResponse)
	}
	return TokenSet{
		AccessToken:  tok.AccessToken,
		TokenType:    "Bearer",
		RefreshToken: tok.RefreshToken,
		IDToken:      rawID,
		Expiry:       tok.Expiry.UTC(),
	}, rawID, nil
}

// expiresAt is when tok's access token expires on the handler's clock,
// Config.Now: expires_in (RFC 6749 §5.1) counted from now. x/oauth2's
// Token.Expiry counts it from time.Now, which is another clock when Now is
// set (a test's). Without expires_in, Token.Expiry (zero: unknown).
func (h *Handler) expiresAt(tok *oauth2.Token) time.Time {
	if tok.ExpiresIn > 0 {
		return h.cfg.Now().Add(time.Duration(tok.ExpiresIn) * time.Second).UTC()
	}
	return tok.Expiry.UTC()
}

// sessionExpiry is now + SessionLifetime, shortened by a refresh_expires_in
// the provider may send, and by the access token's expiry when there is no
// refresh token to extend it.
func (h *Handler) sessionExpiry(now time.Time, tok *oauth2.Token, ts TokenSet) time.Time {
	exp := now.Add(h.cfg.SessionLifetime)
	if v, ok := tok.Extra("refresh_expires_in").(float64); ok && v > 0 {
		if e := now.Add(time.Duration(v) * time.Second); e.Before(exp) {
			exp = e
		}
	}
	if ts.RefreshToken == "" && !ts.Expiry.IsZero() && ts.Expiry.Before(exp) {
		exp = ts.Expiry
	}
	return exp.UTC()
}

// describeTokenErr summarizes a token endpoint failure without the response
// body (internal/httpx's one rule, shared with authflow/m2m).
func describeTokenErr(err error) string { return httpx.DescribeTokenError(err) }
