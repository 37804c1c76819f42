package storeurl_test

import (
	"context"
	"crypto/rand"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pubauth/awsauth/internal/testenv"
	"github.com/pubauth/awsauth/tokenstore"
	"github.com/pubauth/awsauth/tokenstore/dynamostore"
	"github.com/pubauth/awsauth/tokenstore/storeurl"
)

// sessionRecord is about what authflow stores per session: a record of about
// 2.4 KB, most of it a 1 KB access token, a 1 KB ID token and a refresh token.
func sessionRecord() []byte {
	rec := make([]byte, 2400)
	_, _ = rand.Read(rec)
	return rec
}

// BenchmarkSessionRead is what RequireLogin asks of the store on every
// request: one Get of a session record (authflow's BenchmarkRequireLogin
// measures its decode). Memory is the baseline; every backend runs on its real
// server on loopback.
func BenchmarkSessionRead(b *testing.B) {
	ctx := context.Background()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	encrypt := func(s tokenstore.Store) tokenstore.Store {
		e, err := tokenstore.NewEncrypted(s, []tokenstore.EncryptionKey{{ID: "k1", Secret: key}})
		if err != nil {
			b.Fatal(err)
		}
		return e
	}
	for _, bc := range []struct {
		name    string
		url     func(b *testing.B) string
		encrypt bool
	}{
		{"memory", func(*testing.B) string { return "memory://" }, false},
		{"memory+encrypted", func(*testing.B) string { return "memory://" }, true},
		{"redis", func(b *testing.B) string {
			r, err := testenv.StartRedis(ctx)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { r.Stop() })
			return r.URL
		}, false},
		{"postgres", func(b *testing.B) string {
			p, err := testenv.StartPostgres(ctx)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { p.Stop() })
			return p.URL
		}, false},
		{"sqlite", func(b *testing.B) string { return "sqlite://" + filepath.Join(b.TempDir(), "t.db") }, false},
		{"dynamodb", func(b *testing.B) string {
			d, err := testenv.StartDynamoDB(ctx)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { d.Stop() })
			if err := d.CreateTable(ctx, dynamostore.TableDefinition("sessions", "")); err != nil {
				b.Fatal(err)
			}
			b.Setenv("AWS_ACCESS_KEY_ID", "test")
			b.Setenv("AWS_SECRET_ACCESS_KEY", "test")
			b.Setenv("AWS_CONFIG_FILE", filepath.Join(b.TempDir(), "none"))
			b.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(b.TempDir(), "none"))
			return "dynamodb://sessions?region=" + d.Region + "&endpoint=" + url.QueryEscape(d.Endpoint)
		}, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, closeFn, err := storeurl.Open(ctx, bc.url(b))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { closeFn() })
			if bc.encrypt {
				s = encrypt(s)
			}
			k := "awsauth/session/" + strings.Repeat("x", 43)
			if err := s.Set(ctx, k, sessionRecord(), time.Now().Add(time.Hour)); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Get(ctx, k); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
