package miniotest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/awscreds"
	"github.com/pubauth/awsauth/internal/testenv/minio"
)

const bucket = "sigv4"

// s3Error is the body of an S3 error answer.
type s3Error struct {
	Code string `xml:"Code"`
}

// answer is a response read whole.
type answer struct {
	status int
	code   string // S3 error code, for an error
	body   []byte
}

// sigv4Peer is a MinIO server with a bucket, and alice's credentials: STS AssumeRole (called
// with the root credentials, through awscreds.NewAssumeRole) with a session policy that
// limits her to the prefix alice/, kept in a UserCache as an application keeps them.
type sigv4Peer struct {
	t     *testing.T
	minio *minio.Server
	alice *aws.CredentialsCache
}

func newSigV4Peer(t *testing.T) *sigv4Peer {
	t.Helper()
	ctx := t.Context()
	m, err := minio.Start(ctx, minio.Config{})
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := m.Stop(); err != nil {
			t.Errorf("stop minio: %v", err)
		}
	})
	require.NoError(t, m.CreateBucket(ctx, bucket))
	require.NoError(t, m.PutObject(ctx, bucket, "bob/secret.txt", []byte("bob's")))

	policy, err := awscreds.S3PrefixPolicy(bucket, awscreds.LiteralUser("alice"))
	require.NoError(t, err)
	policyJSON, err := policy.JSON()
	require.NoError(t, err)
	// The server's own STS client, signed with MinIO's root credentials.
	stsClient := sts.New(sts.Options{
		Region:       minio.Region,
		BaseEndpoint: aws.String(m.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(m.RootUser, m.RootPassword, ""),
	})
	users := awscreds.NewUserCache()
	alice := users.Get("alice-session", func() aws.CredentialsProvider {
		// MinIO ignores the role ARN of AssumeRole: the session gets the caller's rights
		// narrowed by the session policy.
		return awscreds.NewAssumeRole(stsClient, "arn:minio:iam:::role/ignored", awscreds.VerifiedClaims{"sub": "alice"},
			func(o *awscreds.AssumeRoleOptions) { o.Policy = aws.String(policyJSON) })
	})
	c, err := alice.Retrieve(ctx)
	require.NoError(t, err, "alice's STS credentials")
	require.NotEmpty(t, c.SessionToken, "temporary credentials: X-Amz-Security-Token is signed too")
	return &sigv4Peer{t: t, minio: m, alice: alice}
}

