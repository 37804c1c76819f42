package tokenstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/pubauth/awsauth/tokenstore"
)

// A per-user index of sessions, as authflow keeps one: the members are
// hashes of the session ids (which are secrets), and the limit ends the
// oldest session when the user signs in once too often.
func ExampleIndexer() {
	ctx := context.Background()
	var store tokenstore.Store = tokenstore.NewMemory()
	x, ok := store.(tokenstore.Indexer)
	if !ok {
		fmt.Println("this store keeps no indexes")
		return
	}
	handle := func(sessionID string) string {
		sum := sha256.Sum256([]byte(sessionID))
		return base64.RawURLEncoding.EncodeToString(sum[:])
	}
	const user, limit = "sessions-of/alice", 2
	for i, id := range []string{"first-session-id", "second-session-id", "third-session-id"} {
		expiry := time.Now().Add(time.Duration(8+i) * time.Hour)
		evicted, err := x.AddToIndex(ctx, user, handle(id), expiry, limit)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, h := range evicted {
			fmt.Println("end the session with handle", h == handle("first-session-id"))
		}
	}
	members, err := x.Index(ctx, user)
	fmt.Println(len(members), err)
	// Output:
	// end the session with handle true
	// 2 <nil>
}
