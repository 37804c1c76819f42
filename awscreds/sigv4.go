package awscreds

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/encoding/httpbinding"
)

// DefaultSigV4MaxBodyBytes bounds a request body that [SigV4Transport] reads into memory to
// hash it (only a body without GetBody) when SigV4Options.MaxBodyBytes is zero: 10 MiB, API
// Gateway's payload quota.
const DefaultSigV4MaxBodyBytes = 10 << 20

// Payload hashes of SigV4's canonical request: the hex SHA-256 of an empty body, and the
// literal that leaves the body out of the signature.
const (
	emptyPayloadSHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	unsignedPayload    = "UNSIGNED-PAYLOAD"
)

// SigV4Options configures a [SigV4Transport].
type SigV4Options struct {
	// Base sends the signed request. nil means http.DefaultTransport.
	Base http.RoundTripper

	// UnsignedPayload signs the literal UNSIGNED-PAYLOAD instead of the body's SHA-256, so the
	// body is streamed without being read twice. Only services that document it accept it:
	// Amazon S3 (and S3-compatible stores such as MinIO) does; API Gateway and Lambda function
	// URLs check the body's hash and do not. Without it the body is part of the signature.
	UnsignedPayload bool

	// MaxBodyBytes bounds a body read into memory to be hashed, which happens only for a
	// request with a body and no GetBody (http.NewRequest sets GetBody for *bytes.Buffer,
	// *bytes.Reader and *strings.Reader bodies; a body with GetBody is hashed from a second
	// reader, streaming, unbounded). A larger body fails the request before anything is sent.
	// Zero means DefaultSigV4MaxBodyBytes; negative is invalid.
	MaxBodyBytes int64

	// DisableURIPathEscaping signs the path URI-encoded once, as Amazon S3 wants, instead of
	// SigV4's second URI-encoding of each segment, which every other AWS service wants. The
	// path is then also sent in that form: every byte but A-Z a-z 0-9 - . _ ~ and '/'
	// percent-encoded (a '+' in an object key goes as %2B, an encoded '/' as '/', the same
	// key to S3), unless the request sets URL.Opaque. NewSigV4Transport sets it for the
	// service "s3"; an optFn may change it.
	DisableURIPathEscaping bool
}

// SigV4Transport is an [http.RoundTripper] that signs each request with AWS Signature Version 4
// (aws-sdk-go-v2's v4.Signer, header-based: Authorization, X-Amz-Date, X-Amz-Security-Token for
// temporary credentials, X-Amz-Content-Sha256) and sends it with its Base transport. Create it
// with [NewSigV4Transport]; it is safe for concurrent use.
type SigV4Transport struct {
	credentials     aws.CredentialsProvider
	service, region string
	options         SigV4Options
	signer          *v4.Signer
	err             error // invalid setup: every RoundTrip returns it
}

var _ http.RoundTripper = (*SigV4Transport)(nil)

// NewSigV4Transport returns a RoundTripper that signs every request for service (the signing
// name: "execute-api" for API Gateway, "lambda" for Lambda function URLs, "s3", ...) in region,
// with credentials retrieved from credentials for each request, under that request's context.
// See Signing AWS API requests:
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_aws-signing.html
//
// It is how a server calls an HTTP API that takes AWS IAM authorization as the signed-in
// user: API Gateway with IAM authorization (AWS_IAM), a Lambda function URL with the AWS_IAM
// auth type, or any SigV4 HTTP API, with the user's own temporary credentials, never by
// forwarding the user's bearer token (AWS APIs take no OAuth token: the token becomes
// credentials, and the credentials sign). See "Control access to a REST API with IAM
// permissions" (https://docs.aws.amazon.com/apigateway/latest/developerguide/permissions.html)
// and "Control access to Lambda function URLs"
// (https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html). Pass the user's [aws.CredentialsCache], for example
// UserCache.Get's, so that credentials are refreshed early and once for all requests:
//
//	client := &http.Client{Transport: awscreds.NewSigV4Transport(creds, "execute-api", "eu-west-1")}
//
// Each request is cloned before signing; the caller's request is never changed, except that
// its Body is consumed and closed, as [http.RoundTripper] allows. The payload hash is the
// body's SHA-256 (from GetBody when set, else from the body read into memory, up to
// MaxBodyBytes), the empty body's hash without a body, or UNSIGNED-PAYLOAD with
// SigV4Options.UnsignedPayload; it is also sent as X-Amz-Content-Sha256, which Amazon S3
// requires and other services sign like any header. Every header present when RoundTrip is
// called is signed, except those SigV4 leaves out (User-Agent, Expect, Transfer-Encoding, ...):
// a hop that changes a signed header, the body or the URL afterwards breaks the signature,
// and the service answers 403.
//
// The transport signs for whatever host a request names: give it only to a client that calls
// that service. Errors are prefixed "awscreds:" and wrap the credentials provider's error; an
// invalid setup (nil credentials, an empty service or region, a negative MaxBodyBytes) is
// ErrConfiguration from every RoundTrip. Nothing is logged, and no error holds a credential, a
// signature or a header value.
func NewSigV4Transport(credentials aws.CredentialsProvider, service, region string, optFns ...func(*SigV4Options)) *SigV4Transport {
	o := SigV4Options{DisableURIPathEscaping: service == "s3"}
	for _, f := range optFns {
		f(&o)
	}
	t := &SigV4Transport{credentials: credentials, service: service, region: region, options: o}
	switch {
	case credentials == nil:
		t.err = errors.New("nil credentials provider")
	case service == "" || region == "":
		t.err = errors.New("empty service or region")
	case o.MaxBodyBytes < 0:
		t.err = errors.New("negative MaxBodyBytes")
	}
	if t.err != nil {
		t.err = fmt.Errorf("%w: NewSigV4Transport: %w", ErrConfiguration, t.err)
	}
	if t.options.MaxBodyBytes == 0 {
		t.options.MaxBodyBytes = DefaultSigV4MaxBodyBytes
	}
	t.signer = v4.NewSigner(func(so *v4.SignerOptions) {
		// LogSigning would log the canonical request, session token included: never.
		so.DisableURIPathEscaping = o.DisableURIPathEscaping
	})
	return t
}

