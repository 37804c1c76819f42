package bearer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Revocation asks a token's issuer, online, whether a token that passed
// every local check is still active: a JWT stays valid to its signature
// check until exp, even after the user signed out everywhere or the token
// was revoked. NewCognitoGetUser (Amazon Cognito user pools) and
// NewIntrospection (RFC 7662, other providers) implement it; wrap one in
// NewRevocationCheck and guard a route with NotRevoked.
//
// Active returns nil when the issuer says token (whose verified claims are
// c) is active; an error that wraps ErrTokenRevoked (or ErrInvalidToken)
// when the issuer says it is not; any other error when it could not get an
// answer (a fault: see RevocationConfig.InsecureFailOpen). It must honour
// ctx, be safe for concurrent use, and keep the token out of its errors.
type Revocation interface {
	Active(ctx context.Context, token string, c *Claims) error
}

// Defaults and bounds of RevocationConfig.
const (
	// DefaultRevocationTTL is RevocationConfig.TTL's default: a revoked
	// token is refused at most this long after its issuer said it was
	// active.
	DefaultRevocationTTL = 30 * time.Second
	// MaxRevocationTTL bounds RevocationConfig.TTL: a longer cache would
	// defeat the point of checking online.
	MaxRevocationTTL = 5 * time.Minute
	// DefaultRevocationCacheSize is RevocationConfig.CacheSize's default,
	// in entries (a token and an error each, about 1.5 KB).
	DefaultRevocationCacheSize = 4096
	// DefaultRevocationTimeout is RevocationConfig.Timeout's default.
	DefaultRevocationTimeout = 5 * time.Second
)

// RevocationConfig configures NewRevocationCheck. The zero value of a field
// selects its default.
type RevocationConfig struct {
	// Checker asks the issuer: NewCognitoGetUser or NewIntrospection.
	// Required.
	Checker Revocation
	// TTL is how long the issuer's answer for a token is reused: an entry
	// is dropped at TTL after the check started or at the token's exp,
	// whichever comes first, so a token revoked at the issuer is refused
	// within TTL. Both answers are cached (active, and no longer active);
	// faults never are. Default DefaultRevocationTTL; at most
	// MaxRevocationTTL.
	TTL time.Duration
	// CacheSize bounds the cache of answers, in entries. Default
	// DefaultRevocationCacheSize; negative disables the cache (every
	// request asks the issuer, concurrent requests with one token still
	// share one check).
	CacheSize int
	// Timeout bounds one check. Default DefaultRevocationTimeout.
	Timeout time.Duration
	// InsecureFailOpen lets a request through, with a warning in the log,
	// when the checker can't answer (ErrRevocationUnavailable): the token
	// then only passed its local checks. The default fails closed, 503
	// Service Unavailable with Retry-After. Sensitive operations, the
	// reason to check online at all, MUST NOT set it.
	InsecureFailOpen bool
	// Logger receives the checker's faults (their text, never a token).
	// Nil means slog.Default().
	Logger *slog.Logger
	// Now is the cache's clock; nil means time.Now.
	Now func() time.Time
}

// RevocationCheck is an online revocation check with a cache: the answer
// for a token is reused for RevocationConfig.TTL and never past the token's
// exp, in a cache bounded in size and keyed by the whole token (a keyed
// hash, then the whole token compared); concurrent requests with one token
// share one call to the issuer, each waiting no longer than its own
// context. Create it with NewRevocationCheck and use it on routes with
// NotRevoked. It is safe for concurrent use.
type RevocationCheck struct {
	checker  Revocation
	ttl      time.Duration
	timeout  time.Duration
	failOpen bool
	log      *slog.Logger
	now      func() time.Time
	cache    *tokenCache[error] // nil: no cache; a value is nil (active) or a refusal

	mu      sync.Mutex
	flights map[string]*revocationFlight // the checks in progress, by token
}

// revocationFlight is one call to the checker, shared by the requests that
// present the same token while it runs.
type revocationFlight struct {
	done    chan struct{}
	err     error // set before done is closed
	waiters int   // guarded by RevocationCheck.mu
	cancel  context.CancelFunc
}

