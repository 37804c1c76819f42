package authflow

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pubauth/awsauth/tokenstore"
)

// The per-user session index. Each session is a member of two indexes of the
// store (tokenstore.Indexer), both written at login before the session record
// (so that a session exists only once it can be found) and left after it is
// deleted, at every end:
//
//   - its user's, "awsauth/sessions-of/" + base64url(SHA-256(iss NUL sub)),
//     which lists the user's sessions (Sessions), ends them all
//     (EndUserSessions, a logout token with sub only) and bounds their number
//     (MaxSessionsPerUser);
//   - its provider session's, "awsauth/sid/" + base64url(SHA-256(iss NUL
//     sid)), when the ID token carried sid, which a logout token naming sid
//     ends (backchannel.go).
//
// Members are session handles (Session.Handle): one-way functions of the
// session ids, as the store keys are, so neither the store nor its indexes
// hold a usable session cookie. Each member expires with its session.

// MaxSessionsPerUser bounds a user's sessions: a login that would make one
// more ends the user's session that expires soonest (reason "evicted").
const MaxSessionsPerUser = 50

// maxSessionsPerSID bounds the sessions one provider session names: a
// browser replaces its own session at each login, so more than a few means
// a replayed callback.
const maxSessionsPerSID = 10

// ErrNoIndex is returned by EndUserSessions, Sessions and EndSession, and
// logged by BackChannelLogout, when Config.Store does not implement
// tokenstore.Indexer: such a store can't find a user's sessions. Every store
// of this module implements it; a wrapper of your own must pass it through.
var ErrNoIndex = errors.New("authflow: the store keeps no index of sessions (tokenstore.Indexer)")

// SessionInfo describes one of a user's sessions, for a "your devices" page.
// It holds nothing secret.
type SessionInfo struct {
	// Handle names the session for EndSession (Session.Handle).
	Handle string
	// Created is when the user signed in (UTC).
	Created time.Time
	// LastUsed is when the session was last used (UTC); zero when the
	// session record does not say.
	LastUsed time.Time
	// Expiry is when the session ends at the latest (UTC).
	Expiry time.Time
	// Device is the family of the browser that signed in, such as "Chrome
	// on macOS", "Firefox" or "a browser on Android"; "" when not
	// recognised. It is a label from a fixed set, never the User-Agent.
	Device string
}

// userIndex names sub's index of sessions at the configured issuer.
func (h *Handler) userIndex(sub string) string {
	return "awsauth/sessions-of/" + hashPair(h.cfg.Issuer, sub)
}

// sidIndex names the index of the sessions of the provider session sid.
func (h *Handler) sidIndex(sid string) string {
	return "awsauth/sid/" + hashPair(h.cfg.Issuer, sid)
}

