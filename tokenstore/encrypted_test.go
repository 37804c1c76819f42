package tokenstore_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/tokenstore"
	"github.com/pubauth/awsauth/tokenstore/storetest"
)

func newKey(t testing.TB, id string) tokenstore.EncryptionKey {
	t.Helper()
	k := tokenstore.EncryptionKey{ID: id, Secret: make([]byte, 32)}
	_, _ = rand.Read(k.Secret)
	return k
}

func newEncrypted(t testing.TB, inner tokenstore.Store, keys ...tokenstore.EncryptionKey) tokenstore.Store {
	t.Helper()
	s, err := tokenstore.NewEncrypted(inner, keys)
	require.NoError(t, err)
	return s
}

func TestEncryptedConformance(t *testing.T) {
	k1, k2 := newKey(t, "k1"), newKey(t, "k2")
	inner := tokenstore.NewMemory()
	storetest.Run(t, func(t *testing.T) tokenstore.Store {
		return newEncrypted(t, inner, k2, k1)
	})
}

func TestEncryptedLockerOnlyOverLocker(t *testing.T) {
	k := newKey(t, "k")
	_, ok := newEncrypted(t, tokenstore.NewMemory(), k).(tokenstore.Locker)
	assert.True(t, ok, "over Memory, a Locker")
	_, ok = newEncrypted(t, struct{ tokenstore.Store }{tokenstore.NewMemory()}, k).(tokenstore.Locker)
	assert.False(t, ok, "over a plain Store, not a Locker: authflow would otherwise take leases that fail")
}

// The wrapper is an Indexer exactly when the inner store is, with or without
// Locker, and indexes pass through in the clear.
func TestEncryptedIndexerOnlyOverIndexer(t *testing.T) {
	k := newKey(t, "k")
	type lockerOnly struct {
		tokenstore.Store
		tokenstore.Locker
	}
	type indexerOnly struct {
		tokenstore.Store
		tokenstore.Indexer
	}
	m := tokenstore.NewMemory()
	for _, tc := range []struct {
		name                string
		inner               tokenstore.Store
		wantLocker, wantIdx bool
	}{
		{"Memory", m, true, true},
		{"plain Store", struct{ tokenstore.Store }{m}, false, false},
		{"Locker only", lockerOnly{m, m}, true, false},
		{"Indexer only", indexerOnly{m, m}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newEncrypted(t, tc.inner, k)
			_, isLocker := s.(tokenstore.Locker)
			x, isIdx := s.(tokenstore.Indexer)
			assert.Equal(t, tc.wantLocker, isLocker, "Locker")
			require.Equal(t, tc.wantIdx, isIdx, "Indexer")
			if !isIdx {
				return
			}
			index := "awsauth/user/" + tc.name
			_, err := x.AddToIndex(t.Context(), index, "member", time.Now().Add(time.Hour), 10)
			require.NoError(t, err)
			got, err := m.Index(t.Context(), index)
			require.NoError(t, err)
			assert.Equal(t, []string{"member"}, got, "the inner store holds the member as written")
		})
	}
}

// SetFenced seals like Set, and the fence still holds.
func TestEncryptedSetFenced(t *testing.T) {
	ctx := t.Context()
	inner := tokenstore.NewMemory()
	s := newEncrypted(t, inner, newKey(t, "k"))
	l := s.(tokenstore.Locker)
	lease, err := l.Acquire(ctx, "lease", time.Minute)
	require.NoError(t, err)
	require.NoError(t, l.SetFenced(ctx, lease, "key", []byte("secret tokens"), time.Time{}))
	raw, err := inner.Get(ctx, "key")
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "secret tokens")
	got, err := s.Get(ctx, "key")
	require.NoError(t, err)
	assert.Equal(t, "secret tokens", string(got))
	require.NoError(t, l.Release(ctx, lease))
	require.ErrorIs(t, l.SetFenced(ctx, lease, "key", []byte("stale"), time.Time{}), tokenstore.ErrLeaseLost)
}

