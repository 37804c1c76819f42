package authflow

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/pubauth/awsauth/tokenstore"
)

// Idle timeout (Config.IdleTimeout) and the end of a session's record.
//
// A session's last use (Session.LastUsed) lives in its record, the one the
// request reads anyway, so a request still costs one store read. Recording a
// use rewrites the record, which must never undo a refresh that another
// instance stored meanwhile (the rotated refresh token would be lost and the
// session end at its next refresh). So a use is recorded:
//
//   - at most once per IdleTimeout/idleSlices per session (touchEvery): the
//     record says "used" to within that, so a session ends after between
//     (1 - 1/idleSlices)·IdleTimeout and IdleTimeout of no use;
//   - under the refresh lease (tokenstore.Locker), whose fenced write is
//     refused once any later lease exists, so no refresh started before the
//     touch can land after it, and none can start during it;
//   - from the record the request read, without reading it again, only when
//     that record is "quiet": not stale (due a refresh) even touchClockMargin
//     from now. A refresh writes only a record that was stale when it loaded
//     it under its lease (redeem), so a refresh that stored new tokens
//     between our read and our lease would have found the record we read
//     stale, earlier than now + touchClockMargin by its clock: impossible
//     while instances' clocks agree within touchClockMargin. Near a refresh
//     the touch reads the record again under the lease (two reads, once per
//     interval).
//
// A store without leases (not a tokenstore.Locker; every store in this module
// is one) gets a plain write, for a quiet record only.
//
// A session's record is kept endedRecordGrace past the session's end (its
// absolute expiry or, from the last recorded use, its idle timeout), so that
// a request soon after sees the end, says why, and runs the hooks; the store
// then drops it by itself.

const (
	// idleSlices divides IdleTimeout into the interval between two writes
	// of a session's last use: 10 makes the precision 10 %.
	idleSlices = 10

	// touchClockMargin is how far instances' clocks may disagree for a touch
	// to skip reading the record again (see above).
	touchClockMargin = 5 * time.Second

	// touchLeaseTTL bounds a touch's hold on the refresh lease: two store
	// round trips.
	touchLeaseTTL = 5 * time.Second

	// endedRecordGrace is how long a session's record outlives the session.
	endedRecordGrace = 10 * time.Minute
)

// over returns why s has ended by now (EndAbsolute or EndIdle), or "".
func (h *Handler) over(s *Session) EndReason {
	now := h.cfg.Now()
	switch {
	case !now.Before(s.Expiry):
		return EndAbsolute
	case h.cfg.IdleTimeout > 0 && !now.Before(s.LastUsed.Add(h.cfg.IdleTimeout)):
		return EndIdle
	}
	return ""
}

// recordExpiry is when the store may drop s's record: endedRecordGrace after
// the session ends, absolutely or, as of its last recorded use, for idleness.
func (h *Handler) recordExpiry(s *Session) time.Time {
	end := s.Expiry
	if h.cfg.IdleTimeout > 0 {
		if idle := s.LastUsed.Add(h.cfg.IdleTimeout); idle.Before(end) {
			end = idle
		}
	}
	return end.Add(endedRecordGrace)
}

// touchEvery is the least age of a recorded use worth rewriting.
func (h *Handler) touchEvery() time.Duration { return h.cfg.IdleTimeout / idleSlices }

// used records that s served a request now, when IdleTimeout is set and the
// recorded use is touchEvery old. It returns the session to serve: s, or the
// touched copy. A touch that fails (the lease held by a refresh: debug; a
// store error: warning) is tried again by a later request: the request is
// served either way, as s is live.
func (h *Handler) used(ctx context.Context, s *Session) *Session {
	if h.cfg.IdleTimeout <= 0 || h.cfg.Now().Sub(s.LastUsed) < h.touchEvery() {
		return s
	}
	next, err := h.touch(ctx, s)
	if err != nil {
		level := slog.LevelWarn
		if errors.Is(err, tokenstore.ErrLeaseHeld) || errors.Is(err, errNotQuiet) {
			level = slog.LevelDebug
		}
		h.cfg.Logger.Log(ctx, level, "authflow: last use not recorded; a later request tries again", slogErr(err))
		return s
	}
	return next
}

// errNotQuiet is touch's refusal, on a store without leases, to write a
// record a refresh may be rewriting.
var errNotQuiet = errors.New("authflow: session near its refresh; use not recorded")

// touch rewrites s's record with LastUsed now (see the file comment).
func (h *Handler) touch(ctx context.Context, s *Session) (*Session, error) {
	locker, ok := h.cfg.Store.(tokenstore.Locker)
	if !ok {
		if !h.quiet(s) {
			return nil, errNotQuiet
		}
		next := *s
		next.LastUsed = h.cfg.Now().UTC()
		b, err := next.marshal()
		if err == nil {
			err = h.cfg.Store.Set(ctx, storeKey(s.ID), b, h.recordExpiry(&next))
		}
		return &next, err
	}
	lease, err := locker.Acquire(ctx, refreshLeaseName(s.ID), touchLeaseTTL)
	if err != nil {
		return nil, err
	}
	defer h.releaseLease(ctx, locker, lease)
	cur := s
	if !h.quiet(s) {
		if cur, err = h.load(ctx, s.ID); err != nil {
			return nil, err
		}
	}
	next := *cur
	next.LastUsed = h.cfg.Now().UTC()
	b, err := next.marshal()
	if err != nil {
		return nil, err
	}
	if err := locker.SetFenced(ctx, lease, storeKey(s.ID), b, h.recordExpiry(&next)); err != nil {
		return nil, err
	}
	return &next, nil
}

// quiet reports whether no instance would refresh s now: s is not stale even
// touchClockMargin from now.
func (h *Handler) quiet(s *Session) bool {
	return !h.expiresWithinAt(s, needAccess|needID, true, h.cfg.Now().Add(touchClockMargin))
}
