package awscreds_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/encoding/httpbinding"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/awscreds"
)

var sigv4Creds = aws.Credentials{
	AccessKeyID:     "ASIATESTACCESSKEY",
	SecretAccessKey: "test-secret-access-key-do-not-leak",
	SessionToken:    "test-session-token-do-not-leak",
	CanExpire:       true,
	Expires:         time.Now().Add(time.Hour),
}

// countingProvider returns creds (or err) and counts its calls.
type countingProvider struct {
	creds aws.Credentials
	err   error
	calls atomic.Int32
	ctxs  chan context.Context
}

func (p *countingProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	p.calls.Add(1)
	if p.ctxs != nil {
		p.ctxs <- ctx
	}
	return p.creds, p.err
}

// received is what the test server saw of one request.
type received struct {
	method, uri string
	header      http.Header
	body        []byte
	length      int64
	verified    bool // the signature re-computed from what arrived matches
}

// sigv4Server records each request and checks its signature the way a SigV4 service does:
// it rebuilds the request from what arrived (the signed headers only), signs it with the same
// credentials at the same X-Amz-Date, and compares the Authorization headers.
func sigv4Server(t *testing.T, service, region string) (*httptest.Server, chan received) {
	t.Helper()
	got := make(chan received, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec := received{method: r.Method, uri: r.RequestURI, header: r.Header.Clone(), body: body, length: r.ContentLength}
		rec.verified = verifySigV4(r, body, service, region)
		got <- rec
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func verifySigV4(r *http.Request, body []byte, service, region string) bool {
	auth := r.Header.Get("Authorization")
	_, signedList, ok := strings.Cut(auth, "SignedHeaders=")
	if !ok {
		return false
	}
	signedList, _, _ = strings.Cut(signedList, ",")
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return false
	}
	hash := r.Header.Get("X-Amz-Content-Sha256")
	if hash != "UNSIGNED-PAYLOAD" {
		sum := sha256.Sum256(body)
		if hash != hex.EncodeToString(sum[:]) {
			return false
		}
	}
	re, err := http.NewRequest(r.Method, "http://"+r.Host+r.RequestURI, bytes.NewReader(body))
	if err != nil {
		return false
	}
	if service == "s3" {
		// S3 signs the object key it decoded, each byte but the unreserved ones and '/'
		// percent-encoded once, whatever form it arrived in.
		re.URL.RawPath = httpbinding.EscapePath(r.URL.Path, false)
	}
	re.ContentLength = r.ContentLength
	for _, h := range strings.Split(signedList, ";") {
		if h != "host" && h != "content-length" {
			re.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	re.Header.Del("Authorization")
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = service == "s3" })
	if err := signer.SignHTTP(context.Background(), sigv4Creds, re, hash, service, region, when); err != nil {
		return false
	}
	return re.Header.Get("Authorization") == auth
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// closeTracker is a body without GetBody that records being closed.
type closeTracker struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeTracker) Close() error { c.closed.Store(true); return nil }

func TestSigV4TransportSignsAndHashesTheBody(t *testing.T) {
	srv, got := sigv4Server(t, "execute-api", "eu-west-1")
	payload := []byte(`{"order":"42","note":"a body the signature must cover"}`)
	tests := []struct {
		name string
		body func() (io.Reader, bool) // the body, and whether the request keeps GetBody
	}{
		{"no body", func() (io.Reader, bool) { return nil, true }},
		{"GetBody rewinds a bytes.Reader", func() (io.Reader, bool) { return bytes.NewReader(payload), true }},
		{"no GetBody: buffered", func() (io.Reader, bool) { return &closeTracker{Reader: bytes.NewReader(payload)}, false }},
		{"no GetBody, empty", func() (io.Reader, bool) { return &closeTracker{Reader: strings.NewReader("")}, false }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &countingProvider{creds: sigv4Creds}
			client := &http.Client{Transport: awscreds.NewSigV4Transport(p, "execute-api", "eu-west-1")}
			body, keepGetBody := tc.body()
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/prod/orders/a%20b?x=1&a=2", body)
			require.NoError(t, err)
			if !keepGetBody {
				req.GetBody = nil
				req.ContentLength = 0 // unknown, as for a body from a pipe
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			r := <-got

			want := payload
			if tc.name == "no body" || tc.name == "no GetBody, empty" {
				want = nil
			}
			assert.Equal(t, string(want), string(r.body), "the body arrives whole")
			assert.Equal(t, int64(len(want)), r.length, "Content-Length")
			assert.Equal(t, sha256Hex(want), r.header.Get("X-Amz-Content-Sha256"))
			assert.Equal(t, sigv4Creds.SessionToken, r.header.Get("X-Amz-Security-Token"))
			assert.Contains(t, r.header.Get("Authorization"), "Credential=ASIATESTACCESSKEY/")
			assert.Contains(t, r.header.Get("Authorization"), "/eu-west-1/execute-api/aws4_request")
			assert.True(t, r.verified, "signature verifies over method, path, query, headers and body")
			assert.Equal(t, int32(1), p.calls.Load(), "credentials retrieved once per request")
			if ct, ok := body.(*closeTracker); ok {
				assert.True(t, ct.closed.Load(), "the caller's body is closed")
			}
		})
	}
}

func TestSigV4TransportS3Path(t *testing.T) {
	srv, got := sigv4Server(t, "s3", "us-east-1")
	client := &http.Client{Transport: awscreds.NewSigV4Transport(&countingProvider{creds: sigv4Creds}, "s3", "us-east-1")}
	for _, path := range []string{
		"/bucket/a%20b/c.txt",
		"/bucket/a+b=c,d;e:f@g!h$i&j'k(l)m*n.txt", // legal unescaped in a URL path, escaped by S3's rule
		"/bucket/x%2By%2Fz",                       // encoded '+' and '/' in a key
		"/bucket/caf%C3%A9",
	} {
		t.Run(path, func(t *testing.T) {
			resp, err := client.Get(srv.URL + path)
			require.NoError(t, err)
			resp.Body.Close()
			assert.True(t, (<-got).verified, "signed with S3's single path encoding")
		})
	}
}

func TestSigV4TransportUnsignedPayload(t *testing.T) {
	srv, got := sigv4Server(t, "s3", "us-east-1")
	var getBodyCalls atomic.Int32
	tr := awscreds.NewSigV4Transport(&countingProvider{creds: sigv4Creds}, "s3", "us-east-1",
		func(o *awscreds.SigV4Options) { o.UnsignedPayload = true })
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, srv.URL+"/bucket/key", strings.NewReader("streamed"))
	require.NoError(t, err)
	getBody := req.GetBody
	req.GetBody = func() (io.ReadCloser, error) { getBodyCalls.Add(1); return getBody() }
	resp, err := (&http.Client{Transport: tr}).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	r := <-got
	assert.Equal(t, "UNSIGNED-PAYLOAD", r.header.Get("X-Amz-Content-Sha256"))
	assert.Equal(t, "streamed", string(r.body))
	assert.True(t, r.verified)
	assert.Zero(t, getBodyCalls.Load(), "the body is not read twice")
}