// Tampered, truncated, moved, relabelled and wrong-key records are rejected
// with ErrCorrupt, and the error names no secret.
func TestEncryptedRejects(t *testing.T) {
	ctx := t.Context()
	k1, k2 := newKey(t, "k1"), newKey(t, "k2")
	inner := tokenstore.NewMemory()
	s := newEncrypted(t, inner, k1, k2)
	value := []byte("access+refresh tokens")
	require.NoError(t, s.Set(ctx, "a", value, time.Time{}))
	rec, err := inner.Get(ctx, "a")
	require.NoError(t, err)
	require.Len(t, rec, 2+len("k1")+12+len(value)+16)
	assert.Equal(t, "\x01\x02k1", string(rec[:4]), "version, id length, id of the newest key")

	reject := func(t *testing.T, key string, raw []byte, store tokenstore.Store) {
		t.Helper()
		require.NoError(t, inner.Set(ctx, key, raw, time.Time{}))
		got, err := store.Get(ctx, key)
		require.ErrorIs(t, err, tokenstore.ErrCorrupt)
		assert.Nil(t, got)
		for _, secret := range [][]byte{k1.Secret, k2.Secret, value} {
			assert.NotContains(t, err.Error(), string(secret))
		}
	}
	t.Run("every bit flipped", func(t *testing.T) {
		for i := range rec {
			for bit := range 8 {
				bad := bytes.Clone(rec)
				bad[i] ^= 1 << bit
				reject(t, "a-flipped", bad, s)
			}
		}
	})
	t.Run("every truncation", func(t *testing.T) {
		for n := range len(rec) {
			reject(t, "a-truncated", rec[:n], s)
		}
		reject(t, "a-extended", append(bytes.Clone(rec), 0), s)
	})
	t.Run("moved to another entry", func(t *testing.T) {
		reject(t, "b", rec, s)
		reject(t, "a ", rec, s)
	})
	t.Run("relabelled with another key's id", func(t *testing.T) {
		bad := append([]byte("\x01\x02k2"), rec[4:]...)
		reject(t, "a", bad, s)
	})
	t.Run("wrong key under the same id", func(t *testing.T) {
		other := newEncrypted(t, inner, newKey(t, "k1"))
		reject(t, "a", rec, other)
	})
	t.Run("key not in the ring", func(t *testing.T) {
		reject(t, "a", rec, newEncrypted(t, inner, k2))
	})
	t.Run("plaintext", func(t *testing.T) {
		reject(t, "a", value, s)
	})
}

// Rotation: records sealed with an older key stay readable once a new key
// leads the ring; new writes use the new key.
func TestEncryptedRotation(t *testing.T) {
	ctx := t.Context()
	old, next := newKey(t, "2026-01"), newKey(t, "2026-02")
	inner := tokenstore.NewMemory()
	before := newEncrypted(t, inner, old)
	require.NoError(t, before.Set(ctx, "session", []byte("v1"), time.Time{}))

	after := newEncrypted(t, inner, next, old)
	got, err := after.Get(ctx, "session")
	require.NoError(t, err)
	assert.Equal(t, "v1", string(got))

	require.NoError(t, after.Set(ctx, "session", []byte("v2"), time.Time{}))
	rec, err := inner.Get(ctx, "session")
	require.NoError(t, err)
	assert.Equal(t, "\x01\x072026-02", string(rec[:9]))
	_, err = before.Get(ctx, "session")
	require.ErrorIs(t, err, tokenstore.ErrCorrupt, "a ring without the new key cannot read its records")

	retired := newEncrypted(t, inner, next)
	got, err = retired.Get(ctx, "session")
	require.NoError(t, err)
	assert.Equal(t, "v2", string(got))
}

func TestNewEncryptedRejectsBadKeys(t *testing.T) {
	inner := tokenstore.NewMemory()
	good := newKey(t, "k")
	for _, tc := range []struct {
		name string
		keys []tokenstore.EncryptionKey
		want string
	}{
		{"no keys", nil, "no keys"},
		{"short secret", []tokenstore.EncryptionKey{{ID: "k", Secret: make([]byte, 16)}}, "16 bytes, want 32"},
		{"empty id", []tokenstore.EncryptionKey{{Secret: good.Secret}}, "ID must be"},
		{"long id", []tokenstore.EncryptionKey{{ID: strings.Repeat("x", 256), Secret: good.Secret}}, "ID must be"},
		{"repeated id", []tokenstore.EncryptionKey{good, good}, "repeated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tokenstore.NewEncrypted(inner, tc.keys)
			require.ErrorContains(t, err, tc.want)
			assert.True(t, strings.HasPrefix(err.Error(), "tokenstore: "))
			assert.NotContains(t, err.Error(), string(good.Secret))
		})
	}
	_, err := tokenstore.NewEncrypted(nil, []tokenstore.EncryptionKey{good})
	require.ErrorContains(t, err, "nil inner")
}