// do sends a raw S3 request through client and reads the answer.
func (p *sigv4Peer) do(client *http.Client, method, path string, body io.Reader, edit func(*http.Request)) answer {
	p.t.Helper()
	req, err := http.NewRequestWithContext(p.t.Context(), method, p.minio.Endpoint+path, body)
	require.NoError(p.t, err)
	if edit != nil {
		edit(req)
	}
	resp, err := client.Do(req)
	require.NoError(p.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(p.t, err)
	a := answer{status: resp.StatusCode, body: b}
	if resp.StatusCode >= 300 {
		var e s3Error
		_ = xml.Unmarshal(b, &e)
		a.code = e.Code
	}
	return a
}

// transport is alice's SigV4Transport for S3, sending through base (nil: the default).
func (p *sigv4Peer) transport(base http.RoundTripper, optFns ...func(*awscreds.SigV4Options)) *http.Client {
	optFns = append([]func(*awscreds.SigV4Options){func(o *awscreds.SigV4Options) { o.Base = base }}, optFns...)
	return &http.Client{Transport: awscreds.NewSigV4Transport(p.alice, "s3", minio.Region, optFns...)}
}

// rootGet reads an object with the root credentials: what the storage really holds.
func (p *sigv4Peer) rootGet(key string) answer {
	p.t.Helper()
	root := &http.Client{Transport: awscreds.NewSigV4Transport(
		credentials.NewStaticCredentialsProvider(p.minio.RootUser, p.minio.RootPassword, ""), "s3", minio.Region)}
	return p.do(root, http.MethodGet, "/"+bucket+"/"+key, nil, nil)
}

// onlyReader hides a reader's type, so http.NewRequest sets no GetBody (a body from a pipe).
type onlyReader struct{ io.Reader }

func TestSigV4TransportAgainstMinIO(t *testing.T) {
	p := newSigV4Peer(t)
	client := p.transport(nil)

	t.Run("PUT with a body, hashed via GetBody", func(t *testing.T) {
		a := p.do(client, http.MethodPut, "/sigv4/alice/note.txt", strings.NewReader("alice's note"),
			func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") })
		require.Equal(t, http.StatusOK, a.status, "%s %s", a.code, a.body)
		assert.Equal(t, "alice's note", string(p.rootGet("alice/note.txt").body))
	})
	t.Run("PUT with a body without GetBody, buffered", func(t *testing.T) {
		a := p.do(client, http.MethodPut, "/sigv4/alice/piped.txt", onlyReader{strings.NewReader("from a pipe")}, nil)
		require.Equal(t, http.StatusOK, a.status, "%s %s", a.code, a.body)
		assert.Equal(t, "from a pipe", string(p.rootGet("alice/piped.txt").body))
	})
	t.Run("PUT with UNSIGNED-PAYLOAD", func(t *testing.T) {
		unsigned := p.transport(nil, func(o *awscreds.SigV4Options) { o.UnsignedPayload = true })
		a := p.do(unsigned, http.MethodPut, "/sigv4/alice/streamed.txt", onlyReader{strings.NewReader("streamed")},
			func(r *http.Request) { r.ContentLength = int64(len("streamed")) })
		require.Equal(t, http.StatusOK, a.status, "%s %s", a.code, a.body)
		assert.Equal(t, "streamed", string(p.rootGet("alice/streamed.txt").body))
	})
	t.Run("GET the object back", func(t *testing.T) {
		a := p.do(client, http.MethodGet, "/sigv4/alice/note.txt", nil, nil)
		require.Equal(t, http.StatusOK, a.status, "%s %s", a.code, a.body)
		assert.Equal(t, "alice's note", string(a.body))
	})
	t.Run("a key that needs escaping", func(t *testing.T) {
		a := p.do(client, http.MethodPut, "/sigv4/alice/a%20b+c%3D.txt", strings.NewReader("odd name"), nil)
		require.Equal(t, http.StatusOK, a.status, "%s %s", a.code, a.body)
		assert.Equal(t, "odd name", string(p.rootGet("alice/a%20b+c%3D.txt").body))
	})
	t.Run("ListObjectsV2 of her prefix", func(t *testing.T) {
		a := p.do(client, http.MethodGet, "/sigv4?list-type=2&prefix=alice/", nil, nil)
		require.Equal(t, http.StatusOK, a.status, "%s %s", a.code, a.body)
		var list struct {
			Contents []struct{ Key string } `xml:"Contents"`
		}
		require.NoError(t, xml.Unmarshal(a.body, &list))
		var keys []string
		for _, c := range list.Contents {
			keys = append(keys, c.Key)
		}
		assert.ElementsMatch(t, []string{"alice/note.txt", "alice/piped.txt", "alice/streamed.txt", "alice/a b+c=.txt"}, keys)
	})
	t.Run("a well-signed request outside her prefix is AccessDenied, by policy", func(t *testing.T) {
		a := p.do(client, http.MethodGet, "/sigv4/bob/secret.txt", nil, nil)
		assert.Equal(t, http.StatusForbidden, a.status)
		assert.Equal(t, "AccessDenied", a.code, "the signature held; the session policy refused")
	})
}

// tamper is a RoundTripper between the signer and the network that alters the signed request.
type tamper func(*http.Request)

func (f tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	f(r)
	return http.DefaultTransport.RoundTrip(r)
}

func setBody(r *http.Request, b []byte) {
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	r.ContentLength = int64(len(b))
}

func TestSigV4TransportTamperedRequestRefusedByMinIO(t *testing.T) {
	p := newSigV4Peer(t)
	const original = "alice's original"
	forged := []byte("mallory's version") // another length, too: Content-Length is signed
	sameLength := []byte(strings.Repeat("x", len(original)))

	require.NoError(t, p.minio.PutObject(t.Context(), bucket, "alice/note.txt", []byte("alice's note")))
	plainText := func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }

	tests := []struct {
		name   string
		method string
		path   string
		body   string
		header func(*http.Request) // the caller's own headers, signed
		alter  func(*http.Request) // the change after signing
		status int
		code   string // "" when MinIO's code says nothing more than the status
	}{
		{
			name: "a signed header changed", method: http.MethodPut, path: "/sigv4/alice/t1.txt", body: original,
			header: plainText,
			alter:  func(r *http.Request) { r.Header.Set("Content-Type", "text/html") },
			status: http.StatusForbidden, code: "SignatureDoesNotMatch",
		},
		{
			name: "the body changed, its hash recomputed", method: http.MethodPut, path: "/sigv4/alice/t2.txt", body: original,
			alter: func(r *http.Request) {
				setBody(r, sameLength)
				sum := sha256.Sum256(sameLength)
				r.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
			},
			status: http.StatusForbidden, code: "SignatureDoesNotMatch",
		},
		{
			name: "the body and its length changed, hash recomputed", method: http.MethodPut, path: "/sigv4/alice/t3.txt", body: original,
			alter: func(r *http.Request) {
				setBody(r, forged)
				sum := sha256.Sum256(forged)
				r.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
			},
			status: http.StatusForbidden, code: "SignatureDoesNotMatch",
		},
		{
			// The hash header still names the signed body; MinIO checks the body against it
			// before it stores anything, and answers 400.
			name: "the body changed, hash header left", method: http.MethodPut, path: "/sigv4/alice/t4.txt", body: original,
			alter:  func(r *http.Request) { setBody(r, sameLength) },
			status: http.StatusBadRequest, code: "XAmzContentSHA256Mismatch",
		},
		{
			name: "the query changed", method: http.MethodGet, path: "/sigv4?list-type=2&prefix=alice/",
			alter:  func(r *http.Request) { r.URL.RawQuery = "list-type=2&prefix=bob/" },
			status: http.StatusForbidden, code: "SignatureDoesNotMatch",
		},
		{
			name: "the path changed", method: http.MethodGet, path: "/sigv4/alice/note.txt",
			alter:  func(r *http.Request) { r.URL.Path = "/sigv4/bob/secret.txt" },
			status: http.StatusForbidden, code: "SignatureDoesNotMatch",
		},
		{
			name: "a read turned into a delete", method: http.MethodGet, path: "/sigv4/alice/note.txt",
			alter:  func(r *http.Request) { r.Method = http.MethodDelete },
			status: http.StatusForbidden, code: "SignatureDoesNotMatch",
		},
		{
			// MinIO answers 400 AccessDenied ("headers present in the request which were
			// not signed"): the signed-header list names a header that is gone.
			name: "the session token dropped", method: http.MethodGet, path: "/sigv4/alice/note.txt",
			alter:  func(r *http.Request) { r.Header.Del("X-Amz-Security-Token") },
			status: http.StatusBadRequest, code: "AccessDenied",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			a := p.do(p.transport(tamper(tc.alter)), tc.method, tc.path, body, tc.header)
			assert.Equal(t, tc.status, a.status, "%s %s", a.code, a.body)
			if tc.code != "" {
				assert.Equal(t, tc.code, a.code)
			}
			if tc.method == http.MethodPut {
				assert.Equal(t, http.StatusNotFound, p.rootGet(strings.TrimPrefix(tc.path, "/sigv4/")).status, "nothing stored")
			}
			// The same request, untouched, goes through: the refusal was the alteration's.
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			ok := p.do(p.transport(nil), tc.method, tc.path, body, tc.header)
			assert.Less(t, ok.status, 300, "untouched: %s %s", ok.code, ok.body)
		})
	}
	assert.Equal(t, "bob's", string(p.rootGet("bob/secret.txt").body), "bob's object untouched")
	assert.Equal(t, "alice's note", string(p.rootGet("alice/note.txt").body), "alice's note not deleted")
}

// The credentials come from the provider on each request: after they are replaced (here,
// the cache invalidated and STS asked again), the next request signs with the new ones.
func TestSigV4TransportCredentialsPerRequest(t *testing.T) {
	p := newSigV4Peer(t)
	client := p.transport(nil)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	before, err := p.alice.Retrieve(ctx)
	require.NoError(t, err)
	p.alice.Invalidate()
	a := p.do(client, http.MethodPut, "/sigv4/alice/after-refresh.txt", strings.NewReader("x"), nil)
	require.Equal(t, http.StatusOK, a.status, "%s %s", a.code, a.body)
	after, err := p.alice.Retrieve(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, before.AccessKeyID, after.AccessKeyID, "new STS credentials after the refresh")
}
