package authflow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/pubauth/awsauth/tokenstore"
)

// ErrSessionEnded is returned when a session does not exist (never did,
// expired, logged out) or can no longer be refreshed (the provider answered
// invalid_grant, or a refreshed ID token failed its checks). The user must
// sign in again. Store failures are not ErrSessionEnded.
var ErrSessionEnded = errors.New("authflow: session ended")

// ErrRefreshFailed wraps a transient refresh failure (provider down, timeout,
// store error while refreshing): the session is kept and the refresh is tried
// again by a later call.
var ErrRefreshFailed = errors.New("authflow: token refresh failed")

// leasePollInterval is how often a caller that lost the cross-instance
// refresh race looks for the winner's result.
const leasePollInterval = 25 * time.Millisecond

// load reads and decodes a session. A missing or corrupt record is
// ErrSessionEnded; so is one past its lifetime or idle timeout, which load
// ends (end: deleted, logged, hooks run). A store failure is returned
// wrapped as it is.
func (h *Handler) load(ctx context.Context, id string) (*Session, error) {
	if !validSessionID(id) {
		return nil, ErrSessionEnded
	}
	b, err := h.cfg.Store.Get(ctx, storeKey(id))
	if errors.Is(err, tokenstore.ErrNotFound) {
		return nil, ErrSessionEnded
	}
	if err != nil {
		return nil, fmt.Errorf("authflow: loading session: %w", err)
	}
	s := &Session{ID: id}
	if err := s.unmarshal(b); err != nil {
		h.cfg.Logger.Warn("authflow: discarding a session record that does not decode", slogErr(err))
		return nil, ErrSessionEnded
	}
	if reason := h.over(s); reason != "" {
		return nil, h.end(ctx, s, reason, nil)
	}
	return s, nil
}

// stale reports whether any token of s needs a refresh now.
func (h *Handler) stale(s *Session) bool {
	return h.expiresWithin(s, needAccess|needID, true)
}

// refreshShared refreshes session id once for all concurrent callers in this
// process. The refresh runs detached from any one caller's cancellation,
// bounded by RefreshTimeout; each caller waits only as long as its own ctx.
func (h *Handler) refreshShared(ctx context.Context, id string) (*Session, error) {
	ch := h.refresh.DoChan(id, func() (any, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.cfg.RefreshTimeout)
		defer cancel()
		rctx, done := h.tel.refreshStart(rctx)
		s, err := h.refreshWithLease(rctx, id)
		done(s, err)
		return s, err
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*Session), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// refreshWithLease takes the store's lease on the session (when the store is
// a Locker), so that of many instances exactly one redeems the refresh token
// and the others adopt its result.
func (h *Handler) refreshWithLease(ctx context.Context, id string) (*Session, error) {
	locker, ok := h.cfg.Store.(tokenstore.Locker)
	if !ok {
		s, err := h.load(ctx, id)
		if err != nil || !h.stale(s) {
			return s, err
		}
		return h.redeem(ctx, s, nil, nil)
	}
	name := refreshLeaseName(id)
	for {
		lease, err := locker.Acquire(ctx, name, h.cfg.RefreshTimeout)
		switch {
		case err == nil:
			s, err := h.load(ctx, id)
			if err == nil && h.stale(s) {
				s, err = h.redeem(ctx, s, locker, &lease)
			}
			h.releaseLease(ctx, locker, lease)
			return s, err
		case !errors.Is(err, tokenstore.ErrLeaseHeld):
			return nil, fmt.Errorf("%w: %w", ErrRefreshFailed, err)
		}
		// Another instance is refreshing: adopt its result once it is stored.
		s, err := h.load(ctx, id)
		if err != nil {
			return nil, err
		}
		if !h.stale(s) {
			return s, nil
		}
		h.tel.leaseWait(ctx)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: waiting for another instance's refresh: %w", ErrRefreshFailed, ctx.Err())
		case <-time.After(leasePollInterval):
		}
	}
}

// refreshLeaseName names session id's lease in a tokenstore.Locker: refresh
// and touch (idle.go) hold it to write the session's record.
func refreshLeaseName(id string) string { return "awsauth/refresh/" + storeKey(id) }

