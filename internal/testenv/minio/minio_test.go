package minio

import (
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/pubauth/awsauth/internal/testenv"
)

// These tests start the real peers: a missing binary fails them (run
// scripts/deps.sh), it does not skip them.

func startMinIO(t *testing.T, cfg Config) *Server {
	t.Helper()
	m, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Stop(); err != nil {
			t.Errorf("stop minio: %v", err)
		}
	})
	return m
}

func TestDepsScriptPinsMinIOVersion(t *testing.T) {
	b, err := os.ReadFile("../../../scripts/deps.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\nMINIO_VERSION="+Version+"\n") {
		t.Errorf("scripts/deps.sh does not pin MINIO_VERSION=%s", Version)
	}
}

func TestMissingBinarySaysRunDeps(t *testing.T) {
	t.Setenv("AWSAUTH_MINIO", "/nonexistent/minio")
	_, err := Start(t.Context(), Config{})
	if err == nil || !strings.Contains(err.Error(), "run scripts/deps.sh") {
		t.Errorf("Start with a missing binary: %v, want a hint to run scripts/deps.sh", err)
	}
}

func TestMinIOWithOpenID(t *testing.T) {
	p, err := testenv.StartOIDC(t.Context(), testenv.OIDCConfig{Clients: []testenv.OIDCClient{{ID: "app", RedirectURIs: []string{"http://127.0.0.1:1/cb"}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("stop provider: %v", err)
		}
	})
	m := startMinIO(t, Config{
		OpenIDConfigURL: p.Issuer + "/.well-known/openid-configuration",
		ClientID:        "app",
		RolePolicy:      "readwrite",
	})
	// MinIO names the role after a hash of the client id, with no region or account.
	sum := sha1.Sum([]byte("app"))
	if want := "arn:minio:iam:::role/" + base64.RawURLEncoding.EncodeToString(sum[:]); m.RoleARN != want {
		t.Errorf("RoleARN = %q, want %q", m.RoleARN, want)
	}
	ctx := t.Context()
	if err := m.CreateBucket(ctx, "demo"); err != nil {
		t.Fatal(err)
	}
	if err := m.PutObject(ctx, "demo", "alice/hello.txt", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if err := m.PutPolicy(ctx, "p", []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::demo/*"]}]}`)); err != nil {
		t.Fatal(err)
	}
	if err := m.PutPolicy(ctx, "bad", []byte(`{"Statement":[]}`)); err == nil {
		t.Error("PutPolicy accepted a policy without Version")
	}
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(m.Endpoint + "/minio/health/live"); err == nil {
		t.Error("MinIO still answers after Stop")
	}
}

func TestMinIOWithoutOpenID(t *testing.T) {
	m := startMinIO(t, Config{})
	if m.RoleARN != "" {
		t.Errorf("RoleARN = %q without OpenID", m.RoleARN)
	}
	// Right after the start: the admin API must not answer "not initialized".
	if err := m.PutPolicy(t.Context(), "p", []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::demo/*"]}]}`)); err != nil {
		t.Fatal(err)
	}
	if err := m.CreateBucket(t.Context(), "demo"); err != nil {
		t.Fatal(err)
	}
}
