package authflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/pubauth/awsauth/internal/jwks"
	"github.com/pubauth/awsauth/internal/jwt"
	"github.com/pubauth/awsauth/tokenstore"
)

// ErrLogoutToken wraps every reason BackChannelLogout refuses a logout
// token: the core's reason (wrong iss or aud, iat outside the clock skew,
// nonce present, the back-channel logout event missing, neither sid nor
// sub, a bad signature, a typ of another kind, ...) or ErrLogoutReplayed.
// The message never quotes the token or a claim value.
var ErrLogoutToken = errors.New("authflow: invalid logout token")

// ErrLogoutReplayed: the logout token's jti has been seen before, on any
// instance sharing the store, within the token's lifetime.
var ErrLogoutReplayed = fmt.Errorf("%w: jti replayed", ErrLogoutToken)

// maxLogoutRequest bounds the back-channel logout request body: one
// form-encoded logout token of at most jwks.DefaultMaxTokenBytes.
const maxLogoutRequest = 2 * jwks.DefaultMaxTokenBytes

// newLogoutTokenVerifier is BackChannelLogout's verifier: the core's logout
// token profile for cfg.ClientID on the provider's key set.
func newLogoutTokenVerifier(cfg *Config, keys *jwks.KeySet, algs []string) (*jwt.Verifier, error) {
	return jwt.New(jwt.Config{
		Issuer:     cfg.Issuer,
		Keys:       keys,
		Algorithms: algs,
		Profile:    jwt.LogoutToken([]string{cfg.ClientID}, cfg.TrustedAudiences),
		ClockSkew:  cfg.ClockSkew,
		Now:        cfg.Now,
	})
}

// BackChannelLogout returns the handler of the client's
// backchannel_logout_uri (OpenID Connect Back-Channel Logout 1.0): register
// its absolute URL with the provider, with backchannel_logout_session_required
// true if the provider should always send sid. The provider POSTs a logout
// token (§2.5: application/x-www-form-urlencoded, one logout_token
// parameter); the handler verifies it through the module's verification
// core (§2.6: signature on the provider's key set, iss, aud as for ID
// tokens, iat within Config.ClockSkew of now, exp when present, typ absent,
// JWT or logout+jwt, the back-channel logout event, jti, sid and/or sub, no
// nonce), refuses a jti seen before (a replay cache in Config.Store for the
// token's lifetime, shared by every instance: an atomic Locker.Acquire when
// the store is a tokenstore.Locker, as every store of this module is;
// otherwise a read then a write, so two instances given the same token at the
// same moment may both accept it), then ends the sessions it names (§2.7):
// those of the provider session sid (of the user sub, when sub is sent too),
// or, with sub alone, every session of the user. Each ends as at logout,
// with reason EndBackChannel: its record is deleted, it leaves its indexes,
// OnSessionEnd runs for it. The sessions may have been created on any
// instance sharing the store; their browsers are signed out at their next
// request.
//
// It answers (§2.8, always with Cache-Control: no-store) 200 with an empty
// body when the token is good, whether or not a session was found; 400 with a
// JSON body {"error":"invalid_request"} when the request or the token is
// refused (nothing is ended then); 400 with "temporarily_unavailable" when
// the store or the provider's key set fails, or the store keeps no index
// (ErrNoIndex) — the replay cache then forgets the token, so that the
// provider may send it again; 405 for a method other than POST. Every
// refusal is logged with its reason, never with the token.
//
// Amazon Cognito does not send back-channel logout requests; use
// EndUserSessions after AdminUserGlobalSignOut instead.
func (h *Handler) BackChannelLogout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		n, err := h.backChannelLogout(w, r)
		if err == nil {
			h.cfg.Logger.Info("authflow: back-channel logout", "sessions_ended", n)
			w.WriteHeader(http.StatusOK)
			return
		}
		code := "invalid_request"
		level := levelFor(http.StatusBadRequest)
		if !errors.Is(err, ErrLogoutToken) {
			code, level = "temporarily_unavailable", levelFor(http.StatusServiceUnavailable)
		}
		h.cfg.Logger.Log(r.Context(), level, "authflow: back-channel logout refused", slogErr(err))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": code})
	})
}