func TestSigV4TransportLeavesTheCallersRequestAlone(t *testing.T) {
	srv, got := sigv4Server(t, "lambda", "us-east-1")
	tr := awscreds.NewSigV4Transport(&countingProvider{creds: sigv4Creds}, "lambda", "us-east-1")
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/path?b=2&a=1", strings.NewReader("payload"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	// What the Glue blog post sent: a bearer token. It must not go out, nor stay signed.
	req.Header.Set("Authorization", "Bearer eyJ.user-access-token.sig")
	headerBefore, urlBefore, hostBefore := req.Header.Clone(), *req.URL, req.Host

	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	r := <-got

	assert.Equal(t, headerBefore, req.Header, "headers untouched")
	assert.Equal(t, urlBefore, *req.URL, "URL untouched")
	assert.Equal(t, hostBefore, req.Host, "Host untouched")
	b, err := req.GetBody()
	require.NoError(t, err)
	again, _ := io.ReadAll(b)
	assert.Equal(t, "payload", string(again), "GetBody still yields the body")
	assert.True(t, strings.HasPrefix(r.header.Get("Authorization"), "AWS4-HMAC-SHA256 "), "the bearer token replaced by the signature")
	assert.NotContains(t, strings.Join(r.header.Values("Authorization"), ","), "Bearer")
	assert.True(t, r.verified)
}

