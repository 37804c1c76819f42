package exampleapp

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/tokenstore"
)

func parse(t *testing.T, env map[string]string, args ...string) (Login, []error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var l Login
	l.Register(fs, func(k string) string { return env[k] })
	require.NoError(t, fs.Parse(args))
	return l, l.Check()
}

func key(b byte) string {
	return base64.StdEncoding.EncodeToString([]byte(strings.Repeat(string(b), 32)))
}

func TestLogin(t *testing.T) {
	t.Run("environment, defaults", func(t *testing.T) {
		l, errs := parse(t, map[string]string{"OIDC_ISSUER": "https://idp.example.com", "OIDC_CLIENT_ID": "c", "COOKIE_KEY": key('k')})
		require.Empty(t, errs)
		assert.Equal(t, "http://127.0.0.1:8080/callback", l.RedirectURL)
		assert.Equal(t, "memory://", l.TokenStoreURL)
		require.Len(t, l.CookieKeys, 1)
		assert.Len(t, l.CookieKeys[0], 32)
		assert.Nil(t, l.TokenStoreKeys)
		assert.Nil(t, l.Scopes, "authflow's default: openid, plus offline_access where listed")
		assert.Empty(t, l.CognitoDomain)
	})
	t.Run("flags win over the environment", func(t *testing.T) {
		l, errs := parse(t, map[string]string{"OIDC_ISSUER": "https://a.example.com", "OIDC_CLIENT_ID": "c"},
			"-issuer", "https://b.example.com", "-listen", "127.0.0.1:9", "-cognito-domain", "auth.example.com",
			"-scopes", "openid  email offline_access")
		require.Empty(t, errs)
		assert.Equal(t, []string{"openid", "email", "offline_access"}, l.Scopes)
		assert.Equal(t, "https://b.example.com", l.Issuer)
		assert.Equal(t, "http://127.0.0.1:9/callback", l.RedirectURL)
		assert.Equal(t, "auth.example.com", l.CognitoDomain)
		assert.Nil(t, l.CookieKeys, "no COOKIE_KEY: authflow's per-process key")
	})
	t.Run("every problem at once, no key material", func(t *testing.T) {
		_, errs := parse(t, map[string]string{"COOKIE_KEY": "c2hvcnQ=", "TOKENSTORE_KEYS": "k1:" + key('a') + ",k2:c2hvcnQ="})
		msg := errors.Join(errs...).Error()
		for _, want := range []string{"OIDC_ISSUER", "OIDC_CLIENT_ID", "COOKIE_KEY must be", "TOKENSTORE_KEYS: key 2"} {
			assert.Contains(t, msg, want)
		}
		assert.NotContains(t, msg, key('a'))
		assert.NotContains(t, msg, "c2hvcnQ")
	})
	t.Run("store keys", func(t *testing.T) {
		l, errs := parse(t, map[string]string{"OIDC_ISSUER": "https://idp.example.com", "OIDC_CLIENT_ID": "c",
			"TOKENSTORE_KEYS": "2026-02:" + key('b') + ", 2026-01:" + key('a')})
		require.Empty(t, errs)
		require.Len(t, l.TokenStoreKeys, 2)
		assert.Equal(t, "2026-02", l.TokenStoreKeys[0].ID)
		assert.Equal(t, "2026-01", l.TokenStoreKeys[1].ID)
	})
}

// Without keys OpenStore hands back the backend itself; with TOKENSTORE_KEYS,
// tokenstore.NewEncrypted over it (whose sealing the tokenstore tests check).
func TestOpenStoreEncrypted(t *testing.T) {
	ctx := t.Context()
	plain, closePlain, err := (&Login{}).OpenStore(ctx)
	require.NoError(t, err)
	defer closePlain()
	_, isMemory := plain.(*tokenstore.Memory)
	assert.True(t, isMemory, "no URL and no keys: the memory store as it is")

	l, errs := parse(t, map[string]string{"OIDC_ISSUER": "https://idp.example.com", "OIDC_CLIENT_ID": "c",
		"TOKENSTORE_KEYS": "k1:" + key('a')})
	require.Empty(t, errs)
	sealed, closeSealed, err := l.OpenStore(ctx)
	require.NoError(t, err)
	defer closeSealed()
	_, isMemory = sealed.(*tokenstore.Memory)
	assert.False(t, isMemory, "keys: the backend behind an encrypting store")
	require.NoError(t, sealed.Set(ctx, "k", []byte("secret session"), time.Time{}))
	got, err := sealed.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "secret session", string(got))

	_, _, err = (&Login{TokenStoreURL: "nope://x"}).OpenStore(ctx)
	assert.Error(t, err)
}

func TestServeStopsWithContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	go func() { done <- Serve(ctx, ln, h, slog.New(slog.NewTextHandler(io.Discard, nil)), "test") }()

	resp, err := http.Get("http://" + ln.Addr().String())
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "ok", string(body))

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	_, err = http.Get("http://" + ln.Addr().String())
	assert.Error(t, err, "the listener is closed")
}
