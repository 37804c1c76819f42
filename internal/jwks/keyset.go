package jwks

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/singleflight"

	"github.com/pubauth/awsauth/internal/httpx"
)

// Defaults and limits of Config.
const (
	DefaultFetchTimeout    = 5 * time.Second
	DefaultMaxBodyBytes    = 1 << 20
	DefaultRefetchInterval = 10 * time.Second
	MaxRefetchInterval     = 60 * time.Second
	// DefaultMaxTokenBytes bounds the tokens VerifySignature looks at; longer ones are rejected
	// before any decoding. Cognito's access and ID tokens are 1–2 KB; 16 KiB leaves room for
	// generous claims while keeping a hostile token cheap.
	DefaultMaxTokenBytes = 16 << 10
)

// Config configures a KeySet. The zero value of each field selects its default.
type Config struct {
	// URL is the jwks_uri (OpenID Connect Discovery 1.0 §3). It must be https, or http to a
	// loopback host (tests). Empty means an offline set that holds only what Prime loads,
	// unless Locate is set.
	URL string
	// Locate, when URL is empty, names the jwks_uri at each fetch: for a set made before its
	// issuer's discovery document could be read (the provider down). Its error fails that fetch
	// as a FetchError (the set unavailable, not the token refused); the URL it returns must pass
	// the rule of URL.
	Locate func(ctx context.Context) (string, error)
	// HTTPClient fetches URL. Nil means a client that refuses redirects to another scheme.
	// FetchTimeout applies in either case.
	HTTPClient *http.Client
	// FetchTimeout bounds one fetch, headers and body. Default DefaultFetchTimeout.
	FetchTimeout time.Duration
	// MaxBodyBytes bounds the JWKS document; a larger one fails the fetch. Default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// RefetchInterval is the least time between two fetches, counted from the start of the
	// previous one, failed or not. Default DefaultRefetchInterval; values above
	// MaxRefetchInterval are lowered to it.
	RefetchInterval time.Duration
	// Algorithms is the allow-list of JWS algorithms. Default ["RS256"]. Only RS256/384/512,
	// PS256/384/512, ES256/384/512 and EdDSA are accepted: New refuses HS*, none and others.
	Algorithms []string
	// MaxTokenBytes bounds the length of a token given to VerifySignature. Default DefaultMaxTokenBytes.
	MaxTokenBytes int
	// Now is the clock for RefetchInterval. Default time.Now.
	Now func() time.Time
	// Logger receives fetch failures and skipped keys, never tokens. Nil means slog.Default(),
	// the module's one default.
	Logger *slog.Logger
	// MeterProvider and TracerProvider record each fetch (telemetry.go); nil means none.
	MeterProvider  metric.MeterProvider
	TracerProvider trace.TracerProvider
}

// KeySet is a cached, lazily fetched JWKS. It is safe for concurrent use; its methods honour each
// caller's ctx while a fetch started by another caller continues for the others.
type KeySet struct {
	url           string
	locate        func(context.Context) (string, error)
	client        *http.Client
	fetchTimeout  time.Duration
	maxBody       int64
	interval      time.Duration
	algs          map[string]*algorithm
	algNames      []string
	maxTokenBytes int
	now           func() time.Time
	log           *slog.Logger
	tel           *fetchTelemetry // nil without providers

	keys    atomic.Pointer[keySet] // nil until a fetch or Prime succeeds
	fetches atomic.Int64
	group   singleflight.Group

	mu          sync.Mutex // guards the fields below
	attempted   bool       // a fetch has started at least once
	lastAttempt time.Time  // start of the latest fetch
	inflight    string     // singleflight key of the running fetch; empty when none
	gen         uint64

	testHookWait func() // called when a caller waits for a fetch; tests only
}

