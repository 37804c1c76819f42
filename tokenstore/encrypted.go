package tokenstore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// EncryptionKey is one AES-256 key of an Encrypted store's key ring.
//
// Its String, GoString and LogValue methods print the ID only.
type EncryptionKey struct {
	// ID names the key in every record it seals, so a reader finds the key
	// again after rotation: 1 to 255 bytes, unique in the ring, not secret
	// (for example "2026-01" or a KMS key version).
	ID string
	// Secret is the key: 32 bytes from a cryptographically secure source.
	Secret []byte
}

func (k EncryptionKey) String() string {
	return "tokenstore.EncryptionKey{ID:" + k.ID + ", Secret:REDACTED}"
}
func (k EncryptionKey) GoString() string     { return k.String() }
func (k EncryptionKey) LogValue() slog.Value { return slog.GroupValue(slog.String("id", k.ID)) }

// The sealed record, version 1:
//
//	version   byte (1)
//	id length byte, 1 to 255
//	id        the key's ID
//	nonce     12 random bytes
//	sealed    AES-256-GCM ciphertext of the value, then its 16-byte tag
//
// The associated data is the header (version, id length, id) followed by the
// store key, so a record opens only under the key id and the entry it was
// written for: ciphertext copied to another entry, or relabelled with another
// key's id, fails authentication.
const (
	encryptedVersion = 1
	gcmNonceSize     = 12
	gcmTagSize       = 16
)

// Encrypted is a Store that seals every value with AES-256-GCM before it
// reaches the inner store and opens it on the way back. Create it with
// NewEncrypted. Keys and expiry are passed through in the clear: only values
// are secret. So are indexes (Indexer): names, members and expiries.
type Encrypted struct {
	inner Store
	write *ringKey // keys[0], or the data key of NewEnvelopeEncrypted
	byID  map[string]*ringKey

	// Envelope encryption only: unwraps data keys not yet seen.
	dataKeys DataKeys
	unwrapMu sync.Mutex
	unwraps  singleflight.Group
}

type ringKey struct {
	id   string
	aead cipher.AEAD
}

// encryptedLocker is an Encrypted over a Locker, so that a type assertion
// for Locker on the result of NewEncrypted says what the inner store can do.
type encryptedLocker struct {
	*Encrypted
	locker Locker
}

var (
	_ Store  = (*Encrypted)(nil)
	_ Locker = (*encryptedLocker)(nil)
)

// NewEncrypted returns inner wrapped in AES-256-GCM (crypto/cipher) under the
// key ring keys: every write seals with keys[0], the newest; a read opens a
// record sealed with any key of the ring. To rotate, put a new key first and
// keep the old ones until every record they sealed has expired or been
// rewritten (a session is rewritten at each refresh).
//
// The result implements Locker exactly when inner does; its SetFenced seals
// the value like Set. It implements Indexer exactly when inner does, passing
// indexes through unchanged. Nonces are random, so one key should seal at most 2^32
// values (NIST SP 800-38D §8.3): rotate well before that.
//
// It returns an error when keys is empty, a Secret is not 32 bytes, or an ID
// is empty, longer than 255 bytes or repeated. Secrets are copied.
func NewEncrypted(inner Store, keys []EncryptionKey) (Store, error) {
	if inner == nil {
		return nil, errors.New("tokenstore: NewEncrypted: nil inner store")
	}
	if len(keys) == 0 {
		return nil, errors.New("tokenstore: NewEncrypted: no keys")
	}
	e := &Encrypted{inner: inner, byID: make(map[string]*ringKey, len(keys))}
	for i, k := range keys {
		switch {
		case len(k.ID) == 0 || len(k.ID) > 255:
			return nil, fmt.Errorf("tokenstore: NewEncrypted: key %d: ID must be 1 to 255 bytes", i)
		case len(k.Secret) != 32:
			return nil, fmt.Errorf("tokenstore: NewEncrypted: key %q: secret is %d bytes, want 32", k.ID, len(k.Secret))
		case e.byID[k.ID] != nil:
			return nil, fmt.Errorf("tokenstore: NewEncrypted: key ID %q repeated", k.ID)
		}
		rk, err := newRingKey(k.ID, k.Secret)
		if err != nil {
			return nil, fmt.Errorf("tokenstore: NewEncrypted: key %q: %w", k.ID, err)
		}
		e.byID[k.ID] = rk
		if i == 0 {
			e.write = rk
		}
	}
	return e.withLocker(), nil
}

