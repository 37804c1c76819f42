package storeurl_test

import (
	"context"
	"fmt"

	"github.com/pubauth/awsauth/tokenstore/storeurl"
)

// A program takes its store from the environment, with memory as the default.
func ExampleOpen() {
	// A program would read os.Getenv("TOKENSTORE_URL"): redis://...,
	// postgres://..., sqlite://PATH, dynamodb://TABLE?region=...
	raw := "memory://"
	store, closeStore, err := storeurl.Open(context.Background(), raw)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer closeStore()
	fmt.Printf("%T\n", store)
	// Output: *tokenstore.Memory
}
