package awscreds

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Riding out a failed refresh: how long the last credentials are handed out again before the
// next attempt, and how close to their real expiry they may be handed out at all.
const (
	rideOutRetry  = 10 * time.Second
	rideOutMargin = 5 * time.Second
)

// rideOut keeps a provider's last good credentials, with their real expiry, so that
// aws.CredentialsCache can keep serving them through a transient AWS fault while they are
// still valid. The cache only knows credentials whose expiry it has moved forward by its
// ExpiryWindow, which is why the provider keeps its own copy.
type rideOut struct {
	mu    sync.Mutex
	last  aws.Credentials // unadjusted: Expires is AWS's Expiration
	until time.Time       // Expires of the credentials last handed out by handle; zero if none
}

func (r *rideOut) succeeded(c aws.Credentials) {
	r.mu.Lock()
	r.last, r.until = c, time.Time{}
	r.mu.Unlock()
}

// handle is HandleFailToRefresh for providers whose errors mark transient faults (*awsError
// with transient set): it returns the last credentials with Expires moved to the next retry,
// at most rideOutRetry away and at least rideOutMargin before their real expiry, or err.
func (r *rideOut) handle(ctx context.Context, logger *slog.Logger, source string, err error) (aws.Credentials, error) {
	var ae *awsError
	if !errors.As(err, &ae) || !ae.transient || errors.Is(err, ErrIDTokenRejected) || errors.Is(err, ErrConfiguration) {
		return aws.Credentials{}, err
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	last := r.last
	until := now.Add(rideOutRetry)
	if limit := last.Expires.Add(-rideOutMargin); limit.Before(until) {
		until = limit
	}
	if !last.HasKeys() || !last.CanExpire || !until.After(now) {
		return aws.Credentials{}, err
	}
	r.until = until
	last.Expires = until
	logger.WarnContext(ctx, "awscreds: refresh failed; serving the previous credentials until the next try",
		"provider", source, "retry_at", until, "error", err)
	return last, nil
}

// adjust is AdjustExpiresBy: it moves Expires by dur (the cache's negative expiry window),
// except for ridden-out credentials, whose Expires is already the time of the next try.
func (r *rideOut) adjust(c aws.Credentials, dur time.Duration) (aws.Credentials, error) {
	if !c.CanExpire {
		return c, nil
	}
	r.mu.Lock()
	riding := !r.until.IsZero() && c.Expires.Equal(r.until)
	r.mu.Unlock()
	if !riding {
		c.Expires = c.Expires.Add(dur)
	}
	return c, nil
}

// HandleFailToRefresh implements aws.HandleFailRefreshCredentialsCacheStrategy. When a
// refresh under aws.CredentialsCache fails for a transient reason (throttling after the SDK's
// retries, a 5xx, a timeout), it returns the previous credentials with Expires set to the next
// attempt: 10 seconds on, or 5 seconds before their real expiry if that is sooner. After that
// the error is returned. A rejected login (ErrIDTokenRejected) or a configuration error is
// never ridden out.
func (p *IdentityPool) HandleFailToRefresh(ctx context.Context, _ aws.Credentials, err error) (aws.Credentials, error) {
	return p.ride.handle(ctx, p.options.Logger, IdentityPoolProviderName, err)
}

// AdjustExpiresBy implements aws.AdjustExpiresByCredentialsCacheStrategy: the cache's expiry
// window applies to fresh credentials, not to those HandleFailToRefresh handed back.
func (p *IdentityPool) AdjustExpiresBy(c aws.Credentials, dur time.Duration) (aws.Credentials, error) {
	return p.ride.adjust(c, dur)
}
