package tokenstore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/pubauth/awsauth/tokenstore"
)

// Values encrypted at rest, with a key ring that rotates: the first key seals
// new writes, every listed key opens old ones.
func ExampleNewEncrypted() {
	newKey := func(id string) tokenstore.EncryptionKey {
		k := tokenstore.EncryptionKey{ID: id, Secret: make([]byte, 32)}
		rand.Read(k.Secret) // in production: from a secret manager or KMS
		return k
	}
	ctx := context.Background()
	backend := tokenstore.NewMemory() // or redisstore, sqlstore, dynamostore
	january, february := newKey("2026-01"), newKey("2026-02")

	store, _ := tokenstore.NewEncrypted(backend, []tokenstore.EncryptionKey{january})
	_ = store.Set(ctx, "awsauth/session/abc", []byte("tokens"), time.Now().Add(time.Hour))

	// Rotate: February seals new writes, January still opens old records.
	store, _ = tokenstore.NewEncrypted(backend, []tokenstore.EncryptionKey{february, january})
	v, err := store.Get(ctx, "awsauth/session/abc")
	fmt.Println(string(v), err)

	// Ciphertext moved to another entry does not open.
	raw, _ := backend.Get(ctx, "awsauth/session/abc")
	_ = backend.Set(ctx, "awsauth/session/xyz", raw, time.Now().Add(time.Hour))
	_, err = store.Get(ctx, "awsauth/session/xyz")
	fmt.Println(errors.Is(err, tokenstore.ErrCorrupt))

	_, isLocker := store.(tokenstore.Locker) // as the backend is
	fmt.Println(isLocker)
	// Output:
	// tokens <nil>
	// true
	// true
}

// kmsKeyRing adapts an AWS KMS client to tokenstore.DataKeys, with a ring of
// KMS keys, newest first: GenerateDataKey under the first, Decrypt of a data
// key wrapped by any of them. To move to a new KMS key, add its ARN second on
// every instance, then first; drop the old one once the records it wrapped
// are gone. (KMS's own key rotation keeps the key's ARN: no change here.)
// tokenstore/internal/kmstest runs this adapter against moto's KMS.
type kmsKeyRing struct {
	client  *kms.Client
	keyARNs []string // key ARNs, as Decrypt answers them (not aliases)
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

// Decrypt names no KeyId (a symmetric ciphertext names its KMS key) and
// checks the answer's KeyId against the ring instead: one call for any key.
func (k kmsKeyRing) Decrypt(ctx context.Context, wrapped []byte) ([]byte, error) {
	out, err := k.client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: wrapped})
	if err != nil {
		return nil, err
	}
	if !slices.Contains(k.keyARNs, aws.ToString(out.KeyId)) {
		clear(out.Plaintext)
		return nil, fmt.Errorf("kms: data key wrapped by a key not in the ring: %s", aws.ToString(out.KeyId))
	}
	return out.Plaintext, nil
}

// Envelope encryption with AWS KMS: one GenerateDataKey per store, one
// Decrypt per process for each data key other instances wrote with.
func ExampleNewEnvelopeEncrypted() {
	ctx := context.Background()
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	keys := kmsKeyRing{client: kms.NewFromConfig(cfg), keyARNs: []string{
		"arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
	}}
	store, err := tokenstore.NewEnvelopeEncrypted(ctx, tokenstore.NewMemory(), keys)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = store.Set(ctx, "awsauth/session/abc", []byte("tokens"), time.Now().Add(time.Hour))
}