func TestSigV4TransportErrors(t *testing.T) {
	var sent atomic.Int32
	base := roundTripFunc(func(*http.Request) (*http.Response, error) {
		sent.Add(1)
		return nil, errors.New("must not be sent")
	})
	providerErr := errors.New("sts: throttled")
	tests := []struct {
		name      string
		transport *awscreds.SigV4Transport
		body      func() io.ReadCloser
		is        error
	}{
		{"provider error", awscreds.NewSigV4Transport(&countingProvider{err: providerErr}, "execute-api", "us-east-1", withBase(base)), nil, providerErr},
		{"anonymous credentials", awscreds.NewSigV4Transport(aws.AnonymousCredentials{}, "execute-api", "us-east-1", withBase(base)), nil, nil},
		{"no keys", awscreds.NewSigV4Transport(&countingProvider{}, "execute-api", "us-east-1", withBase(base)), nil, awscreds.ErrConfiguration},
		{"nil provider", awscreds.NewSigV4Transport(nil, "execute-api", "us-east-1", withBase(base)), nil, awscreds.ErrConfiguration},
		{"no service", awscreds.NewSigV4Transport(&countingProvider{creds: sigv4Creds}, "", "us-east-1", withBase(base)), nil, awscreds.ErrConfiguration},
		{"no region", awscreds.NewSigV4Transport(&countingProvider{creds: sigv4Creds}, "s3", "", withBase(base)), nil, awscreds.ErrConfiguration},
		{"negative MaxBodyBytes", awscreds.NewSigV4Transport(&countingProvider{creds: sigv4Creds}, "s3", "us-east-1", withBase(base),
			func(o *awscreds.SigV4Options) { o.MaxBodyBytes = -1 }), nil, awscreds.ErrConfiguration},
		{"body over MaxBodyBytes without GetBody", awscreds.NewSigV4Transport(&countingProvider{creds: sigv4Creds}, "execute-api", "us-east-1", withBase(base),
			func(o *awscreds.SigV4Options) { o.MaxBodyBytes = 8 }), func() io.ReadCloser { return &closeTracker{Reader: strings.NewReader("nine bytes")} }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sent.Store(0)
			body := tc.body
			if body == nil {
				body = func() io.ReadCloser { return &closeTracker{Reader: strings.NewReader("x")} }
			}
			rc := body()
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "https://api.example.com/x", rc)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer user-token-do-not-leak")
			resp, err := tc.transport.RoundTrip(req)
			require.Error(t, err)
			assert.Nil(t, resp)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
			assert.True(t, strings.HasPrefix(err.Error(), "awscreds:"), "prefixed: %v", err)
			for _, secret := range []string{sigv4Creds.SecretAccessKey, sigv4Creds.SessionToken, "user-token-do-not-leak", "Signature="} {
				assert.NotContains(t, err.Error(), secret)
			}
			assert.True(t, rc.(*closeTracker).closed.Load(), "the body is closed on error")
			assert.Zero(t, sent.Load(), "nothing sent")
		})
	}
}

func TestSigV4TransportRetrievesWithTheRequestContext(t *testing.T) {
	type key struct{}
	p := &countingProvider{creds: sigv4Creds, ctxs: make(chan context.Context, 1)}
	tr := awscreds.NewSigV4Transport(p, "execute-api", "us-east-1", withBase(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
	})))
	ctx := context.WithValue(t.Context(), key{}, "this request")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://api.example.com/x", nil)
	require.NoError(t, err)
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "this request", (<-p.ctxs).Value(key{}))
}

func TestSigV4TransportConcurrent(t *testing.T) {
	srv, got := sigv4Server(t, "execute-api", "us-east-1")
	p := &countingProvider{creds: sigv4Creds}
	client := &http.Client{Transport: awscreds.NewSigV4Transport(aws.NewCredentialsCache(p), "execute-api", "us-east-1")}
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, err := client.Post(srv.URL+"/x", "text/plain", strings.NewReader(strings.Repeat("b", i)))
			if assert.NoError(t, err) {
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	for range n {
		assert.True(t, (<-got).verified)
	}
	assert.Equal(t, int32(1), p.calls.Load(), "one Retrieve for all requests under aws.CredentialsCache")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func withBase(rt http.RoundTripper) func(*awscreds.SigV4Options) {
	return func(o *awscreds.SigV4Options) { o.Base = rt }
}
