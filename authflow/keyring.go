package authflow

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
)

// errSealed is the one error for a sealed value that does not open: tampered,
// truncated, foreign, or under a retired key. Callers treat all alike.
var errSealed = errors.New("authflow: sealed value does not open")

const keyIDLen = 4

// keyRing seals short-lived values (the login flow cookie) with AES-256-GCM
// and keys CSRF tokens with HMAC-SHA-256. Each configured secret yields two
// independent subkeys through HKDF, so the secret is never used directly.
type keyRing struct {
	keys []ringKey // keys[0] seals; all open
}

type ringKey struct {
	id   [keyIDLen]byte
	aead cipher.AEAD
	csrf []byte
}

func newKeyRing(secrets [][]byte) (*keyRing, error) {
	r := &keyRing{}
	for _, s := range secrets {
		sealKey, err := hkdf.Key(sha256.New, s, nil, "awsauth/authflow seal v1", 32)
		if err != nil {
			return nil, err
		}
		csrfKey, err := hkdf.Key(sha256.New, s, nil, "awsauth/authflow csrf v1", 32)
		if err != nil {
			return nil, err
		}
		block, err := aes.NewCipher(sealKey)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(sealKey)
		k := ringKey{aead: aead, csrf: csrfKey}
		copy(k.id[:], sum[:keyIDLen])
		r.keys = append(r.keys, k)
	}
	return r, nil
}

// seal encrypts plaintext bound to context (the cookie's name), which must be
// presented again to open it, and returns base64url text.
func (r *keyRing) seal(context string, plaintext []byte) string {
	k := r.keys[0]
	out := make([]byte, keyIDLen+k.aead.NonceSize(), keyIDLen+k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	copy(out, k.id[:])
	rand.Read(out[keyIDLen:])
	out = k.aead.Seal(out, out[keyIDLen:], plaintext, []byte(context))
	return base64.RawURLEncoding.EncodeToString(out)
}

// open reverses seal. maxLen bounds the encoded input before any decoding.
func (r *keyRing) open(context, sealed string, maxLen int) ([]byte, error) {
	if len(sealed) > maxLen {
		return nil, errSealed
	}
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(raw) < keyIDLen {
		return nil, errSealed
	}
	for _, k := range r.keys {
		if !hmac.Equal(raw[:keyIDLen], k.id[:]) {
			continue
		}
		ns := k.aead.NonceSize()
		if len(raw) < keyIDLen+ns+k.aead.Overhead() {
			return nil, errSealed
		}
		pt, err := k.aead.Open(nil, raw[keyIDLen:keyIDLen+ns], raw[keyIDLen+ns:], []byte(context))
		if err != nil {
			return nil, errSealed
		}
		return pt, nil
	}
	return nil, errSealed
}

// csrfToken returns the CSRF token bound to a session id, under the newest key.
func (r *keyRing) csrfToken(sessionID string) string {
	return csrfMAC(r.keys[0].csrf, sessionID)
}

// checkCSRF accepts a token made under any key in the ring.
func (r *keyRing) checkCSRF(sessionID, token string) bool {
	ok := false
	for _, k := range r.keys {
		// Compare against every key without an early exit; the ring is small.
		if hmac.Equal([]byte(csrfMAC(k.csrf, sessionID)), []byte(token)) {
			ok = true
		}
	}
	return ok
}

func csrfMAC(key []byte, sessionID string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("csrf\x00"))
	m.Write([]byte(sessionID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
