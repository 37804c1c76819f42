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
	// EndRefreshUnknown: a refresh was sent and its answer lost (a reset or
	// a timeout after the request was written), so the provider may have
	// rotated the refresh token; authflow never presents such a token again
	// (a rotating provider takes a reused refresh token for a stolen one and
	// revokes the grant: RFC 9700 §4.14.2), serves the session while its
	// tokens are valid, then ends it with this reason.
	EndRefreshUnknown EndReason = "refresh_outcome_unknown"
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
	// EndEvicted: the user's sessions reached MaxSessionsPerUser and a newer
	// sign-in evicted this one, the soonest to expire.
	EndEvicted EndReason = "evicted"
)

// SessionEnd describes a session that ended, for Config.OnSessionEndDetail.
type SessionEnd struct {
	// Handle names the session, as Session.Handle and Config.OnSessionEnd
	// have it (a session ended from another instance is known by its handle
	// only).
	Handle string
	// Subject is the user's sub at the provider.
	Subject string
	// Reason says why the session ended.
	Reason EndReason
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

// endSession ends s (endStored) and returns ErrSessionEnded, or the store's
// error when the record could not be deleted.
func (h *Handler) endSession(ctx context.Context, s *Session, reason EndReason, cause error) error {
	if err := h.endStored(ctx, s.Subject, s.sid, s.Handle(), reason, cause); err != nil {
		return err
	}
	return ErrSessionEnded
}
