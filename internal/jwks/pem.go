package jwks

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/pubauth/awsauth/internal/httpx"
)

// Defaults and limits of PEMConfig.
const (
	// DefaultMaxPEMBytes bounds one key document: a P-256 public key in PEM is under 200 bytes.
	DefaultMaxPEMBytes = 8 << 10
	// DefaultPEMCacheSize bounds the keys a PEMKeys holds.
	DefaultPEMCacheSize = 32
	// MaxKidBytes bounds a kid a PEMKeys looks up.
	MaxKidBytes = 128
)

// PEMConfig configures a PEMKeys. The zero value of each field but URL selects its default.
type PEMConfig struct {
	// URL returns the URL of the key named kid. It is only ever called with a kid ValidKid
	// accepts, so no path, query or escape character of a token reaches the URL. Each URL must
	// be https, or http to a loopback host (tests). Required.
	URL func(kid string) string
	// HTTPClient fetches the keys. Nil means a client that refuses redirects to another scheme.
	HTTPClient *http.Client
	// FetchTimeout bounds one fetch, headers and body. Default DefaultFetchTimeout.
	FetchTimeout time.Duration
	// MaxBodyBytes bounds a key document; a larger one fails the fetch. Default DefaultMaxPEMBytes.
	MaxBodyBytes int64
	// CacheSize bounds the cached keys; the oldest goes first. Default DefaultPEMCacheSize.
	CacheSize int
	// RefetchInterval is the least time between a failed fetch and the next fetch of a kid that
	// is not cached. Default DefaultRefetchInterval; values above MaxRefetchInterval are lowered to it.
	RefetchInterval time.Duration
	// Algorithms is the allow-list of JWS algorithms. Default ["ES256"].
	Algorithms []string
	// MaxTokenBytes bounds the tokens Verify looks at. Default DefaultMaxTokenBytes.
	MaxTokenBytes int
	// Now is the clock for RefetchInterval. Default time.Now.
	Now func() time.Time
	// Logger receives fetch failures, never tokens. Nil means slog.Default().
	Logger *slog.Logger
}

// PEMKeys is a key source for public keys published one per kid, each a PEM "PUBLIC KEY"
// document (a SubjectPublicKeyInfo, RFC 7468 §13) at a URL made from the kid, as AWS
// Application Load Balancers publish theirs; a JWKS is a KeySet instead. Keys are fetched on
// first use and cached (a kid names one key for good). Lookups of kids that are not cached
// are bounded: one fetch at a time, concurrent callers for the same kid sharing it, and none
// within RefetchInterval after a failed one, so a flood of made-up kids costs one fetch per
// interval. A 403 or 404 answer means the key does not exist (ErrUnknownKey); any other
// failure is a FetchError (ErrFetch). It is safe for concurrent use.
type PEMKeys struct {
	url           func(string) string
	client        *http.Client
	fetchTimeout  time.Duration
	maxBody       int64
	size          int
	interval      time.Duration
	algs          map[string]*algorithm
	algNames      []string
	maxTokenBytes int
	now           func() time.Time
	log           *slog.Logger

	fetches atomic.Int64
	group   singleflight.Group

	mu         sync.Mutex // guards the fields below
	keys       map[string]crypto.PublicKey
	order      []string // kids of keys, oldest first
	inflight   string   // the kid being fetched; "" when none
	failed     bool     // a fetch has failed
	lastFailed time.Time

	testHookWait func() // called when a caller waits for a fetch; tests only
}