// The ring copies secrets: zeroing the caller's slice changes nothing.
func TestNewEncryptedCopiesSecrets(t *testing.T) {
	ctx := t.Context()
	inner := tokenstore.NewMemory()
	k := newKey(t, "k")
	keep := tokenstore.EncryptionKey{ID: "k", Secret: bytes.Clone(k.Secret)}
	s := newEncrypted(t, inner, k)
	clear(k.Secret)
	require.NoError(t, s.Set(ctx, "x", []byte("v"), time.Time{}))
	got, err := newEncrypted(t, inner, keep).Get(ctx, "x")
	require.NoError(t, err)
	assert.Equal(t, "v", string(got))
}

func TestEncryptionKeyRedacted(t *testing.T) {
	k := newKey(t, "k1")
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("key", "key", k)
	for _, out := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k), logged.String()} {
		assert.Contains(t, out, "k1")
		assert.NotContains(t, out, string(k.Secret))
		assert.NotContains(t, out, fmt.Sprint(k.Secret))
	}
}

// stubKMS stands in for AWS KMS (no KMS is reachable here): a master key
// wraps data keys with AES-GCM, as KMS's opaque CiphertextBlob does. It
// counts calls and can be made to fail.
type stubKMS struct {
	master   cipher.AEAD
	generate atomic.Int64
	decrypt  atomic.Int64
	down     atomic.Bool
}

func newStubKMS(t testing.TB) *stubKMS {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	block, err := aes.NewCipher(secret)
	require.NoError(t, err)
	aead, err := cipher.NewGCM(block)
	require.NoError(t, err)
	return &stubKMS{master: aead}
}

var errKMSDown = errors.New("KMSInternalException: service unavailable")

func (k *stubKMS) GenerateDataKey(ctx context.Context) ([]byte, []byte, error) {
	k.generate.Add(1)
	if k.down.Load() {
		return nil, nil, errKMSDown
	}
	plain := make([]byte, 32)
	_, _ = rand.Read(plain)
	nonce := make([]byte, k.master.NonceSize())
	_, _ = rand.Read(nonce)
	return plain, k.master.Seal(nonce, nonce, plain, nil), nil
}

func (k *stubKMS) Decrypt(ctx context.Context, wrapped []byte) ([]byte, error) {
	k.decrypt.Add(1)
	if k.down.Load() {
		return nil, errKMSDown
	}
	n := k.master.NonceSize()
	if len(wrapped) < n {
		return nil, errors.New("InvalidCiphertextException")
	}
	plain, err := k.master.Open(nil, wrapped[:n], wrapped[n:], nil)
	if err != nil {
		return nil, errors.New("InvalidCiphertextException")
	}
	return plain, nil
}

func newEnvelope(t testing.TB, inner tokenstore.Store, kms tokenstore.DataKeys) tokenstore.Store {
	t.Helper()
	s, err := tokenstore.NewEnvelopeEncrypted(context.Background(), inner, kms)
	require.NoError(t, err)
	return s
}

func TestEnvelopeConformance(t *testing.T) {
	kms := newStubKMS(t)
	inner := tokenstore.NewMemory()
	storetest.Run(t, func(t *testing.T) tokenstore.Store { return newEnvelope(t, inner, kms) })
}