// withLocker returns e, as a Locker when its inner store is one, and as an
// Indexer when its inner store is one (encrypted_index.go).
func (e *Encrypted) withLocker() Store {
	if l, ok := e.inner.(Locker); ok {
		return withIndexer(&encryptedLocker{Encrypted: e, locker: l}, e.inner)
	}
	return withIndexer(e, e.inner)
}

func newRingKey(id string, secret []byte) (*ringKey, error) {
	block, err := aes.NewCipher(secret) // copies the key into its schedule
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &ringKey{id: id, aead: aead}, nil
}

// DataKeys is a source of data keys for envelope encryption, as AWS KMS's
// GenerateDataKey (KeySpec AES_256) and Decrypt are: a master key that never
// leaves the service wraps each data key. Implementations are safe for
// concurrent use.
type DataKeys interface {
	// GenerateDataKey returns a new 32-byte data key and the same key
	// wrapped by the master key (KMS: Plaintext and CiphertextBlob).
	GenerateDataKey(ctx context.Context) (plaintext, wrapped []byte, err error)
	// Decrypt unwraps a key that GenerateDataKey wrapped.
	Decrypt(ctx context.Context, wrapped []byte) (plaintext []byte, err error)
}

// maxDataKeys bounds the unwrapped data keys an envelope store keeps; past it
// the cache starts over. Each process writes with one data key, so the keys
// in use number about the instances started within the records' lifetime.
const maxDataKeys = 1024

// NewEnvelopeEncrypted is NewEncrypted with keys from dataKeys: it asks for
// one data key now (bounded by ctx) and seals every write with it; the record
// names its key by the wrapped data key (at most 255 bytes; KMS's blob for an
// AES-256 key is 184), which a reader unwraps with Decrypt once per process
// and data key (concurrent first reads share one call) and then keeps. A new
// store, for example at each start, brings a new data key; records sealed with
// older ones stay readable while the master key unwraps them.
//
// A failed Decrypt (the key service down, access denied, a tampered wrapped
// key) makes Get return an error that does not wrap ErrCorrupt: the caller
// can't tell a fault from an attack, so it must not treat it as "logged out".
// The plaintext data key is never logged or put into an error.
//
// Disabling or deleting the master key (KMS DisableKey) stops new stores and
// reads of records whose data key this store has not unwrapped yet; a store
// keeps the data keys it holds until it is dropped, so running instances go
// on until restarted. tokenstore/internal/kmstest shows this, rotation and the
// round trip against moto's KMS.
func NewEnvelopeEncrypted(ctx context.Context, inner Store, dataKeys DataKeys) (Store, error) {
	if inner == nil || dataKeys == nil {
		return nil, errors.New("tokenstore: NewEnvelopeEncrypted: nil inner store or DataKeys")
	}
	plain, wrapped, err := dataKeys.GenerateDataKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("tokenstore: NewEnvelopeEncrypted: generating a data key: %w", err)
	}
	defer clear(plain)
	switch {
	case len(plain) != 32:
		return nil, fmt.Errorf("tokenstore: NewEnvelopeEncrypted: data key is %d bytes, want 32", len(plain))
	case len(wrapped) == 0 || len(wrapped) > 255:
		return nil, fmt.Errorf("tokenstore: NewEnvelopeEncrypted: wrapped data key is %d bytes, want 1 to 255", len(wrapped))
	}
	k, err := newRingKey(string(wrapped), plain)
	if err != nil {
		return nil, fmt.Errorf("tokenstore: NewEnvelopeEncrypted: %w", err)
	}
	e := &Encrypted{inner: inner, write: k, byID: map[string]*ringKey{k.id: k}, dataKeys: dataKeys}
	return e.withLocker(), nil
}

