package authflow

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptrace"
	"sync/atomic"

	"golang.org/x/oauth2"

	"github.com/pubauth/awsauth/tokenstore"
)

// A refresh request whose answer is lost.
//
// A refresh (RFC 6749 §6) with a rotating provider spends the refresh token
// it presents. When the request was sent and no answer came back (a reset
// connection, a timeout after the request was written), the provider may have
// redeemed it and rotated to a new token the client never saw. Presenting the
// old one again is what refresh-token reuse detection looks for (RFC 9700
// §4.14.2): oidc-provider, Auth0, Okta and Cognito past its grace period then
// refuse it and revoke the whole grant, a false theft alarm that ends the
// session anyway. So authflow tells apart:
//
//   - never sent (no request written: dial error, connection refused): the
//     refresh token is kept and the next refresh presents it, safely;
//   - answered (an HTTP error status from the token endpoint): a known
//     outcome, handled as before (invalid_grant ends the session, others keep
//     it);
//   - sent, outcome unknown (written, then no usable answer): the session's
//     refresh token is marked (Session.refreshUnknown, in the record, fenced
//     by the refresh lease so every instance sees it) and never redeemed
//     again; the session is served while its tokens are valid, then ends with
//     EndRefreshUnknown. The token is kept for revocation at logout.
//
// A provider that does not rotate refresh tokens (Cognito's default: its
// refresh answers carry no refresh_token) leaves the token good after a
// redemption. Once a session's refresh was answered without a new refresh
// token (Session.refreshKept), a lost answer is an ordinary transient
// failure: the token is kept and presented again. Until then (the first
// refresh of a session) authflow can't know and assumes rotation.
//
// The client can't tell a request that never reached the provider (a
// blackhole) from an answer lost on its way back: both are "unknown", and
// such sessions end at their tokens' expiry rather than at the next
// successful refresh. That is the price of never tripping reuse detection.

// errRefreshUnknown marks a refresh whose outcome is unknown (wrapped in
// ErrRefreshFailed); telemetry counts it apart.
var errRefreshUnknown = errors.New("refresh outcome unknown")

// traceWrite returns ctx with an httptrace.ClientTrace that records whether
// a request made with it was written whole to a connection.
func traceWrite(ctx context.Context) (context.Context, *atomic.Bool) {
	wrote := new(atomic.Bool)
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				wrote.Store(true)
			}
		},
	}), wrote
}

// outcomeUnknown reports whether a token request that failed with err, and
// was written (wrote), may have been acted on by the provider: anything but
// an HTTP error status from the token endpoint.
func outcomeUnknown(err error, wrote bool) bool {
	if !wrote {
		return false
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		code := re.Response.StatusCode
		return code >= 200 && code < 300 // redeemed, but the answer is unusable
	}
	return true
}

// refreshLost marks s's refresh token as never to be presented again and
// stores the mark (fenced by lease when there is one). It returns the error
// for the refresh: ErrRefreshFailed, so the session is served while its
// tokens are valid.
func (h *Handler) refreshLost(ctx context.Context, s *Session, locker tokenstore.Locker, lease *tokenstore.Lease, cause string) error {
	err := fmt.Errorf("%w: %w: %s", ErrRefreshFailed, errRefreshUnknown, cause)
	next := *s
	next.refreshUnknown = true
	b, merr := next.marshal()
	if merr == nil {
		merr = h.storeRefreshed(ctx, s.ID, b, h.recordExpiry(&next), locker, lease)
	}
	if merr != nil {
		// The next refresh may present the token again: the provider decides.
		h.cfg.Logger.Error("authflow: refresh outcome unknown and storing that failed", "sub", s.Subject, "cause", cause, slogErr(merr))
		return err
	}
	h.cfg.Logger.Warn("authflow: refresh outcome unknown; the refresh token will not be presented again, the session ends when its tokens expire",
		"sub", s.Subject, "cause", cause, "tokens_expire", s.tokens.Expiry)
	return err
}