// New validates cfg and returns a KeySet. It does not fetch: the first lookup does.
func New(cfg Config) (*KeySet, error) {
	k := &KeySet{
		url:           cfg.URL,
		locate:        cfg.Locate,
		client:        cfg.HTTPClient,
		fetchTimeout:  cfg.FetchTimeout,
		maxBody:       cfg.MaxBodyBytes,
		interval:      cfg.RefetchInterval,
		maxTokenBytes: cfg.MaxTokenBytes,
		now:           cfg.Now,
		log:           cfg.Logger,
		tel:           newFetchTelemetry(cfg.MeterProvider, cfg.TracerProvider, cfg.URL),
	}
	if k.url != "" {
		if err := httpx.CheckEndpoint("jwks: URL", k.url); err != nil {
			return nil, err
		}
	}
	if k.fetchTimeout < 0 || k.maxBody < 0 || k.interval < 0 || k.maxTokenBytes < 0 {
		return nil, errors.New("jwks: negative FetchTimeout, MaxBodyBytes, RefetchInterval or MaxTokenBytes")
	}
	if k.fetchTimeout == 0 {
		k.fetchTimeout = DefaultFetchTimeout
	}
	if k.maxBody == 0 {
		k.maxBody = DefaultMaxBodyBytes
	}
	if k.interval == 0 {
		k.interval = DefaultRefetchInterval
	}
	k.interval = min(k.interval, MaxRefetchInterval)
	if k.maxTokenBytes == 0 {
		k.maxTokenBytes = DefaultMaxTokenBytes
	}
	if k.now == nil {
		k.now = time.Now
	}
	if k.log == nil {
		k.log = slog.Default()
	}
	if k.client == nil {
		k.client = &http.Client{CheckRedirect: sameScheme}
	}
	var err error
	if k.algs, k.algNames, err = allowList(cfg.Algorithms, "RS256"); err != nil {
		return nil, err
	}
	return k, nil
}

// sameScheme is the default client's redirect policy: a key set served over https must not be
// redirected to http.
func sameScheme(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("jwks: too many redirects")
	}
	if req.URL.Scheme != via[0].URL.Scheme {
		return errors.New("jwks: redirect to another scheme")
	}
	return nil
}

// Algorithms returns the allow-list, for oidc.Config.SupportedSigningAlgs.
func (k *KeySet) Algorithms() []string {
	return append([]string(nil), k.algNames...)
}

// Fetches returns the number of HTTP fetches started, successful or not.
func (k *KeySet) Fetches() int64 { return k.fetches.Load() }

// Prime replaces the cached keys with those of jwksJSON, a JWKS document (RFC 7517 §5). It
// returns ErrNoUsableKeys, leaving the cache as it was, when the document holds no usable key.
// Priming does not count as a fetch: with a URL, an unknown kid may still cause one.
func (k *KeySet) Prime(jwksJSON []byte) error {
	set, err := parseJWKS(jwksJSON, k.algs, k.log)
	if err != nil {
		return err
	}
	k.keys.Store(set)
	return nil
}

// Refetch says when a token naming a key the set lacks may cause a fetch of the set.
type Refetch uint8

const (
	// RefetchLimited allows at most one fetch per RefetchInterval, whoever asks: for tokens
	// anyone can send (bearer tokens, forged callbacks), so a flood of made-up kids costs one
	// fetch per interval.
	RefetchLimited Refetch = iota
	// RefetchOnce allows this token one fetch however recently the last one ran, shared with
	// every caller waiting for a fetch (single-flight). It is for a token received over the
	// back channel from the issuer's own token endpoint, which no stranger can send: an ID
	// token signed with a key the provider rotated in just after someone burned the interval
	// with an unknown kid must still be verified. When the fetch it joined had started before
	// the call and does not hold the key, one more fetch is made.
	RefetchOnce
)

// Key returns the public key that checks a signature made with alg by the key named kid (kid may
// be empty: see the package doc). It fetches the set on first use and refetches for an unknown kid
// at most once per RefetchInterval. Errors: ErrUnsupportedAlgorithm, ErrUnknownKey (also matching
// ErrFetch when the refetch failed), ErrAmbiguousKey, ErrKeyMismatch, or ctx's error.
func (k *KeySet) Key(ctx context.Context, kid, alg string) (crypto.PublicKey, error) {
	a := k.algs[alg]
	if a == nil {
		return nil, ErrUnsupportedAlgorithm
	}
	wk, err := k.lookup(ctx, kid, a, RefetchLimited)
	if err != nil {
		return nil, err
	}
	return wk.pub, nil
}

