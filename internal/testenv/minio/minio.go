// Package minio starts a MinIO server for tests: S3, and STS web identity
// against an OpenID provider with per-user canned policies. It is apart from
// package testenv because it needs the S3 SDK, which the token stores' tests
// (and so `go mod tidy` in any module importing a store) must not pull in.
//
// Start picks a free loopback port (unless told one), waits until MinIO
// answers, and returns a Server whose Stop kills it and removes its data. The
// binary is $AWSAUTH_MINIO, else bin/minio-<Version> in the tools cache, else
// minio on PATH: run `bash scripts/deps.sh` to install it.
package minio

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pubauth/awsauth/internal/testenv/internal/peer"
)

// Version is the pinned MinIO build (a Go pseudo-version) that
// scripts/deps.sh installs as bin/minio-<Version> in the tools cache.
const Version = "v0.0.0-20260212201848-7aac2a2c5b7c"

// Region is the region to sign MinIO requests for.
const Region = "us-east-1"

// Config configures Start.
type Config struct {
	// OpenIDConfigURL is the provider's discovery URL (Issuer +
	// "/.well-known/openid-configuration"); empty starts MinIO without OpenID.
	// MinIO fetches it at start, so the provider must be up first.
	OpenIDConfigURL string
	// ClientID must be in the web identity token's aud (or azp) claim.
	ClientID string
	// RolePolicy names the canned policy that AssumeRoleWithWebIdentity
	// sessions get; it may be created after start with PutPolicy.
	RolePolicy string
	// Port is the S3/STS port; 0 picks a free one.
	Port int
}

// Server is a running MinIO server with its data in a temporary directory.
type Server struct {
	// Endpoint is the S3, STS and admin API base URL, http://127.0.0.1:PORT.
	Endpoint string
	// RootUser and RootPassword are the admin credentials.
	RootUser, RootPassword string
	// RoleARN is the role of the OpenID configuration, as MinIO prints it at
	// start: arn:minio:iam:::role/<base64url(sha1(ClientID))>. Empty without OpenID.
	RoleARN string

	proc *peer.Process
	s3   *s3.Client
}

// minioRole finds the role in MinIO's "IAM Roles: <arn>" start line; the
// character class also stops before any terminal color codes.
var minioRole = regexp.MustCompile(`IAM Roles: .*?(arn:minio:iam:[^:\s]*::role/[A-Za-z0-9_/.\-]+)`)

