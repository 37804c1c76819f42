package tokenstore_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"
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
	storetest.Run(t, func(t *testing.T) tokenstore.Store {
		return newEncrypted(t, tokenstore.NewMemory(), k2, k1)
	})
}

func TestEncryptedLockerOnlyOverLocker(t *testing.T) {
	k := newKey(t, "k")
	_, ok := newEncrypted(t, tokenstore.NewMemory(), k).(tokenstore.Locker)
	assert.True(t, ok, "over Memory, a Locker")
	_, ok = newEncrypted(t, struct{ tokenstore.Store }{tokenstore.NewMemory()}, k).(tokenstore.Locker)
	assert.False(t, ok, "over a plain Store, not a Locker: authflow would otherwise take leases that fail")
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
