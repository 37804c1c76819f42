package kmstest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/internal/testenv"
	"github.com/pubauth/awsauth/tokenstore"
	"github.com/pubauth/awsauth/tokenstore/storetest"
)

// errKeyNotInRing is kmsKeyRing's refusal of a data key wrapped by a KMS key outside its ring.
var errKeyNotInRing = errors.New("kms: data key wrapped by a KMS key not in the ring")

// kmsKeyRing is tokenstore.DataKeys over AWS KMS with a ring of KMS keys, newest first:
// GenerateDataKey (KeySpec AES_256) under the first, Decrypt of a data key wrapped by any of
// them. To rotate to a new KMS key, put its ARN first and keep the old ones while records
// they wrapped live. (KMS's own automatic or on-demand rotation keeps the key id and every
// older key material, so it needs no change here.) The same adapter is
// tokenstore's ExampleNewEnvelopeEncrypted.
type kmsKeyRing struct {
	client  *kms.Client
	keyARNs []string // key ARNs, as Decrypt answers them; newest first
}

func (k kmsKeyRing) GenerateDataKey(ctx context.Context) ([]byte, []byte, error) {
	out, err := k.client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId: aws.String(k.keyARNs[0]), KeySpec: kmstypes.DataKeySpecAes256,
	})
	if err != nil {
		return nil, nil, err
	}
	return out.Plaintext, out.CiphertextBlob, nil
}

// Decrypt names no KeyId (a symmetric ciphertext names its own KMS key) and checks the
// answer's KeyId against the ring: what KMS's advice to name the key guards, in one call for
// any key of the ring.
func (k kmsKeyRing) Decrypt(ctx context.Context, wrapped []byte) ([]byte, error) {
	out, err := k.client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: wrapped})
	if err != nil {
		return nil, err
	}
	if !slices.Contains(k.keyARNs, aws.ToString(out.KeyId)) {
		clear(out.Plaintext)
		return nil, fmt.Errorf("%w: %s", errKeyNotInRing, aws.ToString(out.KeyId))
	}
	return out.Plaintext, nil
}

// kmsPeer is a moto server, a kms client straight to it, and keyStateProxy in front of it.
type kmsPeer struct {
	moto   *kms.Client // straight to moto
	client *kms.Client // through the proxy: what the stores use
	proxy  *keyStateProxy
}

func newKMSPeer(t *testing.T) *kmsPeer {
	t.Helper()
	m, err := testenv.StartMoto(t.Context())
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := m.Stop(); err != nil {
			t.Errorf("stop moto: %v", err)
		}
	})
	direct := kms.NewFromConfig(m.Config())
	target, err := url.Parse(m.Endpoint)
	require.NoError(t, err)
	proxy := &keyStateProxy{moto: direct, next: httputil.NewSingleHostReverseProxy(target)}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	cfg := m.Config()
	cfg.BaseEndpoint = aws.String(srv.URL)
	return &kmsPeer{moto: direct, client: kms.NewFromConfig(cfg), proxy: proxy}
}

// createKey makes a symmetric encryption KMS key and returns its ARN.
func (p *kmsPeer) createKey(t *testing.T) string {
	t.Helper()
	out, err := p.moto.CreateKey(t.Context(), &kms.CreateKeyInput{Description: aws.String(t.Name())})
	require.NoError(t, err)
	return aws.ToString(out.KeyMetadata.Arn)
}

// disableKey disables the key; moto's DisableKey and EnableKey take the bare key id only.
func (p *kmsPeer) disableKey(t *testing.T, keyARN string) {
	t.Helper()
	_, err := p.moto.DisableKey(t.Context(), &kms.DisableKeyInput{KeyId: aws.String(bareKeyID(keyARN))})
	require.NoError(t, err)
}

func (p *kmsPeer) enableKey(t *testing.T, keyARN string) {
	t.Helper()
	_, err := p.moto.EnableKey(t.Context(), &kms.EnableKeyInput{KeyId: aws.String(bareKeyID(keyARN))})
	require.NoError(t, err)
}

func bareKeyID(keyARN string) string {
	_, id, _ := strings.Cut(keyARN, ":key/")
	return id
}

func (p *kmsPeer) envelope(t *testing.T, inner tokenstore.Store, keyARNs ...string) tokenstore.Store {
	t.Helper()
	s, err := tokenstore.NewEnvelopeEncrypted(t.Context(), inner, kmsKeyRing{client: p.client, keyARNs: keyARNs})
	require.NoError(t, err)
	return s
}

// keyStateProxy forwards KMS requests to moto and adds the rule moto 5.2.5 lacks: AWS KMS
// answers GenerateDataKey and Decrypt under a key that is not Enabled with DisabledException
// (Disabled) or KMSInvalidStateException (PendingDeletion, ...), HTTP 400, in the JSON 1.1
// protocol's error shape (API_Decrypt and API_GenerateDataKey "Errors"; "Key states of AWS
// KMS keys", https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html). The
// answer's KeyId names the key a ciphertext was wrapped by, so the state is asked of moto
// after it answered; a refused answer is dropped whole.
type keyStateProxy struct {
	moto  *kms.Client
	next  http.Handler
	calls sync.Map // X-Amz-Target -> *atomic.Int64
}

