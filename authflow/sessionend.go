package authflow

import (
	"context"
	"errors"
	"fmt"
)

// EndReason says why a session ended. It is one of the constants below: the
// one set the log line, Config.OnSessionEndDetail and the
// awsauth.session.end_reason metric attribute (README.md, Telemetry) share.
type EndReason string

// The ways a session ends.
const (
	// EndLogout: the user signed out (Handler.Logout).
	EndLogout EndReason = "logout"
	// EndIdle: the session went unused for Config.IdleTimeout.
	EndIdle EndReason = "idle"
	// EndAbsolute: Config.SessionLifetime (or the provider's
	// refresh_expires_in) since sign-in has passed.
	EndAbsolute EndReason = "absolute"
	// EndInvalidGrant: the provider refused the refresh token (RFC 6749 §5.2
	// invalid_grant): revoked, expired, or the user disabled.
	EndInvalidGrant EndReason = "invalid_grant"
	// EndNoRefreshToken: the access token expired and there is no refresh
	// token to renew it with.
	EndNoRefreshToken EndReason = "no_refresh_token"
	// EndIDTokenRefused: a refresh returned an ID token that fails its checks
	// (OIDC Core §12.2).
	EndIDTokenRefused EndReason = "id_token_refused"
	// EndBackChannel: the provider ended the session through OpenID Connect
	// Back-Channel Logout 1.0.
	EndBackChannel EndReason = "back_channel"
	// EndSignedOutEverywhere: every session of the user was ended at once
	// ("sign out everywhere").
	EndSignedOutEverywhere EndReason = "signed_out_everywhere"
	// EndByApp: the application ended it (Handler.EndSession).
	EndByApp EndReason = "ended_by_app"
	// EndReplaced: a new sign-in in the same browser replaced it.
	EndReplaced EndReason = "replaced"
)

// SessionEnd describes a session that ended, for Config.OnSessionEndDetail.
type SessionEnd struct {
	// ID is the session's id, as Session.ID and Config.OnSessionEnd have it.
	ID string
	// Subject is the user's sub at the provider.
	Subject string
	// Reason says why the session ended.
	Reason EndReason
}

// EndSession ends session sessionID for the application, with reason
// EndByApp: its record is deleted, so its next request is signed out, and
// Config.OnSessionEnd and OnSessionEndDetail run. It neither revokes the
// session's tokens at the provider nor ends the provider's own session. A
// session that has already ended (or never existed) is no error and runs no
// hook. It returns a store error, wrapped, when the session could not be read
// or deleted.
func (h *Handler) EndSession(ctx context.Context, sessionID string) error {
	return h.endID(ctx, sessionID, EndByApp)
}

// endID ends session id for reason; an ended (or unknown) session is no
// error. load may end it for another reason first (idle, absolute).
func (h *Handler) endID(ctx context.Context, id string, reason EndReason) error {
	s, err := h.load(ctx, id)
	if err == nil {
		err = h.endSession(ctx, s, reason, nil)
	}
	if errors.Is(err, ErrSessionEnded) {
		return nil
	}
	return err
}

// end deletes session s's record and returns ErrSessionEnded, wrapped with
// the reason; the cause, when not nil, is logged. A failed delete is logged:
// the session is over for this caller either way.
func (h *Handler) end(ctx context.Context, s *Session, reason EndReason, cause error) error {
	if err := h.endSession(ctx, s, reason, cause); !errors.Is(err, ErrSessionEnded) {
		h.cfg.Logger.Warn("authflow: deleting an ended session failed", slogErr(err))
	}
	return fmt.Errorf("%w: %s", ErrSessionEnded, reason)
}

// endSession deletes s's record, then logs the end, counts it and runs the
// hooks, once for all concurrent enders of s in this process (their reason is
// the first one's). It returns ErrSessionEnded, or the store's error when
// the record could not be deleted; the hooks run only after a delete.
func (h *Handler) endSession(ctx context.Context, s *Session, reason EndReason, cause error) error {
	_, err, _ := h.ending.Do(s.ID, func() (any, error) {
		if err := h.cfg.Store.Delete(ctx, storeKey(s.ID)); err != nil {
			return nil, fmt.Errorf("authflow: deleting the session: %w", err)
		}
		attrs := []any{"sub", s.Subject, "reason", string(reason)}
		if cause != nil {
			attrs = append(attrs, slogErr(cause))
		}
		h.cfg.Logger.Info("authflow: session ended", attrs...)
		h.tel.sessionEnded(ctx, reason)
		if h.cfg.OnSessionEnd != nil {
			h.cfg.OnSessionEnd(s.ID)
		}
		if h.cfg.OnSessionEndDetail != nil {
			h.cfg.OnSessionEndDetail(ctx, SessionEnd{ID: s.ID, Subject: s.Subject, Reason: reason})
		}
		return nil, ErrSessionEnded
	})
	return err
}