// key returns the ring key named id, unwrapping it for an envelope store.
// (id is a []byte so that the lookups, map[string(id)], allocate nothing.)
func (e *Encrypted) key(ctx context.Context, rawID []byte) (*ringKey, error) {
	if e.dataKeys == nil { // a static ring: byID never changes
		if k := e.byID[string(rawID)]; k != nil {
			return k, nil
		}
		return nil, fmt.Errorf("%w: encrypted with a key not in the ring", ErrCorrupt)
	}
	e.unwrapMu.Lock()
	k := e.byID[string(rawID)]
	e.unwrapMu.Unlock()
	if k != nil {
		return k, nil
	}
	id := string(rawID)
	v, err, _ := e.unwraps.Do(id, func() (any, error) {
		plain, err := e.dataKeys.Decrypt(ctx, []byte(id))
		if err != nil {
			return nil, fmt.Errorf("tokenstore: unwrapping a data key: %w", err)
		}
		defer clear(plain)
		if len(plain) != 32 {
			return nil, fmt.Errorf("tokenstore: unwrapping a data key: got %d bytes, want 32", len(plain))
		}
		k, err := newRingKey(id, plain)
		if err != nil {
			return nil, err
		}
		e.unwrapMu.Lock()
		defer e.unwrapMu.Unlock()
		if len(e.byID) >= maxDataKeys {
			e.byID = map[string]*ringKey{e.write.id: e.write}
		}
		e.byID[id] = k
		return k, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*ringKey), nil
}

// header returns the record's header for key k.
func header(k *ringKey) []byte {
	h := make([]byte, 0, 2+len(k.id))
	h = append(h, encryptedVersion, byte(len(k.id)))
	return append(h, k.id...)
}

// seal returns the record of value stored under key, sealed with the write key.
func (e *Encrypted) seal(key string, value []byte) []byte {
	k := e.write
	h := header(k)
	out := make([]byte, len(h), len(h)+gcmNonceSize+len(value)+gcmTagSize)
	copy(out, h)
	nonce := out[len(h) : len(h)+gcmNonceSize]
	out = out[:len(h)+gcmNonceSize]
	_, _ = rand.Read(nonce) // never fails since Go 1.24
	return k.aead.Seal(out, nonce, value, append(h, key...))
}

// open returns the value of a record read under key. Errors wrap ErrCorrupt,
// except a failure to unwrap a data key.
func (e *Encrypted) open(ctx context.Context, key string, rec []byte) ([]byte, error) {
	if len(rec) < 2 {
		return nil, fmt.Errorf("%w: encrypted record truncated", ErrCorrupt)
	}
	if rec[0] != encryptedVersion {
		return nil, fmt.Errorf("%w: encrypted record of unknown version %d", ErrCorrupt, rec[0])
	}
	idLen := int(rec[1])
	hLen := 2 + idLen
	if idLen == 0 || len(rec) < hLen+gcmNonceSize+gcmTagSize {
		return nil, fmt.Errorf("%w: encrypted record truncated", ErrCorrupt)
	}
	k, err := e.key(ctx, rec[2:hLen])
	if err != nil {
		return nil, err
	}
	h := rec[:hLen:hLen] // full slice expression: the append below must copy
	nonce := rec[hLen : hLen+gcmNonceSize]
	sealed := rec[hLen+gcmNonceSize:]
	// Opened in place: the inner store's Get gave this process its own copy.
	v, err := k.aead.Open(sealed[:0], nonce, sealed, append(h, key...))
	if err != nil {
		// Tampered, truncated, moved from another entry, or sealed by
		// another key under this id.
		return nil, fmt.Errorf("%w: encrypted record does not authenticate for this entry", ErrCorrupt)
	}
	return v, nil
}

// Get returns the opened value stored under key. It returns ErrNotFound as
// the inner store does, and an error wrapping ErrCorrupt when the record is
// not one this ring sealed for key.
func (e *Encrypted) Get(ctx context.Context, key string) ([]byte, error) {
	rec, err := e.inner.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return e.open(ctx, key, rec)
}

// Set seals value and stores it under key until expiry.
func (e *Encrypted) Set(ctx context.Context, key string, value []byte, expiry time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return e.inner.Set(ctx, key, e.seal(key, value), expiry)
}

// Delete removes key from the inner store.
func (e *Encrypted) Delete(ctx context.Context, key string) error {
	return e.inner.Delete(ctx, key)
}

// Acquire is the inner store's Acquire.
func (e *encryptedLocker) Acquire(ctx context.Context, name string, ttl time.Duration) (Lease, error) {
	return e.locker.Acquire(ctx, name, ttl)
}

// Extend is the inner store's Extend.
func (e *encryptedLocker) Extend(ctx context.Context, lease Lease, ttl time.Duration) (Lease, error) {
	return e.locker.Extend(ctx, lease, ttl)
}

// Release is the inner store's Release.
func (e *encryptedLocker) Release(ctx context.Context, lease Lease) error {
	return e.locker.Release(ctx, lease)
}

// SetFenced seals value and stores it with the inner store's SetFenced.
func (e *encryptedLocker) SetFenced(ctx context.Context, lease Lease, key string, value []byte, expiry time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return e.locker.SetFenced(ctx, lease, key, e.seal(key, value), expiry)
}