// Instances (each with its own data key) read each other's records; a
// foreign data key is unwrapped once, however many requests need it at once.
func TestEnvelopeAcrossInstances(t *testing.T) {
	ctx := t.Context()
	kms := newStubKMS(t)
	shared := tokenstore.NewMemory()
	a, b := newEnvelope(t, shared, kms), newEnvelope(t, shared, kms)
	require.Equal(t, int64(2), kms.generate.Load(), "one data key per store")
	require.NoError(t, a.Set(ctx, "session", []byte("tokens"), time.Time{}))
	require.Zero(t, kms.decrypt.Load())

	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			got, err := b.Get(ctx, "session")
			if assert.NoError(t, err) {
				assert.Equal(t, "tokens", string(got))
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(1), kms.decrypt.Load(), "one Decrypt for a's data key")
	got, err := a.Get(ctx, "session")
	require.NoError(t, err)
	assert.Equal(t, "tokens", string(got))
	assert.Equal(t, int64(1), kms.decrypt.Load(), "a knows its own key")

	// A record copied to another entry is still refused.
	raw, err := shared.Get(ctx, "session")
	require.NoError(t, err)
	require.NoError(t, shared.Set(ctx, "other", raw, time.Time{}))
	_, err = b.Get(ctx, "other")
	require.ErrorIs(t, err, tokenstore.ErrCorrupt)
}

// KMS down: a fault, not corruption (no ErrCorrupt, so no logout), and no
// data key in the message; once KMS is back the record opens.
func TestEnvelopeKMSDown(t *testing.T) {
	ctx := t.Context()
	kms := newStubKMS(t)
	shared := tokenstore.NewMemory()
	a, b := newEnvelope(t, shared, kms), newEnvelope(t, shared, kms)
	require.NoError(t, a.Set(ctx, "session", []byte("tokens"), time.Time{}))
	kms.down.Store(true)
	_, err := b.Get(ctx, "session")
	require.ErrorIs(t, err, errKMSDown)
	require.NotErrorIs(t, err, tokenstore.ErrCorrupt)
	require.ErrorContains(t, err, "tokenstore: unwrapping a data key")

	_, err = tokenstore.NewEnvelopeEncrypted(ctx, shared, kms)
	require.ErrorIs(t, err, errKMSDown)

	kms.down.Store(false)
	got, err := b.Get(ctx, "session")
	require.NoError(t, err)
	assert.Equal(t, "tokens", string(got))
}

// A tampered wrapped key fails to unwrap; a tampered body fails to open.
func TestEnvelopeTampered(t *testing.T) {
	ctx := t.Context()
	kms := newStubKMS(t)
	shared := tokenstore.NewMemory()
	a, b := newEnvelope(t, shared, kms), newEnvelope(t, shared, kms)
	require.NoError(t, a.Set(ctx, "session", []byte("tokens"), time.Time{}))
	raw, err := shared.Get(ctx, "session")
	require.NoError(t, err)

	bad := append([]byte(nil), raw...)
	bad[5] ^= 1 // inside the wrapped data key
	require.NoError(t, shared.Set(ctx, "session", bad, time.Time{}))
	_, err = b.Get(ctx, "session")
	require.Error(t, err)

	bad = append([]byte(nil), raw...)
	bad[len(bad)-1] ^= 1 // the tag
	require.NoError(t, shared.Set(ctx, "session", bad, time.Time{}))
	_, err = b.Get(ctx, "session")
	require.ErrorIs(t, err, tokenstore.ErrCorrupt)
}

type badKeys struct{ plain, wrapped []byte }

func (k badKeys) GenerateDataKey(context.Context) ([]byte, []byte, error) {
	return k.plain, k.wrapped, nil
}
func (k badKeys) Decrypt(context.Context, []byte) ([]byte, error) { return k.plain, nil }

func TestNewEnvelopeEncryptedRejects(t *testing.T) {
	inner := tokenstore.NewMemory()
	for _, tc := range []struct {
		name string
		keys tokenstore.DataKeys
		want string
	}{
		{"short data key", badKeys{make([]byte, 16), []byte("w")}, "data key is 16 bytes"},
		{"no wrapped key", badKeys{make([]byte, 32), nil}, "wrapped data key is 0 bytes"},
		{"long wrapped key", badKeys{make([]byte, 32), make([]byte, 256)}, "wrapped data key is 256 bytes"},
		{"nil", nil, "nil inner store or DataKeys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tokenstore.NewEnvelopeEncrypted(t.Context(), inner, tc.keys)
			require.ErrorContains(t, err, tc.want)
		})
	}
}
