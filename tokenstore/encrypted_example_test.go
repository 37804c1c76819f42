package tokenstore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
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

// kmsDataKeys adapts an AWS KMS client to tokenstore.DataKeys.
type kmsDataKeys struct {
	client *kms.Client
	keyID  string // a KMS key id, ARN or alias
}

func (k kmsDataKeys) GenerateDataKey(ctx context.Context) ([]byte, []byte, error) {
	out, err := k.client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId: aws.String(k.keyID), KeySpec: kmstypes.DataKeySpecAes256,
	})
	if err != nil {
		return nil, nil, err
	}
	return out.Plaintext, out.CiphertextBlob, nil
}

func (k kmsDataKeys) Decrypt(ctx context.Context, wrapped []byte) ([]byte, error) {
	out, err := k.client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: wrapped, KeyId: aws.String(k.keyID)})
	if err != nil {
		return nil, err
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
	keys := kmsDataKeys{client: kms.NewFromConfig(cfg), keyID: "alias/awsauth-sessions"}
	store, err := tokenstore.NewEnvelopeEncrypted(ctx, tokenstore.NewMemory(), keys)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = store.Set(ctx, "awsauth/session/abc", []byte("tokens"), time.Now().Add(time.Hour))
}