func (p *keyStateProxy) count(target string) int64 {
	n, _ := p.calls.LoadOrStore(target, new(atomic.Int64))
	return n.(*atomic.Int64).Load()
}

func (p *keyStateProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	n, _ := p.calls.LoadOrStore(target, new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
	if target != "TrentService.GenerateDataKey" && target != "TrentService.Decrypt" {
		p.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	p.next.ServeHTTP(rec, r)
	if rec.Code == http.StatusOK {
		var out struct{ KeyId string }
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			http.Error(w, "proxy: "+err.Error(), http.StatusBadGateway)
			return
		}
		d, err := p.moto.DescribeKey(r.Context(), &kms.DescribeKeyInput{KeyId: aws.String(out.KeyId)})
		if err != nil {
			http.Error(w, "proxy: "+err.Error(), http.StatusBadGateway)
			return
		}
		switch state := d.KeyMetadata.KeyState; state {
		case kmstypes.KeyStateEnabled:
		case kmstypes.KeyStateDisabled:
			kmsError(w, "DisabledException", out.KeyId+" is disabled.")
			return
		default:
			kmsError(w, "KMSInvalidStateException", out.KeyId+" is "+string(state)+".")
			return
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

func kmsError(w http.ResponseWriter, code, message string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": message})
}

// TestMotoIgnoresKeyState pins the gap keyStateProxy fills. When it fails, moto refuses a
// disabled key itself: drop the proxy.
func TestMotoIgnoresKeyState(t *testing.T) {
	p := newKMSPeer(t)
	ctx := t.Context()
	key := p.createKey(t)
	gen, err := p.moto.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(key), KeySpec: kmstypes.DataKeySpecAes256})
	require.NoError(t, err)
	p.disableKey(t, key)
	d, err := p.moto.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(key)})
	require.NoError(t, err)
	require.Equal(t, kmstypes.KeyStateDisabled, d.KeyMetadata.KeyState)
	_, err = p.moto.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gen.CiphertextBlob})
	assert.NoError(t, err, "moto now refuses Decrypt under a disabled key: drop keyStateProxy")
	_, err = p.client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gen.CiphertextBlob})
	var disabled *kmstypes.DisabledException
	assert.ErrorAs(t, err, &disabled, "through the proxy, as AWS KMS answers")
}

// The envelope store passes the store conformance suite with data keys from KMS.
func TestEnvelopeConformanceWithKMS(t *testing.T) {
	p := newKMSPeer(t)
	key := p.createKey(t)
	inner := tokenstore.NewMemory()
	storetest.Run(t, func(t *testing.T) tokenstore.Store { return p.envelope(t, inner, key) })
}

// Two instances over one backend, each with its own data key from KMS: each reads the
// other's records after one Decrypt per foreign data key, however many reads need it at once.
func TestEnvelopeRoundTripThroughKMS(t *testing.T) {
	p := newKMSPeer(t)
	ctx := t.Context()
	key := p.createKey(t)
	shared := tokenstore.NewMemory()
	a, b := p.envelope(t, shared, key), p.envelope(t, shared, key)
	assert.Equal(t, int64(2), p.proxy.count("TrentService.GenerateDataKey"), "one data key per store")

	require.NoError(t, a.Set(ctx, "awsauth/session/abc", []byte("alice's tokens"), time.Now().Add(time.Hour)))
	raw, err := shared.Get(ctx, "awsauth/session/abc")
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "alice's tokens", "sealed at rest")
	wrapped := raw[2 : 2+int(raw[1])] // the record names its data key by KMS's CiphertextBlob
	dec, err := p.moto.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: wrapped})
	require.NoError(t, err, "the record's key id is a KMS ciphertext")
	assert.Equal(t, key, aws.ToString(dec.KeyId))
	assert.Len(t, dec.Plaintext, 32, "an AES-256 data key")

	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			got, err := b.Get(ctx, "awsauth/session/abc")
			if assert.NoError(t, err) {
				assert.Equal(t, "alice's tokens", string(got))
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(1), p.proxy.count("TrentService.Decrypt"), "b unwrapped a's data key once")
	got, err := a.Get(ctx, "awsauth/session/abc")
	require.NoError(t, err)
	assert.Equal(t, "alice's tokens", string(got))
	assert.Equal(t, int64(1), p.proxy.count("TrentService.Decrypt"), "a knows its own data key")
}

