package jwks

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	jose "github.com/go-jose/go-jose/v4"
)

// minRSABits is the smallest RSA modulus accepted (RFC 7518 §3.3: 2048 bits or larger).
const minRSABits = 2048

// webKey is one usable public key of the set.
type webKey struct {
	kid string
	alg string // the JWK's own "alg"; empty when it has none
	pub crypto.PublicKey
}

// usableFor reports whether the key can check a signature made with a.
func (k *webKey) usableFor(a *algorithm) bool {
	return (k.alg == "" || k.alg == a.name) && a.fits(k.pub)
}

// keySet is an immutable snapshot of the keys: readers load it without a lock.
type keySet struct {
	keys []webKey
}

// errNotFound is internal: the caller decides between a refetch and ErrUnknownKey.
var errNotFound = errors.New("jwks: key not found")

// find selects the key for (kid, a) by the policy in the package doc.
func (s *keySet) find(kid string, a *algorithm) (*webKey, error) {
	var found *webKey
	kidSeen := false
	for i := range s.keys {
		k := &s.keys[i]
		if kid != "" {
			if k.kid != kid {
				continue
			}
			kidSeen = true
		}
		if !k.usableFor(a) {
			continue
		}
		if found != nil {
			return nil, ErrAmbiguousKey
		}
		found = k
	}
	switch {
	case found != nil:
		return found, nil
	case kidSeen:
		return nil, ErrKeyMismatch
	default:
		return nil, errNotFound
	}
}

// parseJWKS parses a JWKS document (RFC 7517 §5), keeping the keys usable with one of algs and
// skipping the others one by one. It fails only when the document is not a JSON object with a
// "keys" array or when no key is usable.
//
// go-jose's JSONWebKeySet can't be used directly: one key it cannot parse (an unknown kty, a
// bad "n") fails the whole set, so the array is split into raw members first.
func parseJWKS(data []byte, algs map[string]*algorithm, log *slog.Logger) (*keySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("jwks: key set is not a JSON object with a keys array: %w", err)
	}
	set := &keySet{keys: make([]webKey, 0, len(doc.Keys))}
	for i, raw := range doc.Keys {
		k, reason := parseKey(raw, algs)
		if reason != "" {
			log.Debug("jwks: skipping key", "index", i, "kid", truncate(k.kid, 64), "reason", reason)
			continue
		}
		set.keys = append(set.keys, k)
	}
	if len(set.keys) == 0 {
		return nil, fmt.Errorf("%w (%d listed)", ErrNoUsableKeys, len(doc.Keys))
	}
	return set, nil
}

// parseKey returns the key or, when the key is to be skipped, why.
func parseKey(raw json.RawMessage, algs map[string]*algorithm) (webKey, string) {
	// A first, lenient look at the members that decide whether the key is wanted at all, so
	// that unknown kty values and encryption keys are skipped before go-jose sees them.
	var peek struct {
		Kty    string          `json:"kty"`
		Use    string          `json:"use"`
		KeyOps []string        `json:"key_ops"`
		Alg    string          `json:"alg"`
		Kid    string          `json:"kid"`
		D      json.RawMessage `json:"d"` // private part of RSA, EC and OKP keys
		K      json.RawMessage `json:"k"` // symmetric key value
	}
	if err := json.Unmarshal(raw, &peek); err != nil {
		return webKey{}, "malformed member"
	}
	k := webKey{kid: peek.Kid, alg: peek.Alg}
	switch {
	case peek.Kty != "RSA" && peek.Kty != "EC" && peek.Kty != "OKP":
		return k, "unsupported kty"
	case peek.Use != "" && peek.Use != "sig": // RFC 7517 §4.2
		return k, "use is not sig"
	case peek.KeyOps != nil && !slices.Contains(peek.KeyOps, "verify"): // RFC 7517 §4.3
		return k, "key_ops lacks verify"
	case peek.Alg != "" && algs[peek.Alg] == nil:
		return k, "alg not allowed"
	case peek.D != nil || peek.K != nil:
		return k, "private key material"
	}

	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return k, "unparseable key material"
	}
	if !jwk.IsPublic() {
		return k, "private key material"
	}
	switch pub := jwk.Key.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < minRSABits {
			return k, "RSA key shorter than 2048 bits"
		}
	case *ecdsa.PublicKey:
	case ed25519.PublicKey:
	default:
		return k, "unsupported key type"
	}
	k.pub = jwk.Key
	usable := false
	for _, a := range algs {
		if k.usableFor(a) {
			usable = true
			break
		}
	}
	if !usable {
		return k, "key fits no allowed algorithm"
	}
	return k, ""
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
