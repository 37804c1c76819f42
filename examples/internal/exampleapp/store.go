package exampleapp

import (
	"context"

	"github.com/pubauth/awsauth/tokenstore"
	"github.com/pubauth/awsauth/tokenstore/storeurl"
)

// OpenStore opens the session store l names (memory:// when TokenStoreURL is
// empty), sealed with l.TokenStoreKeys when there are any. close releases the
// store's connections.
func (l *Login) OpenStore(ctx context.Context) (store tokenstore.Store, close func() error, err error) {
	u := l.TokenStoreURL
	if u == "" {
		u = "memory://"
	}
	store, close, err = storeurl.Open(ctx, u)
	if err != nil || len(l.TokenStoreKeys) == 0 {
		return store, close, err
	}
	sealed, err := tokenstore.NewEncrypted(store, l.TokenStoreKeys)
	if err != nil {
		close()
		return nil, nil, err
	}
	return sealed, close, nil
}