// backChannelLogout verifies the request's logout token and ends the
// sessions it names; it returns how many. Its errors wrap ErrLogoutToken
// for a refused request or token, and are faults otherwise.
func (h *Handler) backChannelLogout(w http.ResponseWriter, r *http.Request) (int, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxLogoutRequest)
	if err := r.ParseForm(); err != nil {
		return 0, fmt.Errorf("%w: unreadable request body", ErrLogoutToken)
	}
	tokens := r.PostForm["logout_token"]
	if len(tokens) != 1 || tokens[0] == "" {
		return 0, fmt.Errorf("%w: want one logout_token form parameter", ErrLogoutToken)
	}
	ctx := r.Context()
	ix, err := h.indexer()
	if err != nil {
		return 0, err
	}
	p, err := h.provider(ctx)
	if err != nil {
		return 0, err
	}
	// Anyone can post here: an unknown kid refetches only within the key
	// set's interval.
	c, err := p.logoutTokens.Verify(ctx, tokens[0], jwt.Options{Refetch: jwks.RefetchLimited})
	switch {
	case errors.Is(err, jwt.ErrKeySetUnavailable):
		return 0, fmt.Errorf("authflow: logout token: %w", err)
	case err != nil:
		return 0, fmt.Errorf("%w: %w", ErrLogoutToken, err)
	}
	forget, err := h.firstUse(ctx, c)
	if err != nil {
		return 0, err
	}
	n, err := h.endNamed(ctx, ix, c)
	if err != nil {
		forget()
	}
	return n, err
}

// endNamed ends the sessions a verified logout token names (§2.7).
func (h *Handler) endNamed(ctx context.Context, ix tokenstore.Indexer, c *jwt.Claims) (int, error) {
	if c.SessionID == "" {
		return h.endAll(ctx, c.Subject, EndBackChannel)
	}
	handles, err := ix.Index(ctx, h.sidIndex(c.SessionID))
	if err != nil {
		return 0, fmt.Errorf("authflow: listing sessions: %w", err)
	}
	n := 0
	for _, handle := range handles {
		s, err := h.loadHandle(ctx, handle)
		switch {
		case errors.Is(err, ErrSessionEnded):
			continue // the record is gone; its index entries expire with it
		case err != nil:
			return n, err
		case s.sid != c.SessionID || c.Subject != "" && s.Subject != c.Subject:
			continue
		}
		if err := h.endStored(ctx, s.Subject, s.sid, handle, EndBackChannel, nil); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// firstUse records the logout token's jti in the store's replay cache,
// "awsauth/logout-jti/" + base64url(SHA-256(iss NUL jti)), until the token
// can no longer pass verification on any instance (its last acceptable
// moment, plus one clock skew for the other instances' clocks). It returns
// ErrLogoutReplayed when the jti is there already, and a function that
// forgets the jti again.
func (h *Handler) firstUse(ctx context.Context, c *jwt.Claims) (forget func(), err error) {
	name := "awsauth/logout-jti/" + hashPair(h.cfg.Issuer, c.ID)
	now := h.cfg.Now()
	last := c.IssuedAt.Add(h.cfg.ClockSkew) // the core refuses iat older than the skew
	if c.Has(jwt.ClaimExp) && c.Expiry.Add(h.cfg.ClockSkew).Before(last) {
		last = c.Expiry.Add(h.cfg.ClockSkew)
	}
	ttl := max(last.Sub(now)+h.cfg.ClockSkew, time.Second)
	detached := context.WithoutCancel(ctx)

	if l, ok := h.cfg.Store.(tokenstore.Locker); ok {
		lease, err := l.Acquire(ctx, name, ttl)
		switch {
		case errors.Is(err, tokenstore.ErrLeaseHeld):
			return nil, ErrLogoutReplayed
		case err != nil:
			return nil, fmt.Errorf("authflow: logout token replay cache: %w", err)
		}
		return func() {
			if err := l.Release(detached, lease); err != nil {
				h.cfg.Logger.Warn("authflow: forgetting a logout token's jti failed", slogErr(err))
			}
		}, nil
	}
	// No atomic "set if absent": a read, then a write (see BackChannelLogout).
	switch _, err := h.cfg.Store.Get(ctx, name); {
	case err == nil:
		return nil, ErrLogoutReplayed
	case !errors.Is(err, tokenstore.ErrNotFound):
		return nil, fmt.Errorf("authflow: logout token replay cache: %w", err)
	}
	if err := h.cfg.Store.Set(ctx, name, []byte{1}, now.Add(ttl)); err != nil {
		return nil, fmt.Errorf("authflow: logout token replay cache: %w", err)
	}
	return func() {
		if err := h.cfg.Store.Delete(detached, name); err != nil {
			h.cfg.Logger.Warn("authflow: forgetting a logout token's jti failed", slogErr(err))
		}
	}, nil
}