// NewPEMKeys validates cfg and returns a PEMKeys. It does not fetch.
func NewPEMKeys(cfg PEMConfig) (*PEMKeys, error) {
	p := &PEMKeys{
		url: cfg.URL, client: cfg.HTTPClient, fetchTimeout: cfg.FetchTimeout, maxBody: cfg.MaxBodyBytes,
		size: cfg.CacheSize, interval: cfg.RefetchInterval, maxTokenBytes: cfg.MaxTokenBytes,
		now: cfg.Now, log: cfg.Logger, keys: map[string]crypto.PublicKey{},
	}
	if p.url == nil {
		return nil, errors.New("jwks: PEMConfig.URL is required")
	}
	if p.fetchTimeout < 0 || p.maxBody < 0 || p.size < 0 || p.interval < 0 || p.maxTokenBytes < 0 {
		return nil, errors.New("jwks: negative FetchTimeout, MaxBodyBytes, CacheSize, RefetchInterval or MaxTokenBytes")
	}
	p.fetchTimeout = cmp.Or(p.fetchTimeout, DefaultFetchTimeout)
	p.maxBody = cmp.Or(p.maxBody, DefaultMaxPEMBytes)
	p.size = cmp.Or(p.size, DefaultPEMCacheSize)
	p.interval = min(cmp.Or(p.interval, DefaultRefetchInterval), MaxRefetchInterval)
	p.maxTokenBytes = cmp.Or(p.maxTokenBytes, DefaultMaxTokenBytes)
	if p.now == nil {
		p.now = time.Now
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.client == nil {
		p.client = &http.Client{CheckRedirect: sameScheme}
	}
	var err error
	if p.algs, p.algNames, err = allowList(cfg.Algorithms, "ES256"); err != nil {
		return nil, err
	}
	return p, nil
}

// ValidKid reports whether kid may name a PEMKeys key: 1 to MaxKidBytes bytes of the base64url
// alphabet (letters, digits, "-", "_"; an AWS ALB kid is a UUID). A kid with "/", ".", "%",
// "?" or "#" could steer the URL to another path: it is refused before any URL is made.
func ValidKid(kid string) bool {
	if kid == "" || len(kid) > MaxKidBytes {
		return false
	}
	for i := 0; i < len(kid); i++ {
		if !isBase64URL[kid[i]] {
			return false
		}
	}
	return true
}

// Algorithms returns the allow-list.
func (p *PEMKeys) Algorithms() []string { return slices.Clone(p.algNames) }

// Fetches returns the number of HTTP fetches started, successful or not.
func (p *PEMKeys) Fetches() int64 { return p.fetches.Load() }

// Preallocated refusals.
var (
	errKidChars  = fmt.Errorf("%w: kid missing, too long, or not of the base64url alphabet", ErrUnknownKey)
	errNoSuchKey = fmt.Errorf("%w: the key endpoint has no such key", ErrUnknownKey)
)

// Verify checks t's signature with the key its kid names, fetching it as the policy in the
// type's doc allows (RefetchOnce lifts the interval, not the one-at-a-time rule). Errors wrap
// ErrUnsupportedAlgorithm, ErrInvalidSignature, ErrMalformed, ErrKeyMismatch, ErrUnknownKey
// (also matching ErrFetch when the fetch failed), or ctx's error.
func (p *PEMKeys) Verify(ctx context.Context, t *JWS, r Refetch) error {
	if t.signingInput == "" {
		return errNotCompact
	}
	if len(t.signingInput)+1+len(t.signature) > p.maxTokenBytes {
		return errTooLong
	}
	a := p.algs[t.Alg]
	if a == nil {
		return ErrUnsupportedAlgorithm
	}
	if !ValidKid(t.Kid) {
		return errKidChars
	}
	pub, err := p.key(ctx, t.Kid, r == RefetchOnce)
	if err != nil {
		return err
	}
	if !a.fits(pub) {
		return ErrKeyMismatch
	}
	var sbuf [512]byte
	sig := sbuf[:0]
	if n := b64.DecodedLen(len(t.signature)); n > len(sbuf) {
		sig = make([]byte, 0, n)
	}
	sig, err = b64.AppendDecode(sig, []byte(t.signature))
	if err != nil {
		return errBase64
	}
	return a.verify(pub, t.signingInput, sig)
}

// key returns the cached key of kid, or fetches it when the policy allows.
func (p *PEMKeys) key(ctx context.Context, kid string, force bool) (crypto.PublicKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("jwks: waiting for the key: %w", err)
	}
	p.mu.Lock()
	if pub, ok := p.keys[kid]; ok {
		p.mu.Unlock()
		return pub, nil
	}
	if p.inflight != kid {
		if p.inflight != "" || (!force && p.failed && p.now().Sub(p.lastFailed) < p.interval) {
			p.mu.Unlock()
			return nil, ErrUnknownKey
		}
		p.inflight = kid
	}
	// Under p.mu, so a caller that saw p.inflight == kid joins that very call: fetch clears
	// p.inflight under p.mu before singleflight forgets the key.
	ch := p.group.DoChan(kid, func() (any, error) {
		return p.fetch(context.WithoutCancel(ctx), kid)
	})
	p.mu.Unlock()
	if p.testHookWait != nil {
		p.testHookWait()
	}
	select {
	case res := <-ch:
		if res.Err != nil {
			if errors.Is(res.Err, ErrUnknownKey) {
				return nil, res.Err
			}
			return nil, fmt.Errorf("%w (fetch failed: %w)", ErrUnknownKey, res.Err)
		}
		return res.Val.(crypto.PublicKey), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("jwks: waiting for the key: %w", ctx.Err())
	}
}

