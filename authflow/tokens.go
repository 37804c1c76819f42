package authflow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pubauth/awsauth/internal/expiry"
)

// Tokens returns session sessionID's current tokens, refreshing them first
// when the access token or the ID token expires within Config.RefreshWindow.
// It uses ctx for this call only; nothing keeps it.
//
// It returns ErrSessionEnded (wrapped) when the user must sign in again, and
// ErrRefreshFailed (wrapped) when a needed refresh failed transiently and the
// current tokens have expired.
func (h *Handler) Tokens(ctx context.Context, sessionID string) (TokenSet, error) {
	s, err := h.fresh(ctx, sessionID, needAccess|needID)
	if err != nil {
		return TokenSet{}, err
	}
	return s.tokens, nil
}

// IDTokenFunc returns a function that yields a currently valid ID token for
// session sessionID, refreshing it within its refresh window (Config.RefreshWindow) and
// persisting rotated tokens. Each call uses its own ctx; the function holds no
// context and is safe for concurrent use. This is the shape awscreds asks for
// (awscreds.IDTokenFunc).
//
// The function returns ErrSessionEnded (wrapped) once the user must sign in
// again, for example after logout.
func (h *Handler) IDTokenFunc(sessionID string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		s, err := h.fresh(ctx, sessionID, needID)
		if err != nil {
			return "", err
		}
		return s.tokens.IDToken, nil
	}
}

// need names the tokens a caller needs valid.
type need uint8

const (
	needAccess need = 1 << iota
	needID
)

// expiresWithin reports whether a needed token of s has expired, or, with
// early, is within its refresh window.
func (h *Handler) expiresWithin(s *Session, n need, early bool) bool {
	return h.expiresWithinAt(s, n, early, h.cfg.Now())
}

// expiresWithinAt is expiresWithin as of now.
func (h *Handler) expiresWithinAt(s *Session, n need, early bool, now time.Time) bool {
	window := func(exp time.Time) time.Duration {
		if !early {
			return 0
		}
		return h.refreshWindow(s.issued, exp)
	}
	if n&needAccess != 0 && s.tokens.ExpiresWithin(now, window(s.tokens.Expiry)) {
		return true
	}
	// The ID token's expiry is always known: it was verified.
	return n&needID != 0 && !s.IDTokenExpiry.After(now.Add(window(s.IDTokenExpiry)))
}

// refreshWindow is how long before exp a token that came from the token
// endpoint at issued is refreshed: Config.RefreshWindow, but at most half
// the token's lifetime as issued, so a short-lived token (20 s, with the
// default 1-minute window) is used for half its life rather than refreshed
// on every request. An unknown issue time gives RefreshWindow.
func (h *Handler) refreshWindow(issued, exp time.Time) time.Duration {
	return expiry.Window(h.cfg.RefreshWindow, issued, exp)
}

// fresh loads a session and refreshes it when a needed token is within its
// refresh window. After a transient refresh failure it still returns the
// session while the needed tokens are unexpired.
func (h *Handler) fresh(ctx context.Context, id string, n need) (*Session, error) {
	s, err := h.load(ctx, id)
	if err != nil || !h.expiresWithin(s, n, true) {
		return s, err
	}
	next, err := h.refreshShared(ctx, id)
	if err == nil {
		if h.expiresWithin(next, n, false) {
			// The provider answered without the token this caller needs
			// (some send no ID token on refresh).
			return nil, fmt.Errorf("%w: the refresh response did not renew the needed token", ErrRefreshFailed)
		}
		return next, nil
	}
	if errors.Is(err, ErrRefreshFailed) && !h.expiresWithin(s, n, false) {
		h.cfg.Logger.Warn("authflow: refresh failed; using the current tokens", slogErr(err))
		return s, nil
	}
	return nil, err
}