// NewRevocationCheck validates cfg. Errors start with "bearer: ".
func NewRevocationCheck(cfg RevocationConfig) (*RevocationCheck, error) {
	var errs []error
	if cfg.Checker == nil {
		errs = append(errs, errors.New("no Checker"))
	}
	for _, d := range []struct {
		name     string
		v        *time.Duration
		def, max time.Duration
	}{
		{"TTL", &cfg.TTL, DefaultRevocationTTL, MaxRevocationTTL},
		{"Timeout", &cfg.Timeout, DefaultRevocationTimeout, 0},
	} {
		switch {
		case *d.v < 0:
			errs = append(errs, fmt.Errorf("%s must not be negative", d.name))
		case *d.v == 0:
			*d.v = d.def
		case d.max > 0 && *d.v > d.max:
			errs = append(errs, fmt.Errorf("%s must be at most %v", d.name, d.max))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("bearer: invalid revocation config: %w", errors.Join(errs...))
	}
	rc := &RevocationCheck{
		checker: cfg.Checker, ttl: cfg.TTL, timeout: cfg.Timeout, failOpen: cfg.InsecureFailOpen,
		log: cfg.Logger, now: cfg.Now, flights: map[string]*revocationFlight{},
	}
	if rc.log == nil {
		rc.log = slog.Default()
	}
	if rc.now == nil {
		rc.now = time.Now
	}
	if cfg.CacheSize >= 0 {
		size := cfg.CacheSize
		if size == 0 {
			size = DefaultRevocationCacheSize
		}
		rc.cache = newTokenCache[error](size)
	}
	return rc, nil
}

// errNoToken is NotRevoked on claims that did not come from Verifier.Verify.
var errNoToken = fmt.Errorf("%w: revocation check: the claims carry no token (not from Verify)", ErrInvalidToken)

// NotRevoked returns a Requirement that asks rc whether the request's token
// is still active at its issuer: 401 invalid_token (ErrTokenRevoked) when
// it is not, 503 (ErrRevocationUnavailable) when the issuer can't say,
// unless rc fails open. Use it only on the routes that need it (sensitive
// operations): each uncached token costs a call to the issuer. The claims
// must come from Verifier.Verify (Require, Authenticate), which keeps the
// token with them.
func NotRevoked(rc *RevocationCheck) Requirement {
	return func(ctx context.Context, c *Claims) error {
		if rc == nil {
			return fmt.Errorf("%w: no RevocationCheck", ErrRevocationUnavailable)
		}
		if c == nil || c.token == nil {
			return errNoToken
		}
		return rc.Check(ctx, *c.token, c)
	}
}

// Check asks the issuer, through the cache, whether token is still active;
// c, its verified claims, bounds the cache by c.Expiry (a zero Expiry
// disables caching for this token) and goes to the checker. NotRevoked
// calls it; call it directly for a token that Verifier does not verify (an
// opaque access token checked by introspection alone).
//
// It returns nil (active, or a fault let through by InsecureFailOpen), an
// error that wraps ErrInvalidToken (ErrTokenRevoked: no longer active), or
// one that wraps ErrRevocationUnavailable (no answer within Timeout, or ctx
// ended first). Errors never contain the token.
func (rc *RevocationCheck) Check(ctx context.Context, token string, c *Claims) error {
	if c == nil {
		c = &Claims{}
	}
	if rc.cache != nil {
		if err, ok := rc.cache.get(token, rc.now()); ok {
			return err
		}
	}
	rc.mu.Lock()
	f := rc.flights[token]
	if f == nil {
		// Checked again under the lock: a flight that just ended cached its answer first.
		if rc.cache != nil {
			if err, ok := rc.cache.get(token, rc.now()); ok {
				rc.mu.Unlock()
				return err
			}
		}
		// The check outlives the request that started it, bounded by Timeout and
		// cancelled when every request waiting for it has gone.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rc.timeout)
		f = &revocationFlight{done: make(chan struct{}), cancel: cancel}
		rc.flights[token] = f
		go rc.run(fctx, f, token, c)
	}
	f.waiters++
	rc.mu.Unlock()

	select {
	case <-f.done:
		return rc.verdict(ctx, f.err)
	case <-ctx.Done():
		rc.mu.Lock()
		if f.waiters--; f.waiters == 0 {
			f.cancel()
			if rc.flights[token] == f {
				delete(rc.flights, token)
			}
		}
		rc.mu.Unlock()
		return fmt.Errorf("%w: the request ended while waiting: %w", ErrRevocationUnavailable, context.Cause(ctx))
	}
}

// run calls the checker once and sorts its answer: nil, a refusal (cached
// like nil), or a fault wrapped in ErrRevocationUnavailable (never cached).
func (rc *RevocationCheck) run(ctx context.Context, f *revocationFlight, token string, c *Claims) {
	start := rc.now()
	err := rc.checker.Active(ctx, token, c)
	f.cancel()
	definite := err == nil || errors.Is(err, ErrInvalidToken)
	if !definite {
		if !errors.Is(err, ErrRevocationUnavailable) {
			err = fmt.Errorf("%w: %w", ErrRevocationUnavailable, err)
		}
		rc.log.LogAttrs(ctx, slog.LevelWarn, "bearer: revocation check failed",
			slog.String("error", err.Error()), slog.Bool("fail_open", rc.failOpen))
	}
	rc.mu.Lock()
	if definite && rc.cache != nil && !c.Expiry.IsZero() {
		exp := start.Add(rc.ttl)
		if c.Expiry.Before(exp) {
			exp = c.Expiry
		}
		rc.cache.put(token, err, exp, start)
	}
	if rc.flights[token] == f {
		delete(rc.flights, token)
	}
	f.err = err
	rc.mu.Unlock()
	close(f.done)
}

// verdict applies the fault policy to a flight's answer.
func (rc *RevocationCheck) verdict(ctx context.Context, err error) error {
	if err != nil && rc.failOpen && errors.Is(err, ErrRevocationUnavailable) {
		rc.log.LogAttrs(ctx, slog.LevelWarn, "bearer: revocation check failed; request let through (InsecureFailOpen)")
		return nil
	}
	return err
}