// Rotation to a new KMS key: a store whose ring is {new, old} writes under the new key and
// still opens the old records; a store whose ring lacks the key of a record refuses it,
// clearly, and not as ErrCorrupt. As with NewEncrypted's ring, roll a new key out to every
// instance in second place before any instance puts it first.
func TestEnvelopeKMSKeyRotation(t *testing.T) {
	p := newKMSPeer(t)
	ctx := t.Context()
	oldKey := p.createKey(t)
	shared := tokenstore.NewMemory()
	before := p.envelope(t, shared, oldKey)
	require.NoError(t, before.Set(ctx, "old", []byte("written before"), time.Time{}))

	newKey := p.createKey(t)
	after := p.envelope(t, shared, newKey, oldKey)
	got, err := after.Get(ctx, "old")
	require.NoError(t, err, "old records open after the rotation")
	assert.Equal(t, "written before", string(got))
	require.NoError(t, after.Set(ctx, "new", []byte("written after"), time.Time{}))
	raw, err := shared.Get(ctx, "new")
	require.NoError(t, err)
	dec, err := p.moto.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: raw[2 : 2+int(raw[1])]})
	require.NoError(t, err)
	assert.Equal(t, newKey, aws.ToString(dec.KeyId), "new writes use the newest key")
	_, err = before.Get(ctx, "new")
	require.ErrorIs(t, err, errKeyNotInRing, "an instance whose ring lacks the new key")
	assert.NotErrorIs(t, err, tokenstore.ErrCorrupt)
	rolledOut := p.envelope(t, shared, oldKey, newKey) // the new key second: reads it, writes the old
	got, err = rolledOut.Get(ctx, "new")
	require.NoError(t, err)
	assert.Equal(t, "written after", string(got))

	retired := p.envelope(t, shared, newKey)
	_, err = retired.Get(ctx, "old")
	require.ErrorIs(t, err, errKeyNotInRing)
	assert.NotErrorIs(t, err, tokenstore.ErrCorrupt)
	got, err = retired.Get(ctx, "new")
	require.NoError(t, err)
	assert.Equal(t, "written after", string(got))
}

// A disabled KMS key: reads of records whose data key is not yet unwrapped fail with KMS's
// DisabledException, not ErrCorrupt (a fault, not an attack: no logout), with no panic and the
// record left as it was; a new store can't start under it; enabling the key again heals
// every reader. A store that already holds the data key keeps using it: disabling the KMS key
// stops new processes, not running ones.
func TestEnvelopeDisabledKMSKey(t *testing.T) {
	p := newKMSPeer(t)
	ctx := t.Context()
	key := p.createKey(t)
	shared := tokenstore.NewMemory()
	writer := p.envelope(t, shared, key)
	reader := p.envelope(t, shared, key) // started before the key is disabled
	require.NoError(t, writer.Set(ctx, "session", []byte("tokens"), time.Time{}))
	rawBefore, err := shared.Get(ctx, "session")
	require.NoError(t, err)

	p.disableKey(t, key)

	_, err = reader.Get(ctx, "session")
	var disabled *kmstypes.DisabledException
	require.ErrorAs(t, err, &disabled)
	assert.NotErrorIs(t, err, tokenstore.ErrCorrupt)
	assert.ErrorContains(t, err, "tokenstore: unwrapping a data key")
	_, err = reader.Get(ctx, "session") // the failure is not cached
	require.ErrorAs(t, err, &disabled)

	_, err = tokenstore.NewEnvelopeEncrypted(ctx, shared, kmsKeyRing{client: p.client, keyARNs: []string{key}})
	require.ErrorAs(t, err, &disabled, "no new store under a disabled key")
	assert.ErrorContains(t, err, "tokenstore: NewEnvelopeEncrypted: generating a data key")

	rawAfter, err := shared.Get(ctx, "session")
	require.NoError(t, err)
	assert.Equal(t, rawBefore, rawAfter, "the record untouched")

	got, err := writer.Get(ctx, "session")
	require.NoError(t, err, "a running store keeps the data key it holds")
	assert.Equal(t, "tokens", string(got))

	p.enableKey(t, key)
	got, err = reader.Get(ctx, "session")
	require.NoError(t, err, "enabled again: the record opens")
	assert.Equal(t, "tokens", string(got))
}

// A wrapped data key altered in the stored record is refused by KMS (InvalidCiphertext), a
// fault the caller sees as such; the sealed value altered is ErrCorrupt.
func TestEnvelopeTamperedRecordWithKMS(t *testing.T) {
	p := newKMSPeer(t)
	ctx := t.Context()
	key := p.createKey(t)
	shared := tokenstore.NewMemory()
	a, b := p.envelope(t, shared, key), p.envelope(t, shared, key)
	require.NoError(t, a.Set(ctx, "session", []byte("tokens"), time.Time{}))
	raw, err := shared.Get(ctx, "session")
	require.NoError(t, err)

	bad := bytes.Clone(raw)
	bad[2+int(raw[1])-1] ^= 1 // the last byte of the wrapped data key
	require.NoError(t, shared.Set(ctx, "session", bad, time.Time{}))
	_, err = b.Get(ctx, "session")
	var invalid *kmstypes.InvalidCiphertextException
	require.ErrorAs(t, err, &invalid)

	bad = bytes.Clone(raw)
	bad[len(bad)-1] ^= 1 // the value's GCM tag
	require.NoError(t, shared.Set(ctx, "session", bad, time.Time{}))
	_, err = a.Get(ctx, "session")
	require.ErrorIs(t, err, tokenstore.ErrCorrupt)
}
