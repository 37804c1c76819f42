// Package clientauth holds the one private_key_jwt client authentication of
// the module (RFC 7523 §2.2 and §3, OpenID Connect Core 1.0 §9): a JWT client
// assertion signed with the client's private key, and the RoundTripper that
// adds a fresh one to each request to the token and revocation endpoints.
// The login flow (authflow) and the machine-to-machine token source
// (authflow/m2m) both use it, so the two can't drift.
//
// It signs; it never verifies (that is internal/jwt's job, for tokens the
// module receives). Signing goes through go-jose with the key as a
// crypto.Signer, so a key held in a KMS or an HSM works as well as one in
// memory.
package clientauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
	"github.com/go-jose/go-jose/v4/jwt"
)

const (
	// Method is the token_endpoint_auth_method of this client
	// authentication (OIDC Core §9, RFC 8414 §2).
	Method = "private_key_jwt"
	// AssertionType is the client_assertion_type value (RFC 7523 §2.2).
	AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	// Lifetime is how long an assertion is valid: it is made for one
	// request, just before it is sent.
	Lifetime = time.Minute
	// maxForm bounds the form body the transport reads to add the
	// assertion: token and revocation requests are a few hundred bytes.
	maxForm = 64 << 10
)

// Signer makes client assertions for one client with one key. It is safe
// for concurrent use.
type Signer struct {
	clientID string
	alg      jose.SignatureAlgorithm
	signer   jose.Signer
	now      func() time.Time
}

// NewSigner returns a Signer for clientID with key, whose public key the
// provider knows under keyID (the JWS kid; empty sends none). The algorithm
// follows the key: RS256 for RSA (2048 bits or more), ES256, ES384 or ES512
// for ECDSA P-256, P-384 or P-521, EdDSA for Ed25519. now nil means
// time.Now.
func NewSigner(clientID string, key crypto.Signer, keyID string, now func() time.Time) (*Signer, error) {
	if clientID == "" {
		return nil, errors.New("a client assertion needs a client ID")
	}
	if key == nil {
		return nil, errors.New("a client assertion needs a key")
	}
	alg, err := algorithmFor(key.Public())
	if err != nil {
		return nil, err
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if keyID != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), keyID)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: cryptosigner.Opaque(key)}, opts)
	if err != nil {
		return nil, fmt.Errorf("client assertion signer: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &Signer{clientID: clientID, alg: alg, signer: sig, now: now}, nil
}

func algorithmFor(pub crypto.PublicKey) (jose.SignatureAlgorithm, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return "", fmt.Errorf("a client assertion RSA key must have at least 2048 bits, not %d", k.N.BitLen())
		}
		return jose.RS256, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return jose.ES256, nil
		case elliptic.P384():
			return jose.ES384, nil
		case elliptic.P521():
			return jose.ES512, nil
		}
		return "", errors.New("a client assertion ECDSA key must be on P-256, P-384 or P-521")
	case ed25519.PublicKey:
		return jose.EdDSA, nil
	}
	return "", fmt.Errorf("a client assertion key must be RSA, ECDSA or Ed25519, not %T", pub)
}

// Algorithm is the JWS alg of the assertions.
func (s *Signer) Algorithm() string { return string(s.alg) }

// Assertion returns a signed client assertion for one request to audience
// (the URL of the endpoint it is sent to): iss and sub are the client ID,
// aud is audience, jti is 128 random bits, iat is now and exp a minute later
// (RFC 7523 §3; OIDC Core §9).
func (s *Signer) Assertion(audience string) (string, error) {
	jti := make([]byte, 16)
	rand.Read(jti)
	now := s.now()
	c := jwt.Claims{
		Issuer:   s.clientID,
		Subject:  s.clientID,
		Audience: jwt.Audience{audience},
		ID:       base64.RawURLEncoding.EncodeToString(jti),
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(Lifetime)),
	}
	tok, err := jwt.Signed(s.signer).Claims(c).Serialize()
	if err != nil {
		return "", fmt.Errorf("signing the client assertion: %w", err)
	}
	return tok, nil
}

