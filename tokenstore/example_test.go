package tokenstore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pubauth/awsauth/tokenstore"
)

func Example() {
	ctx := context.Background()
	var store tokenstore.Store = tokenstore.NewMemory()

	// The layer that owns a record encodes it (authflow its sessions); the
	// store sees bytes and an expiry.
	record := []byte("an encoded session")
	// Keep the record as long as the refresh token lives, not the access token.
	if err := store.Set(ctx, "session:4f1c", record, time.Now().Add(30*24*time.Hour)); err != nil {
		fmt.Println(err)
		return
	}

	loaded, err := store.Get(ctx, "session:4f1c")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s\n", loaded)

	// Deleting ends it; so does its expiry passing.
	_ = store.Delete(ctx, "session:4f1c")
	_, err = store.Get(ctx, "session:4f1c")
	fmt.Println(errors.Is(err, tokenstore.ErrNotFound))

	// Output:
	// an encoded session
	// true
}

func ExampleLocker() {
	ctx := context.Background()
	var store tokenstore.Store = tokenstore.NewMemory()

	// Optional abilities are found by type assertion.
	locker, ok := store.(tokenstore.Locker)
	if !ok {
		fmt.Println("no cross-instance refresh")
		return
	}

	// One instance wins the right to redeem the refresh token...
	lease, err := locker.Acquire(ctx, "refresh:4f1c", 30*time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	// ...and any other is told to wait and adopt its result.
	_, err = locker.Acquire(ctx, "refresh:4f1c", 30*time.Second)
	fmt.Println(errors.Is(err, tokenstore.ErrLeaseHeld))

	// The winner writes only while its lease is current.
	err = locker.SetFenced(ctx, lease, "session:4f1c", []byte("rotated tokens"), time.Now().Add(time.Hour))
	fmt.Println(err)
	_ = locker.Release(ctx, lease)

	// A holder whose lease was released or lapsed can no longer write.
	err = locker.SetFenced(ctx, lease, "session:4f1c", []byte("stale tokens"), time.Now().Add(time.Hour))
	fmt.Println(errors.Is(err, tokenstore.ErrLeaseLost))

	// Output:
	// true
	// <nil>
	// true
}
