package dynamostore_test

import (
	"context"
	"fmt"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pubauth/awsauth/tokenstore/dynamostore"
)

// A store on an existing table (see TableDefinition and the package doc for
// its shape and TTL).
func Example() {
	ctx := context.Background()
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	store, err := dynamostore.New(dynamodb.NewFromConfig(cfg), "awsauth-tokens")
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := store.Set(ctx, "awsauth/session/abc", []byte("record"), time.Now().Add(time.Hour)); err != nil {
		fmt.Println(err)
		return
	}
	v, err := store.Get(ctx, "awsauth/session/abc")
	fmt.Println(string(v), err)
}