// fetch downloads and caches kid's key. ctx carries the starter's values but not its
// cancellation: the fetch serves every caller waiting on it.
func (p *PEMKeys) fetch(ctx context.Context, kid string) (crypto.PublicKey, error) {
	p.fetches.Add(1)
	ctx, cancel := context.WithTimeout(ctx, p.fetchTimeout)
	defer cancel()
	url := p.url(kid)
	pub, err := p.download(ctx, url)

	p.mu.Lock()
	p.inflight = ""
	if err == nil {
		if len(p.order) >= p.size {
			delete(p.keys, p.order[0])
			p.order = p.order[1:]
		}
		p.keys[kid] = pub
		p.order = append(p.order, kid)
	} else {
		p.failed, p.lastFailed = true, p.now()
	}
	p.mu.Unlock()

	if err != nil {
		p.log.Warn("jwks: key fetch failed", "url", url, "error", err)
		return nil, err
	}
	p.log.Debug("jwks: key fetched", "url", url)
	return pub, nil
}

func (p *PEMKeys) download(ctx context.Context, url string) (crypto.PublicKey, error) {
	if err := httpx.CheckEndpoint("jwks: key URL", url); err != nil {
		return nil, &FetchError{Err: err}
	}
	body, err := get(ctx, p.client, url, "", p.maxBody)
	var fe *FetchError
	if errors.As(err, &fe) && (fe.StatusCode == http.StatusNotFound || fe.StatusCode == http.StatusForbidden) && fe.Err == nil {
		return nil, errNoSuchKey // S3 (GovCloud's key endpoint) answers 403 for a missing object
	} else if err != nil {
		return nil, err
	}
	pub, err := p.parsePEM(body)
	if err != nil {
		return nil, &FetchError{StatusCode: http.StatusOK, Err: err}
	}
	return pub, nil
}

// parsePEM reads exactly one PEM "PUBLIC KEY" block and keeps a key that fits an allowed
// algorithm (RSA of at least 2048 bits).
func (p *PEMKeys) parsePEM(body []byte) (crypto.PublicKey, error) {
	block, rest := pem.Decode(body)
	if block == nil || block.Type != "PUBLIC KEY" || len(block.Headers) > 0 || len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("jwks: not one PEM PUBLIC KEY block")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("jwks: PEM public key: %w", err)
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return nil, errors.New("jwks: RSA key shorter than 2048 bits")
		}
	case *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return nil, errors.New("jwks: unsupported key type")
	}
	for _, a := range p.algs {
		if a.fits(pub) {
			return pub, nil
		}
	}
	return nil, errors.New("jwks: key fits no allowed algorithm")
}
