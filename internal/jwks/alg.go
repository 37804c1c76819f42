package jwks

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"math/big"
)

// algorithm is one JWS signature algorithm this package can verify (RFC 7518 §3.3–3.5, RFC 8037 §3.1).
type algorithm struct {
	name  string
	kty   string // the JWK kty of its keys
	hash  crypto.Hash
	pss   bool           // RSASSA-PSS rather than PKCS #1 v1.5
	curve elliptic.Curve // ECDSA only
	size  int            // ECDSA only: bytes of r and of s
}

// algorithms lists every algorithm Config.Algorithms may name. Symmetric (HS*) and "none" are absent
// on purpose: a public key set can't verify a MAC, and accepting one is the alg-confusion attack.
var algorithms = map[string]*algorithm{
	"RS256": {name: "RS256", kty: "RSA", hash: crypto.SHA256},
	"RS384": {name: "RS384", kty: "RSA", hash: crypto.SHA384},
	"RS512": {name: "RS512", kty: "RSA", hash: crypto.SHA512},
	"PS256": {name: "PS256", kty: "RSA", hash: crypto.SHA256, pss: true},
	"PS384": {name: "PS384", kty: "RSA", hash: crypto.SHA384, pss: true},
	"PS512": {name: "PS512", kty: "RSA", hash: crypto.SHA512, pss: true},
	"ES256": {name: "ES256", kty: "EC", hash: crypto.SHA256, curve: elliptic.P256(), size: 32},
	"ES384": {name: "ES384", kty: "EC", hash: crypto.SHA384, curve: elliptic.P384(), size: 48},
	"ES512": {name: "ES512", kty: "EC", hash: crypto.SHA512, curve: elliptic.P521(), size: 66},
	"EdDSA": {name: "EdDSA", kty: "OKP"},
}

// fits reports whether pub is a key of the type and curve alg signs with.
func (a *algorithm) fits(pub crypto.PublicKey) bool {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		return a.kty == "RSA"
	case *ecdsa.PublicKey:
		return a.kty == "EC" && pub.Curve == a.curve
	case ed25519.PublicKey:
		return a.kty == "OKP"
	}
	return false
}

// verify checks sig over signingInput (the ASCII "header.payload" of RFC 7515 §5.2 step 8) with pub,
// which fits a.
func (a *algorithm) verify(pub crypto.PublicKey, signingInput string, sig []byte) error {
	if ed, ok := pub.(ed25519.PublicKey); ok {
		if len(sig) != ed25519.SignatureSize {
			return errSigLength
		}
		if !ed25519.Verify(ed, []byte(signingInput), sig) {
			return ErrInvalidSignature
		}
		return nil
	}

	var sum [sha512.Size]byte
	digest := a.digest(&sum, signingInput)
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		var err error
		if a.pss {
			// RFC 7518 §3.5: the salt is as long as the hash.
			err = rsa.VerifyPSS(pub, a.hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			err = rsa.VerifyPKCS1v15(pub, a.hash, digest, sig)
		}
		if err != nil {
			return ErrInvalidSignature
		}
		return nil
	case *ecdsa.PublicKey:
		// RFC 7518 §3.4: R and S as fixed-width big-endian integers, not ASN.1.
		if len(sig) != 2*a.size {
			return errSigLength
		}
		r := new(big.Int).SetBytes(sig[:a.size])
		s := new(big.Int).SetBytes(sig[a.size:])
		if !ecdsa.Verify(pub, digest, r, s) {
			return ErrInvalidSignature
		}
		return nil
	}
	return ErrKeyMismatch
}

func (a *algorithm) digest(sum *[sha512.Size]byte, signingInput string) []byte {
	switch a.hash {
	case crypto.SHA256:
		h := sha256.Sum256([]byte(signingInput))
		return append(sum[:0], h[:]...)
	case crypto.SHA384:
		h := sha512.Sum384([]byte(signingInput))
		return append(sum[:0], h[:]...)
	default:
		h := sha512.Sum512([]byte(signingInput))
		return append(sum[:0], h[:]...)
	}
}