// Start starts a single-drive MinIO server and returns once it is ready
// (and, with OpenID, once its IAM system has loaded the role). ctx bounds the
// start only.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	bin, err := peer.FindBinary("AWSAUTH_MINIO", "minio-"+Version, "minio")
	if err != nil {
		return nil, err
	}
	port := cfg.Port
	if port == 0 {
		if port, err = peer.FreePort(); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "awsauth-minio-")
	if err != nil {
		return nil, err
	}
	m := &Server{
		Endpoint:     peer.LoopbackURL(port),
		RootUser:     "testenv-root",
		RootPassword: randomHex(20),
	}
	env := []string{
		"MINIO_ROOT_USER=" + m.RootUser,
		"MINIO_ROOT_PASSWORD=" + m.RootPassword,
		"MINIO_BROWSER=off", // no console: one port, faster start
		"MINIO_UPDATE=off",
	}
	if cfg.OpenIDConfigURL != "" {
		env = append(env,
			"MINIO_IDENTITY_OPENID_CONFIG_URL="+cfg.OpenIDConfigURL,
			"MINIO_IDENTITY_OPENID_CLIENT_ID="+cfg.ClientID,
			"MINIO_IDENTITY_OPENID_ROLE_POLICY="+cfg.RolePolicy,
		)
	}
	cmd := exec.Command(bin, "server",
		"--address", fmt.Sprintf("127.0.0.1:%d", port),
		"--certs-dir", filepath.Join(dir, "certs"), // else it creates ~/.minio
		filepath.Join(dir, "data"))
	cmd.Dir = dir
	// The developer's own MINIO_* settings (a KMS, a region, ...) would change
	// what the tests see.
	cmd.Env = peer.Environ([]string{"MINIO_"}, env...)
	m.proc, err = peer.Start("minio", cmd, peer.NewOutput(minioRole))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	m.proc.Cleanup = func() error { return os.RemoveAll(dir) }

	ctx, cancel := context.WithTimeout(ctx, peer.StartTimeout)
	defer cancel()
	if err := m.proc.WaitHTTP(ctx, m.Endpoint+"/minio/health/ready"); err != nil {
		m.proc.Stop()
		return nil, err
	}
	// The S3 API answers before IAM has loaded; until then the admin API and STS
	// say "Server not initialized".
	err = m.proc.WaitReady(ctx, func(ctx context.Context) error {
		resp, err := m.admin(ctx, http.MethodGet, "info-canned-policy", "readwrite", nil)
		if err != nil {
			return err
		}
		return adminStatus(resp)
	})
	if err != nil {
		m.proc.Stop()
		return nil, err
	}
	if cfg.OpenIDConfigURL != "" {
		// Printed when IAM has loaded, so it is there by now or very soon.
		line, err := m.proc.WaitLine(ctx, 0)
		if err != nil {
			m.proc.Stop()
			return nil, err
		}
		m.RoleARN = line[1]
	}
	m.s3 = s3.New(s3.Options{
		BaseEndpoint: aws.String(m.Endpoint),
		Region:       Region,
		UsePathStyle: true, // no bucket.127.0.0.1 hostnames
		Credentials:  credentials.NewStaticCredentialsProvider(m.RootUser, m.RootPassword, ""),
	})
	return m, nil
}

// PutPolicy creates or replaces the canned IAM policy name (MinIO admin API
// add-canned-policy; the body is the plain policy JSON).
func (m *Server) PutPolicy(ctx context.Context, name string, policyJSON []byte) error {
	resp, err := m.admin(ctx, http.MethodPut, "add-canned-policy", name, policyJSON)
	if err == nil {
		err = adminStatus(resp)
	}
	if err != nil {
		return fmt.Errorf("testenv: put policy %s: %w", name, err)
	}
	return nil
}

// admin calls MinIO's admin API (v3) with the root credentials, the way madmin
// does: SigV4 for service s3 over the payload's SHA-256.
func (m *Server) admin(ctx context.Context, method, op, name string, body []byte) (*http.Response, error) {
	u := m.Endpoint + "/minio/admin/v3/" + op + "?name=" + url.QueryEscape(name)
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	// The v4 signer signs this header but does not set it; MinIO checks it.
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	creds := aws.Credentials{AccessKeyID: m.RootUser, SecretAccessKey: m.RootPassword}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, payloadHash, "s3", Region, time.Now()); err != nil {
		return nil, err
	}
	return http.DefaultClient.Do(req)
}

// adminStatus turns a non-200 admin answer into an error and closes the body.
func adminStatus(resp *http.Response) error {
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return fmt.Errorf("%s %s: %s: %s", resp.Request.Method, resp.Request.URL.Path, resp.Status, bytes.TrimSpace(body))
}

// CreateBucket creates bucket with the root credentials.
func (m *Server) CreateBucket(ctx context.Context, bucket string) error {
	_, err := m.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	if err != nil {
		return fmt.Errorf("testenv: create bucket %s: %w", bucket, err)
	}
	return nil
}

// PutObject writes an object with the root credentials.
func (m *Server) PutObject(ctx context.Context, bucket, key string, body []byte) error {
	_, err := m.s3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket),
		Key:    aws.String(key),
		Body:   bytes.NewReader(body),
	})
	if err != nil {
		return fmt.Errorf("testenv: put s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

// Logs returns the tail of MinIO's output.
func (m *Server) Logs() string { return m.proc.Logs() }

// Stop stops MinIO and removes its data; safe to call more than once.
func (m *Server) Stop() error { return m.proc.Stop() }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