// CheckProvider returns an error when a provider's metadata (OpenID
// Connect Discovery §3, RFC 8414 §2) rules this client authentication out:
// token_endpoint_auth_methods_supported without private_key_jwt, or
// token_endpoint_auth_signing_alg_values_supported without the key's
// algorithm. Absent lists rule nothing out.
func (s *Signer) CheckProvider(methods, algs []string) error {
	if len(methods) > 0 && !slices.Contains(methods, Method) {
		return fmt.Errorf("the provider's token_endpoint_auth_methods_supported %v lacks %s", methods, Method)
	}
	if len(algs) > 0 && !slices.Contains(algs, string(s.alg)) {
		return fmt.Errorf("the provider's token_endpoint_auth_signing_alg_values_supported %v lacks %s, the key's algorithm", algs, s.alg)
	}
	return nil
}

// Transport returns a RoundTripper that authenticates each POST to one of
// endpoints (absolute URLs, compared after parsing) with a new assertion
// whose aud is that endpoint's URL, then sends it through base (nil means
// http.DefaultTransport). Other requests pass through untouched.
//
// An authenticated request must be a form (application/x-www-form-urlencoded)
// with no Authorization header, client_secret or client_assertion of its
// own: RFC 6749 §2.3 allows one authentication method per request. It gets
// client_id when it has none (RFC 7521 §4.2), client_assertion_type and
// client_assertion.
func (s *Signer) Transport(base http.RoundTripper, endpoints ...string) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	t := &transport{s: s, base: base, aud: map[string]string{}}
	for _, e := range endpoints {
		if u, err := url.Parse(e); err == nil && e != "" {
			t.aud[endpointKey(u)] = e
		}
	}
	return t
}

type transport struct {
	s    *Signer
	base http.RoundTripper
	aud  map[string]string // endpointKey -> the endpoint as configured
}

func endpointKey(u *url.URL) string {
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + u.EscapedPath() + "?" + u.RawQuery
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	aud, ok := t.aud[endpointKey(req.URL)]
	if !ok || req.Method != http.MethodPost {
		return t.base.RoundTrip(req)
	}
	out, err := t.authenticate(req, aud)
	if req.Body != nil {
		req.Body.Close() // RoundTrip closes the body, even on errors
	}
	if err != nil {
		return nil, err
	}
	return t.base.RoundTrip(out)
}

func (t *transport) authenticate(req *http.Request, aud string) (*http.Request, error) {
	if req.Header.Get("Authorization") != "" {
		return nil, errors.New("clientauth: the request already carries an Authorization header")
	}
	if ct := req.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return nil, fmt.Errorf("clientauth: a client assertion goes in a form body, not %q", ct)
	}
	var raw []byte
	if req.Body != nil {
		b, err := io.ReadAll(io.LimitReader(req.Body, maxForm+1))
		if err != nil {
			return nil, fmt.Errorf("clientauth: reading the request body: %w", err)
		}
		if len(b) > maxForm {
			return nil, errors.New("clientauth: the request body is too large")
		}
		raw = b
	}
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		return nil, errors.New("clientauth: the request body is not a form")
	}
	for _, k := range []string{"client_secret", "client_assertion", "client_assertion_type"} {
		if form.Has(k) {
			return nil, fmt.Errorf("clientauth: the request already carries %s", k)
		}
	}
	if id := form.Get("client_id"); id == "" {
		form.Set("client_id", t.s.clientID)
	} else if id != t.s.clientID {
		return nil, errors.New("clientauth: the request's client_id is not the assertion's")
	}
	a, err := t.s.Assertion(aud)
	if err != nil {
		return nil, fmt.Errorf("clientauth: %w", err)
	}
	form.Set("client_assertion_type", AssertionType)
	form.Set("client_assertion", a)
	body := form.Encode()

	out := req.Clone(req.Context())
	out.Body = io.NopCloser(strings.NewReader(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
	out.ContentLength = int64(len(body))
	return out, nil
}