func (k *KeySet) lookup(ctx context.Context, kid string, a *algorithm, r Refetch) (*webKey, error) {
	if set := k.keys.Load(); set != nil {
		wk, err := set.find(kid, a)
		if err != errNotFound {
			return wk, err
		}
	}
	force, again := r == RefetchOnce, false
	for {
		joined, err := k.refetch(ctx, force)
		if err != nil {
			return nil, err
		}
		set := k.keys.Load()
		if set == nil {
			return nil, ErrUnknownKey
		}
		wk, err := set.find(kid, a)
		if err == errNotFound {
			if force && joined && !again {
				again = true // the next fetch starts after this call: it is this token's own
				continue
			}
			return nil, ErrUnknownKey
		}
		return wk, err
	}
}

// refetch runs a fetch, or joins the one running, unless the interval forbids it (force ignores
// the interval). It returns nil when the set was fetched (the key may still be missing from it),
// and joined when the fetch was already running when refetch was called.
func (k *KeySet) refetch(ctx context.Context, force bool) (joined bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("jwks: waiting for the key set: %w", err)
	}
	k.mu.Lock()
	key := k.inflight
	joined = key != ""
	if key == "" {
		now := k.now()
		if (k.url == "" && k.locate == nil) || (!force && k.attempted && now.Sub(k.lastAttempt) < k.interval) {
			k.mu.Unlock()
			return false, ErrUnknownKey
		}
		k.gen++
		key = strconv.FormatUint(k.gen, 10)
		k.inflight, k.attempted, k.lastAttempt = key, true, now
	}
	// Under k.mu, so a caller that saw k.inflight joins that very call: fetch clears k.inflight
	// under k.mu before singleflight forgets the key.
	ch := k.group.DoChan(key, func() (any, error) {
		return nil, k.fetch(context.WithoutCancel(ctx), key)
	})
	k.mu.Unlock()

	if k.testHookWait != nil {
		k.testHookWait()
	}
	select {
	case res := <-ch:
		if res.Err != nil {
			return joined, fmt.Errorf("%w (refetch failed: %w)", ErrUnknownKey, res.Err)
		}
		return joined, nil
	case <-ctx.Done():
		return joined, fmt.Errorf("jwks: waiting for the key set: %w", ctx.Err())
	}
}

// fetch downloads and installs the key set. ctx carries the starter's values but not its
// cancellation: the fetch serves every caller waiting on it.
func (k *KeySet) fetch(ctx context.Context, key string) error {
	k.fetches.Add(1)
	ctx, cancel := context.WithTimeout(ctx, k.fetchTimeout)
	defer cancel()
	ctx, done := k.tel.start(ctx)
	set, err := k.download(ctx)
	done(err)

	k.mu.Lock()
	if err == nil {
		k.keys.Store(set)
	}
	if k.inflight == key {
		k.inflight = ""
	}
	k.mu.Unlock()

	if err != nil {
		k.log.Warn("jwks: fetch failed; keeping the cached keys", "url", k.url, "error", err)
		return err
	}
	k.log.Debug("jwks: fetched", "url", k.url, "keys", len(set.keys))
	return nil
}

func (k *KeySet) download(ctx context.Context) (*keySet, error) {
	url := k.url
	if url == "" && k.locate != nil {
		var err error
		if url, err = k.locate(ctx); err != nil {
			return nil, &FetchError{Err: err}
		}
		if err := httpx.CheckEndpoint("jwks: located URL", url); err != nil {
			return nil, &FetchError{Err: err}
		}
	}
	body, err := get(ctx, k.client, url, "application/jwk-set+json, application/json", k.maxBody)
	if err != nil {
		return nil, err
	}
	set, err := parseJWKS(body, k.algs, k.log)
	if err != nil {
		return nil, &FetchError{StatusCode: http.StatusOK, Err: err}
	}
	return set, nil
}