// RoundTrip signs a clone of req and sends it with the Base transport. It closes req.Body,
// also when it fails before sending.
func (t *SigV4Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	out, err := t.sign(req)
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	base := t.options.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(out)
}

// sign returns the signed clone of req.
func (t *SigV4Transport) sign(req *http.Request) (*http.Request, error) {
	if t.err != nil {
		return nil, t.err
	}
	ctx := req.Context()
	creds, err := t.credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("awscreds: SigV4Transport: retrieving credentials: %w", err)
	}
	if !creds.HasKeys() {
		return nil, fmt.Errorf("%w: SigV4Transport: the credentials provider returned no keys", ErrConfiguration)
	}
	out := req.Clone(ctx) // headers and URL copied; Body shared
	hash, err := t.payload(req, out)
	if err != nil {
		return nil, err
	}
	// A stale signature or session token the caller left on the request must not ride along.
	out.Header.Del("Authorization")
	out.Header.Del("X-Amz-Security-Token")
	out.Header.Set("X-Amz-Content-Sha256", hash)
	if t.options.DisableURIPathEscaping && out.URL.Opaque == "" {
		// S3 signs the path it decoded, percent-encoded once by AWS's rule (all but A-Z a-z
		// 0-9 - . _ ~ and '/'); Go leaves + = , ; : @ ! $ & ' ( ) * unescaped in a path. Send
		// the path in S3's form, so that the signed path and the one S3 rebuilds agree.
		out.URL.RawPath = httpbinding.EscapePath(out.URL.Path, false)
	}
	if err := t.signer.SignHTTP(ctx, creds, out, hash, t.service, t.region, time.Now()); err != nil {
		return nil, fmt.Errorf("awscreds: SigV4Transport: signing: %w", err)
	}
	return out, nil
}

// payload returns the payload hash of req and, for a body without GetBody, gives out a
// buffered copy of it.
func (t *SigV4Transport) payload(req, out *http.Request) (string, error) {
	switch {
	case req.Body == nil || req.Body == http.NoBody:
		return emptyPayloadSHA256, nil
	case t.options.UnsignedPayload:
		return unsignedPayload, nil
	case req.GetBody != nil:
		body, err := req.GetBody()
		if err != nil {
			return "", fmt.Errorf("awscreds: SigV4Transport: GetBody: %w", err)
		}
		defer body.Close()
		h := sha256.New()
		if _, err := io.Copy(h, body); err != nil {
			return "", fmt.Errorf("awscreds: SigV4Transport: hashing the body: %w", err)
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	limit := t.options.MaxBodyBytes
	b, err := io.ReadAll(io.LimitReader(req.Body, limit+1))
	req.Body.Close()
	if err != nil {
		return "", fmt.Errorf("awscreds: SigV4Transport: reading the body: %w", err)
	}
	if int64(len(b)) > limit {
		return "", fmt.Errorf("awscreds: SigV4Transport: request body without GetBody exceeds MaxBodyBytes (%d bytes): set GetBody, raise MaxBodyBytes, or use UnsignedPayload where the service allows it", limit)
	}
	out.ContentLength = int64(len(b))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	out.Body, _ = out.GetBody()
	if len(b) == 0 {
		out.Body, out.GetBody = http.NoBody, nil
		return emptyPayloadSHA256, nil
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