// hashPair is base64url(SHA-256(a NUL b)): injective for strings without NUL.
func hashPair(a, b string) string {
	sum := sha256.Sum256([]byte(a + "\x00" + b))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// indexer is the store's Indexer, or ErrNoIndex.
func (h *Handler) indexer() (tokenstore.Indexer, error) {
	if ix, ok := h.cfg.Store.(tokenstore.Indexer); ok {
		return ix, nil
	}
	return nil, ErrNoIndex
}

// index adds a new session to its indexes, before its record is written: a
// failure fails the login (fail closed). A store without Indexer indexes
// nothing. Sessions evicted from the user's index are ended.
func (h *Handler) index(ctx context.Context, s *Session) error {
	ix, err := h.indexer()
	if err != nil {
		return nil
	}
	handle := s.Handle()
	evicted, err := ix.AddToIndex(ctx, h.userIndex(s.Subject), handle, s.Expiry, MaxSessionsPerUser)
	if err != nil {
		return fmt.Errorf("authflow: indexing the session: %w", err)
	}
	if s.sid != "" {
		if _, err := ix.AddToIndex(ctx, h.sidIndex(s.sid), handle, s.Expiry, maxSessionsPerSID); err != nil {
			h.unindex(ctx, s.Subject, s.sid, handle)
			return fmt.Errorf("authflow: indexing the session: %w", err)
		}
	}
	for _, e := range evicted {
		if _, err := h.endHandle(ctx, s.Subject, e, EndEvicted); err != nil {
			h.cfg.Logger.Warn("authflow: ending an evicted session failed", slogErr(err))
		}
	}
	return nil
}

// unindex removes a session from its indexes; failures are logged (the
// members expire with the session anyway).
func (h *Handler) unindex(ctx context.Context, sub, sid, handle string) {
	ix, err := h.indexer()
	if err != nil {
		return
	}
	if err := ix.RemoveFromIndex(ctx, h.userIndex(sub), handle); err != nil {
		h.cfg.Logger.Warn("authflow: removing an ended session from its user's index failed", slogErr(err))
	}
	if sid != "" {
		if err := ix.RemoveFromIndex(ctx, h.sidIndex(sid), handle); err != nil {
			h.cfg.Logger.Warn("authflow: removing an ended session from its sid index failed", slogErr(err))
		}
	}
}

// endStored is the one way a stored session ends: its record is deleted,
// then it leaves its indexes, the end is logged (with cause, when not nil) and
// counted with reason, and Config.OnSessionEnd and OnSessionEndDetail run with
// its handle; once for all concurrent enders of the session in this process
// (their reason is the first one's). A failed delete returns the error and
// changes nothing else.
func (h *Handler) endStored(ctx context.Context, sub, sid, handle string, reason EndReason, cause error) error {
	_, err, _ := h.ending.Do(handle, func() (any, error) {
		if err := h.cfg.Store.Delete(ctx, handleKey(handle)); err != nil {
			return nil, fmt.Errorf("authflow: deleting the session: %w", err)
		}
		h.unindex(ctx, sub, sid, handle)
		attrs := []any{"sub", sub, "reason", string(reason)}
		if cause != nil {
			attrs = append(attrs, slogErr(cause))
		}
		h.cfg.Logger.Info("authflow: session ended", attrs...)
		h.tel.sessionEnded(ctx, reason)
		if h.cfg.OnSessionEnd != nil {
			h.cfg.OnSessionEnd(handle)
		}
		if h.cfg.OnSessionEndDetail != nil {
			h.cfg.OnSessionEndDetail(ctx, SessionEnd{Handle: handle, Subject: sub, Reason: reason})
		}
		return nil, nil
	})
	return err
}

// loadHandle reads the session a handle names. A missing, corrupt or
// expired record is ErrSessionEnded.
func (h *Handler) loadHandle(ctx context.Context, handle string) (*Session, error) {
	b, err := h.cfg.Store.Get(ctx, handleKey(handle))
	if errors.Is(err, tokenstore.ErrNotFound) {
		return nil, ErrSessionEnded
	}
	if err != nil {
		return nil, fmt.Errorf("authflow: loading session: %w", err)
	}
	var s Session
	if err := s.unmarshal(b); err != nil || !h.cfg.Now().Before(s.Expiry) {
		return nil, ErrSessionEnded
	}
	return &s, nil
}

// endHandle ends the session a handle in sub's index names, and reports
// whether there was one: a member whose record is gone, expired, corrupt or
// another user's only leaves sub's index.
func (h *Handler) endHandle(ctx context.Context, sub, handle string, reason EndReason) (bool, error) {
	s, err := h.loadHandle(ctx, handle)
	switch {
	case errors.Is(err, ErrSessionEnded), err == nil && s.Subject != sub:
		h.unindex(ctx, sub, "", handle)
		return false, nil
	case err != nil:
		return false, err
	}
	return true, h.endStored(ctx, s.Subject, s.sid, handle, reason, nil)
}

// EndUserSessions ends every session of the user sub ("sign out
// everywhere"), on every instance sharing the store: each session's record
// is deleted, it leaves the user's index, and OnSessionEnd runs for it. It
// returns how many sessions it ended. A session created while it runs is
// not ended. The user's tokens at the provider are not revoked: to end the
// provider's own sessions too, use the provider's API (Amazon Cognito:
// GlobalSignOut / AdminUserGlobalSignOut, which also invalidates refresh
// tokens). It returns ErrNoIndex when the store keeps no index, and the
// first store error otherwise (the sessions not yet ended stay listed, so
// calling it again finishes the work).
func (h *Handler) EndUserSessions(ctx context.Context, sub string) (int, error) {
	return h.endAll(ctx, sub, EndSignedOutEverywhere)
}

func (h *Handler) endAll(ctx context.Context, sub string, reason EndReason) (int, error) {
	ix, err := h.indexer()
	if err != nil {
		return 0, err
	}
	handles, err := ix.Index(ctx, h.userIndex(sub))
	if err != nil {
		return 0, fmt.Errorf("authflow: listing sessions: %w", err)
	}
	n := 0
	for _, handle := range handles {
		ended, err := h.endHandle(ctx, sub, handle, reason)
		if err != nil {
			return n, err
		}
		if ended {
			n++
		}
	}
	return n, nil
}

// Sessions lists the live sessions of the user sub, newest first, for a
// "your devices" page (compare SessionInfo.Handle with the current
// session's Handle to mark it). It makes one store read per session, and
// returns ErrNoIndex when the store keeps no index.
func (h *Handler) Sessions(ctx context.Context, sub string) ([]SessionInfo, error) {
	ix, err := h.indexer()
	if err != nil {
		return nil, err
	}
	handles, err := ix.Index(ctx, h.userIndex(sub))
	if err != nil {
		return nil, fmt.Errorf("authflow: listing sessions: %w", err)
	}
	out := make([]SessionInfo, 0, len(handles))
	for _, handle := range handles {
		s, err := h.loadHandle(ctx, handle)
		if errors.Is(err, ErrSessionEnded) || err == nil && s.Subject != sub {
			continue
		} else if err != nil {
			return nil, err
		}
		out = append(out, SessionInfo{
			Handle: handle, Created: s.Created, LastUsed: s.LastUsed, Expiry: s.Expiry, Device: s.device,
		})
	}
	slices.SortStableFunc(out, func(a, b SessionInfo) int { return b.Created.Compare(a.Created) })
	return out, nil
}

// EndSession ends the session handle of the user sub (a "sign out this
// device" button on the page Sessions feeds), on every instance: its record
// is deleted, it leaves the user's index, and OnSessionEnd runs for it. The
// handle must be in sub's index, so a user can end only their own sessions:
// otherwise, or when the session has already ended, it returns
// ErrSessionEnded (wrapped). It returns ErrNoIndex when the store keeps no
// index.
func (h *Handler) EndSession(ctx context.Context, sub, handle string) error {
	ix, err := h.indexer()
	if err != nil {
		return err
	}
	handles, err := ix.Index(ctx, h.userIndex(sub))
	if err != nil {
		return fmt.Errorf("authflow: listing sessions: %w", err)
	}
	if !slices.Contains(handles, handle) {
		return fmt.Errorf("%w: no such session of this user", ErrSessionEnded)
	}
	ended, err := h.endHandle(ctx, sub, handle, EndByApp)
	if err == nil && !ended {
		err = fmt.Errorf("%w: the session has ended", ErrSessionEnded)
	}
	return err
}

// endReplaced ends the session of the cookie a new login in the same browser
// replaces; failures are logged (the login has succeeded).
func (h *Handler) endReplaced(ctx context.Context, id string) {
	s, err := h.load(ctx, id)
	switch {
	case err == nil:
		err = h.endStored(ctx, s.Subject, s.sid, s.Handle(), EndReplaced, nil)
	case errors.Is(err, ErrSessionEnded):
		err = nil
		if validSessionID(id) {
			err = h.cfg.Store.Delete(ctx, storeKey(id)) // a corrupt record, say
		}
	}
	if err != nil {
		h.cfg.Logger.Warn("authflow: ending the replaced session failed", slogErr(err))
	}
}
