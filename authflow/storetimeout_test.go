package authflow

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// hangingStore ignores its context while hanging, as go-redis does with its
// default options (ContextTimeoutEnabled false): only Config.StoreTimeout
// can bound the request.
type hangingStore struct {
	*countingStore
	hang    atomic.Bool
	release chan struct{}
}

func (s *hangingStore) Get(ctx context.Context, key string) ([]byte, error) {
	if s.hang.Load() {
		<-s.release
	}
	return s.countingStore.Get(ctx, key)
}

func TestStoreTimeoutBoundsAStoreThatIgnoresItsContext(t *testing.T) {
	op := newTestOP(t)
	hs := &hangingStore{countingStore: newCountingStore(), release: make(chan struct{})}
	t.Cleanup(func() { close(hs.release) })
	app := newTestApp(t, op, func(c *Config) {
		c.Store = hs
		c.StoreTimeout = 200 * time.Millisecond
	})
	c := app.browser()
	app.login(c, "/me")
	code, _ := app.me(c)
	require.Equal(t, http.StatusOK, code)

	hs.hang.Store(true)
	start := time.Now()
	code, body := app.me(c)
	took := time.Since(start)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "temporarily_unavailable", body["error"])
	require.GreaterOrEqual(t, took, 200*time.Millisecond)
	require.Less(t, took, 2*time.Second, "the request waited for the store past StoreTimeout")
	require.Contains(t, app.logs.String(), "StoreTimeout")

	_, err := app.h.Tokens(t.Context(), app.sessionCookie(c).Value)
	require.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
}

func TestStoreTimeoutDefaultAndValidation(t *testing.T) {
	c := Config{Issuer: "https://op.example", ClientID: "c", RedirectURL: "https://app.example/callback"}
	d, err := c.withDefaults()
	require.NoError(t, err)
	require.Equal(t, 3*time.Second, d.StoreTimeout)
	c.StoreTimeout = -time.Second
	_, err = c.withDefaults()
	require.ErrorContains(t, err, "StoreTimeout must not be negative")
}