// redeem uses the refresh token (RFC 6749 §6) and stores the result, fenced
// by lease when there is one. Its callers pass only a session that was stale
// when loaded (under the lease): touch (idle.go) relies on that. The stored
// record keeps s.LastUsed: a refresh is not a use (IDTokenFunc refreshes
// for background AWS calls too).
func (h *Handler) redeem(ctx context.Context, s *Session, locker tokenstore.Locker, lease *tokenstore.Lease) (*Session, error) {
	if s.tokens.RefreshToken == "" || s.refreshUnknown {
		if h.cfg.Now().Before(s.tokens.Expiry) {
			return s, nil // nothing to refresh with, but still usable
		}
		reason := EndNoRefreshToken
		if s.refreshUnknown {
			reason = EndRefreshUnknown // refreshlost.go
		}
		return nil, h.end(ctx, s, reason, nil)
	}
	p, err := h.provider(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRefreshFailed, err)
	}
	tctx, span := h.tel.tokenRequest(ctx, "awsauth.token.refresh", p.oauth.Endpoint.TokenURL)
	tctx, wrote := traceWrite(tctx)
	src := p.oauth.TokenSource(p.clientContext(tctx), &oauth2.Token{RefreshToken: s.tokens.RefreshToken})
	tok, err := src.Token()
	h.tel.tokenDone(span, err)
	if err != nil && outcomeUnknown(err, wrote.Load()) && !s.refreshKept {
		return nil, h.refreshLost(ctx, s, locker, lease, describeTokenErr(err))
	}
	if err != nil {
		if errorCode(err) == "invalid_grant" {
			// Another instance may have redeemed and rotated this refresh
			// token (a lapsed lease, or a store without leases): if the
			// store holds a newer one, adopt it rather than log out.
			if cur, lerr := h.load(ctx, s.ID); lerr == nil && cur.tokens.RefreshToken != s.tokens.RefreshToken {
				h.cfg.Logger.Info("authflow: refresh token already rotated elsewhere; adopting the stored tokens", "sub", s.Subject)
				return cur, nil
			}
			return nil, h.end(ctx, s, EndInvalidGrant, nil)
		}
		return nil, fmt.Errorf("%w: %s", ErrRefreshFailed, describeTokenErr(err))
	}
	if !strings.EqualFold(tok.TokenType, "bearer") {
		cause := fmt.Sprintf("%v: token_type is not Bearer", ErrTokenResponse)
		if s.refreshKept {
			return nil, fmt.Errorf("%w: %s", ErrRefreshFailed, cause)
		}
		// Redeemed, but unusable: a rotated refresh token is spent all the same.
		return nil, h.refreshLost(ctx, s, locker, lease, cause)
	}
	next := *s
	next.issued = h.cfg.Now().UTC()
	next.tokens = TokenSet{
		AccessToken:  tok.AccessToken,
		TokenType:    "Bearer",
		RefreshToken: tok.RefreshToken,
		IDToken:      s.tokens.IDToken,
		Expiry:       h.expiresAt(tok),
	}
	if next.tokens.RefreshToken == "" {
		next.tokens.RefreshToken = s.tokens.RefreshToken // RFC 6749 §6: may be kept
	}
	next.refreshKept = next.tokens.RefreshToken == s.tokens.RefreshToken
	if rawID, _ := tok.Extra("id_token").(string); rawID != "" {
		idt, err := h.verifyRefreshedIDToken(ctx, p, s, rawID)
		if err != nil {
			return nil, h.end(ctx, s, EndIDTokenRefused, err)
		}
		next.tokens.IDToken = rawID
		kept, err := idt.Subset(h.cfg.ClaimsToKeep)
		if err != nil {
			return nil, h.end(ctx, s, EndIDTokenRefused, err)
		}
		next.IDTokenExpiry = idt.Expiry
		next.claims = kept
	}
	b, err := next.marshal()
	if err != nil {
		return nil, fmt.Errorf("%w: %w: %w", ErrRefreshFailed, ErrTokenResponse, err)
	}
	if err := h.storeRefreshed(ctx, s.ID, b, h.recordExpiry(&next), locker, lease); err != nil {
		// With rotating refresh tokens the stored one is now spent: this
		// session will likely end at the next refresh.
		h.cfg.Logger.Error("authflow: storing refreshed tokens failed", "sub", s.Subject, slogErr(err))
		return nil, fmt.Errorf("%w: storing refreshed tokens: %w", ErrRefreshFailed, err)
	}
	h.cfg.Logger.Debug("authflow: tokens refreshed", "sub", s.Subject)
	return &next, nil
}

// Backoff between attempts to store a refreshed session.
const (
	storeRetryMin = 100 * time.Millisecond
	storeRetryMax = time.Second
)

// storeRefreshed writes a refreshed session's record rec, fenced by lease
// when there is one. The provider has already redeemed the old refresh token,
// and with rotation spent it: a write given up on would bring the spent token
// back, and its next presentation would revoke the grant (RFC 9700 §4.14.2).
// So a failed write is tried again, with backoff, until it lands, the lease is
// lost (tokenstore.ErrLeaseLost: another holder may act now, and nothing is
// written after a lease lapses), or ctx (RefreshTimeout) ends. Writing the
// same record again is harmless. A store outage longer than what remains of
// RefreshTimeout still loses the refreshed tokens.
func (h *Handler) storeRefreshed(ctx context.Context, id string, rec []byte, expiry time.Time, locker tokenstore.Locker, lease *tokenstore.Lease) error {
	wait := storeRetryMin
	for {
		var err error
		if lease != nil {
			err = locker.SetFenced(ctx, *lease, storeKey(id), rec, expiry)
		} else {
			err = h.cfg.Store.Set(ctx, storeKey(id), rec, expiry)
		}
		if err == nil || errors.Is(err, tokenstore.ErrLeaseLost) {
			return err
		}
		h.cfg.Logger.Warn("authflow: storing refreshed tokens failed; trying again", "in", wait, slogErr(err))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, storeRetryMax)
	}
}
