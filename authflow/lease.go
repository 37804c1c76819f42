package authflow

import (
	"context"
	"time"

	"github.com/pubauth/awsauth/tokenstore"
)

// releaseLease ends a session's refresh lease (refresh.go, idle.go) once its
// holder is done. A release that fails (the store unreachable just then)
// would leave the lease to lapse on its own, and every refresh of that
// session would wait for it until then, up to RefreshTimeout; so it is tried
// again in the background, with backoff, until it succeeds or the lease's
// expiry has passed. Whatever happens, the lease lapses at its expiry:
// releasing is a courtesy that keeps the others from waiting.
func (h *Handler) releaseLease(ctx context.Context, locker tokenstore.Locker, lease tokenstore.Lease) {
	ctx = context.WithoutCancel(ctx)
	err := locker.Release(ctx, lease)
	if err == nil {
		return
	}
	h.cfg.Logger.Warn("authflow: releasing the refresh lease failed; trying again until it lapses", slogErr(err))
	// The lease's expiry is on the store's clock, and Config.Now may be a
	// test's: the wall clock and the longest lease (RefreshTimeout) bound
	// the retries.
	until := time.Now().Add(h.cfg.RefreshTimeout)
	go func() {
		wait := storeRetryMin
		for time.Now().Add(wait).Before(until) {
			time.Sleep(wait) // backoff between attempts, not synchronisation
			if locker.Release(ctx, lease) == nil {
				return
			}
			wait = min(2*wait, storeRetryMax)
		}
	}()
}
