// Package expiry holds the one rule for when a cached token is renewed before it expires: the
// login flow's sessions (authflow) and the client-credentials source (authflow/m2m) both follow it.
package expiry

import "time"

// Window is how long before exp a token issued at issued is renewed: the configured window,
// but at most half the token's lifetime as issued, so that a short-lived token (20 s, with a
// 1-minute window) is used for half its life rather than renewed at every use. An unknown
// issue time (zero) gives the configured window; the result is never negative.
func Window(configured time.Duration, issued, exp time.Time) time.Duration {
	if issued.IsZero() {
		return max(configured, 0)
	}
	return max(min(configured, exp.Sub(issued)/2), 0)
}
