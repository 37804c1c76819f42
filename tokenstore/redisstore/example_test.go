package redisstore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pubauth/awsauth/tokenstore/redisstore"
)

// A store on one Redis server. For Sentinel use redis.NewFailoverClient, for
// Cluster redis.NewClusterClient: both are redis.UniversalClients.
func Example() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	store, err := redisstore.New(rdb, func(o *redisstore.Options) { o.Prefix = "myapp:" })
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	if err := store.Set(ctx, "awsauth/session/abc", []byte("record"), time.Now().Add(time.Hour)); err != nil {
		fmt.Println(err)
		return
	}
	// Stored as the Redis string "myapp:{abc}:e:awsauth/session/abc".
	v, err := store.Get(ctx, "awsauth/session/abc")
	fmt.Println(string(v), err)
}
