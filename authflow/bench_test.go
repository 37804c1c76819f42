package authflow

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pubauth/awsauth/authflow/bearer"
	"github.com/pubauth/awsauth/internal/jwt"
)

// BenchmarkRequireLogin measures the middleware's cost per request with the
// memory store, against the same handler served bare (DESIGN.md target:
// ≤ 5 µs and ≤ 20 allocations over the bare handler), without and with
// Config.IdleTimeout (an hour: the last use is rewritten at most every 6
// minutes, so these requests only check it).
func BenchmarkRequireLogin(b *testing.B) {
	op := newTestOP(b)
	signedIn := func(idle time.Duration) (*testApp, *http.Cookie) {
		app := newTestApp(b, op, func(c *Config) {
			c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			c.IdleTimeout = idle
		})
		c := app.browser()
		app.login(c, "/")
		return app, app.sessionCookie(c)
	}
	app, ck := signedIn(0)
	idleApp, idleCk := signedIn(time.Hour)

	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if SessionFrom(r.Context()) == nil && r.Header.Get("X-Bare") == "" {
			b.Fatal("no session")
		}
		w.WriteHeader(http.StatusNoContent)
	})
	run := func(b *testing.B, h http.Handler, bare bool, ck *http.Cookie) {
		req := httptest.NewRequest(http.MethodGet, "/me", nil)
		req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
		if bare {
			req.Header.Set("X-Bare", "1")
		}
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusNoContent {
				b.Fatalf("status %d", w.Code)
			}
		}
	}
	b.Run("bare", func(b *testing.B) { run(b, next, true, ck) })
	b.Run("RequireLogin", func(b *testing.B) { run(b, app.h.RequireLogin(next), false, ck) })
	b.Run("RequireLogin+IdleTimeout", func(b *testing.B) { run(b, idleApp.h.RequireLogin(next), false, idleCk) })
}

// BenchmarkIDTokenVerify: the callback's ID-token verification against a bearer verifier of
// the same issuer's ID tokens on the same token and key set (both are the one core), and the
// floor they share: SHA-256 + rsa.VerifyPKCS1v15 with RSA-2048 (DESIGN.md: the callback costs
// no more than the bearer path).
func BenchmarkIDTokenVerify(b *testing.B) {
	op := newTestOP(b)
	app := newTestApp(b, op, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil)) })
	app.login(app.browser(), "/") // the key set is fetched
	op.mu.Lock()
	claims := op.idClaims("8f4c1a2e-0b7d-4c59-9e61-3f2a7d9c5b10", testClientID, "n-1", time.Now())
	claims["token_use"] = "id"
	claims["cognito:groups"] = []string{"admins", "readers"}
	claims["auth_time"] = time.Now().Unix()
	tok := op.sign(op.idHeader(), claims)
	pub := &op.key.PublicKey
	op.mu.Unlock()
	v, err := bearer.New(context.Background(), bearer.Config{Issuers: []bearer.Issuer{{
		Issuer: op.issuer(), TokenUse: bearer.TokenUseID, ClientIDs: []string{testClientID}, KeySet: app.h.KeySet(),
	}}, CacheSize: -1})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Logf("token: %d bytes", len(tok))

	b.Run("floor", func(b *testing.B) {
		dot := strings.LastIndexByte(tok, '.')
		sig, err := base64.RawURLEncoding.DecodeString(tok[dot+1:])
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			sum := sha256.Sum256([]byte(tok[:dot]))
			if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("callback", func(b *testing.B) {
		p, err := app.h.provider(ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := app.h.verifyIDToken(ctx, p, tok, jwt.Options{Nonce: "n-1", IssuedAfter: time.Now().Add(-time.Minute)}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bearer", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}
