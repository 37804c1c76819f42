package authflow

import (
	"context"
	"errors"
	"fmt"
	"time"
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
// session sessionID, refreshing it when it expires within RefreshWindow and
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

// expiresWithin reports whether a needed token expires within d of now.
func (h *Handler) expiresWithin(s *Session, n need, d time.Duration) bool {
	deadline := h.cfg.Now().Add(d)
	if n&needAccess != 0 && !s.tokens.Expiry.IsZero() && !s.tokens.Expiry.After(deadline) {
		return true
	}
	return n&needID != 0 && !s.IDTokenExpiry.After(deadline)
}

// fresh loads a session and refreshes it when a needed token expires within
// RefreshWindow. After a transient refresh failure it still returns the
// session while the needed tokens are unexpired.
func (h *Handler) fresh(ctx context.Context, id string, n need) (*Session, error) {
	s, err := h.load(ctx, id)
	if err != nil || !h.expiresWithin(s, n, h.cfg.RefreshWindow) {
		return s, err
	}
	next, err := h.refreshShared(ctx, id)
	if err == nil {
		if h.expiresWithin(next, n, 0) {
			// The provider answered without the token this caller needs
			// (some send no ID token on refresh).
			return nil, fmt.Errorf("%w: the refresh response did not renew the needed token", ErrRefreshFailed)
		}
		return next, nil
	}
	if errors.Is(err, ErrRefreshFailed) && !h.expiresWithin(s, n, 0) {
		h.cfg.Logger.Warn("authflow: refresh failed; using the current tokens", slogErr(err))
		return s, nil
	}
	return nil, err
}
