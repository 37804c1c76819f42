package main

// End to end on real peers: node oidc-provider, MinIO (STS
// AssumeRoleWithWebIdentity + S3 with a ${jwt:sub} prefix policy) and
// headless Chromium, all on loopback, started by internal/testenv/stack and
// internal/testenv/browser (install them with scripts/deps.sh; `make test`
// does). The app runs in-process on a free port.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/authflow"
	"github.com/pubauth/awsauth/awscreds"
	"github.com/pubauth/awsauth/internal/testenv/browser"
	"github.com/pubauth/awsauth/internal/testenv/minio"
	"github.com/pubauth/awsauth/internal/testenv/stack"
)

// countingSTS counts AssumeRoleWithWebIdentity calls on their way to MinIO.
type countingSTS struct {
	next  awscreds.AssumeRoleWithWebIdentityAPIClient
	calls atomic.Int64
}

func (c *countingSTS) AssumeRoleWithWebIdentity(ctx context.Context, in *sts.AssumeRoleWithWebIdentityInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleWithWebIdentityOutput, error) {
	c.calls.Add(1)
	return c.next.AssumeRoleWithWebIdentity(ctx, in, optFns...)
}

type e2e struct {
	t      *testing.T
	ctx    context.Context
	appURL string
	app    *app
	sts    *countingSTS
	bucket string
	root   *s3.Client // the storage's admin: sees what the app really wrote
}

// newE2E reserves the app's port; the caller starts the peers, then startApp.
func newE2E(t *testing.T) (*e2e, net.Listener) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return &e2e{t: t, ctx: ctx, appURL: "http://" + ln.Addr().String()}, ln
}

// startE2E starts the stack (provider + MinIO) and the app; tweak adjusts
// the app's config after it is read from the stack's environment.
func startE2E(t *testing.T, tweak func(*config)) *e2e {
	e, ln := newE2E(t)
	st, err := stack.Start(e.ctx, stack.Config{AppURL: e.appURL})
	require.NoError(t, err)
	t.Cleanup(func() { st.Stop() })
	e.bucket = stack.Bucket
	e.root = s3.New(s3.Options{
		BaseEndpoint: aws.String(st.MinIO.Endpoint),
		Region:       minio.Region,
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(st.MinIO.RootUser, st.MinIO.RootPassword, ""),
	})
	e.startApp(ln, st.QuickstartEnv(ln.Addr().String()), tweak)
	return e
}

// startApp reads the app's config from env, as `go run` would, and serves
// the app on ln until the test ends.
func (e *e2e) startApp(ln net.Listener, env []string, tweak func(*config)) {
	t := e.t
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cfg, err := parseConfig(nil, os.Getenv)
	require.NoError(t, err)
	e.sts = &countingSTS{}
	cfg.wrapSTS = func(c awscreds.AssumeRoleWithWebIdentityAPIClient) awscreds.AssumeRoleWithWebIdentityAPIClient {
		e.sts.next = c
		return e.sts
	}
	if tweak != nil {
		tweak(&cfg)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(e.ctx)
	e.app, err = newApp(ctx, cfg, logger)
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- serveApp(ctx, ln, e.app, logger) }()
	t.Cleanup(func() {
		cancel()
		<-served
	})
}

func (e *e2e) newBrowser() context.Context {
	e.t.Helper()
	bctx, cancel, err := browser.New(e.ctx)
	require.NoError(e.t, err)
	e.t.Cleanup(cancel)
	return bctx
}

// login signs alice in through the browser, starting from path, and
// returns the JSON page she lands on.
func (e *e2e) login(bctx context.Context, path, user string) map[string]any {
	e.t.Helper()
	require.NoError(e.t, chromedp.Do(bctx, chromedp.Navigate(e.appURL+path)))
	require.NoError(e.t, browser.ProviderLogin(bctx, user))
	return e.pageJSON(bctx, "")
}

// page navigates (unless url is empty) and returns the page's text.
func (e *e2e) page(bctx context.Context, url string) string {
	e.t.Helper()
	if url != "" {
		require.NoError(e.t, chromedp.Do(bctx, chromedp.Navigate(url)))
	}
	require.NoError(e.t, chromedp.Do(bctx, chromedp.WaitReady(chromedp.CSS("body"))))
	text, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body.innerText`))
	require.NoError(e.t, err)
	return text
}

// pageJSON returns the JSON the page shows. Right after a login or a form
// post the browser may still be on its way, so with no url it polls, bounded.
func (e *e2e) pageJSON(bctx context.Context, url string) map[string]any {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		text := e.page(bctx, url)
		var v map[string]any
		err := json.Unmarshal([]byte(text), &v)
		if err == nil {
			return v
		}
		if url != "" || time.Now().After(deadline) {
			e.t.Fatalf("page is not JSON: %v: %.300s", err, text)
		}
		time.Sleep(50 * time.Millisecond) // readiness polling, bounded by the deadline
	}
}

// sessionID reads the HttpOnly session cookie through the DevTools protocol.
func (e *e2e) sessionID(bctx context.Context) string {
	e.t.Helper()
	c, err := browser.SessionCookie(bctx, e.appURL)
	require.NoError(e.t, err)
	return c.Value
}

// csrfToken reads the upload form's hidden csrf_token from the home page.
func (e *e2e) csrfToken(bctx context.Context) string {
	e.t.Helper()
	require.NoError(e.t, chromedp.Do(bctx, chromedp.Navigate(e.appURL+"/"), chromedp.WaitVisible(chromedp.ID("upload"))))
	token, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('#upload-form input[name=csrf_token]').value`))
	require.NoError(e.t, err)
	require.NotEmpty(e.t, token)
	return token
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal(r.body, &v), "%s", r.body)
	return v
}

// do sends a request with the session cookie, as the signed-in browser would.
func (e *e2e) do(method, path, sid string, body io.Reader, header map[string]string) response {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, method, e.appURL+path, body)
	require.NoError(e.t, err)
	req.Header.Set("Accept", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	req.AddCookie(&http.Cookie{Name: browser.SessionCookieName, Value: sid})
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// uploadForm is a multipart body: fields, then one file part.
func uploadForm(t *testing.T, fields map[string]string, filename string, content []byte) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		require.NoError(t, mw.WriteField(k, v))
	}
	fw, err := mw.CreateFormFile("file", filename)
	require.NoError(t, err)
	_, err = fw.Write(content)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	return &buf, mw.FormDataContentType()
}

// bucketKeys lists every key in the bucket with the root credentials.
func (e *e2e) bucketKeys() []string {
	e.t.Helper()
	out, err := e.root.ListObjectsV2(e.ctx, &s3.ListObjectsV2Input{Bucket: aws.String(e.bucket)})
	require.NoError(e.t, err)
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

func fileKeys(v map[string]any) []string {
	var keys []string
	for _, f := range v["files"].([]any) {
		keys = append(keys, f.(map[string]any)["key"].(string))
	}
	return keys
}

func apiErrorCode(err error) string {
	var api smithy.APIError
	if err != nil && errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

func TestEndToEnd(t *testing.T) {
	e := startE2E(t, func(c *config) { c.MaxUploadBytes = 64 << 10 })
	bctx := e.newBrowser()

	// Signed out, /files sends the browser to the provider's login form and
	// back; alice's list is her prefix only, read with her own credentials.
	files := e.login(bctx, "/files", "alice")
	assert.Equal(t, "alice/", files["prefix"])
	assert.Equal(t, []string{"alice/hello.txt", "alice/notes.md"}, fileKeys(files))
	assert.Equal(t, int64(1), e.sts.calls.Load(), "one AssumeRoleWithWebIdentity for the first list")
	renew, err := time.Parse(time.RFC3339Nano, files["credentials_renew_at"].(string))
	require.NoError(t, err)
	// 15 minutes from STS, renewed 30 s to 1 min early (ExpiryWindow 1m, jitter 0.5).
	assert.WithinRange(t, renew, time.Now().Add(13*time.Minute), time.Now().Add(15*time.Minute))
	sid := e.sessionID(bctx)
	csrf := e.csrfToken(bctx)

	t.Run("upload through the browser's form, then download", func(t *testing.T) {
		content := []byte("uploaded by alice at " + time.Now().Format(time.RFC3339Nano) + "\n")
		path := filepath.Join(t.TempDir(), "diary.txt")
		require.NoError(t, os.WriteFile(path, content, 0o600))
		require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(e.appURL+"/"),
			chromedp.SetUploadFiles(chromedp.ID("file"), []string{path}),
			chromedp.Click(chromedp.ID("upload"))))
		got := e.pageJSON(bctx, "")
		assert.Equal(t, map[string]any{"key": "alice/diary.txt", "size": float64(len(content))}, got)

		obj, err := e.root.GetObject(e.ctx, &s3.GetObjectInput{Bucket: aws.String(e.bucket), Key: aws.String("alice/diary.txt")})
		require.NoError(t, err)
		stored, err := io.ReadAll(obj.Body)
		obj.Body.Close()
		require.NoError(t, err)
		assert.Equal(t, content, stored, "MinIO holds the bytes")

		assert.Contains(t, fileKeys(e.pageJSON(bctx, e.appURL+"/files")), "alice/diary.txt")

		r := e.do(http.MethodGet, "/files/diary.txt", sid, nil, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, content, r.body)
		assert.Equal(t, "application/octet-stream", r.header.Get("Content-Type"))
		assert.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"))
		assert.Equal(t, "sandbox", r.header.Get("Content-Security-Policy"))
		assert.Equal(t, `attachment; filename=diary.txt`, r.header.Get("Content-Disposition"))
	})

	t.Run("upload by a program, to a subfolder and with a name field", func(t *testing.T) {
		body, ct := uploadForm(t, map[string]string{"csrf_token": csrf, "name": "2026/plan.md"}, "ignored.bin", []byte("# plan\n"))
		r := e.do(http.MethodPost, "/files", sid, body, map[string]string{"Content-Type": ct})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		assert.Equal(t, "alice/2026/plan.md", r.json(t)["key"])
		assert.Equal(t, []byte("# plan\n"), e.do(http.MethodGet, "/files/2026/plan.md", sid, nil, nil).body)

		body, ct = uploadForm(t, map[string]string{"csrf_token": csrf, "name": "café \"menu\".txt"}, "x", []byte("menu"))
		r = e.do(http.MethodPost, "/files", sid, body, map[string]string{"Content-Type": ct})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		r = e.do(http.MethodGet, "/files/"+url.PathEscape("café \"menu\".txt"), sid, nil, nil)
		assert.Equal(t, []byte("menu"), r.body)
		assert.Equal(t, `attachment; filename*=utf-8''caf%C3%A9%20%22menu%22.txt`, r.header.Get("Content-Disposition"))
	})

	t.Run("a missing file is 404", func(t *testing.T) {
		r := e.do(http.MethodGet, "/files/nothing-here.txt", sid, nil, nil)
		// S3 answers 403 instead of 404 when the caller may not list the key's
		// prefix; alice may list her own, so MinIO says NoSuchKey.
		assert.Equal(t, http.StatusNotFound, r.status, "%s", r.body)
	})

	t.Run("MinIO refuses bob's prefix to alice's credentials", func(t *testing.T) {
		r := e.do(http.MethodGet, "/files?prefix=bob/", sid, nil, nil)
		assert.Equal(t, http.StatusForbidden, r.status)
		assert.Equal(t, map[string]any{"error": "AccessDenied"}, r.json(t))
		assert.Equal(t, map[string]any{"error": "AccessDenied"}, e.pageJSON(bctx, e.appURL+"/files?prefix=shared"))
		// Prefix confusion: "alice" without its slash would also list
		// "alice-evil/"; neither is alice's prefix.
		for _, p := range []string{"alice", "alice-evil/", "alic", ""} {
			r := e.do(http.MethodGet, "/files?prefix="+url.QueryEscape(p), sid, nil, nil)
			if p == "" { // no prefix parameter: her own
				assert.Equal(t, http.StatusOK, r.status, "%s", r.body)
				continue
			}
			assert.Equal(t, http.StatusForbidden, r.status, "prefix %q: %s", p, r.body)
		}

		// Not only the app's key check: alice's credentials themselves can't
		// read or write bob's objects.
		creds := e.app.credentials(&authflow.Session{ID: sid})
		with := func(o *s3.Options) { o.Credentials = creds }
		_, err := e.app.s3.GetObject(e.ctx, &s3.GetObjectInput{Bucket: aws.String(e.bucket), Key: aws.String("bob/secret.txt")}, with)
		assert.Equal(t, "AccessDenied", apiErrorCode(err), "%v", err)
		_, err = e.app.s3.PutObject(e.ctx, &s3.PutObjectInput{Bucket: aws.String(e.bucket), Key: aws.String("bob/planted.txt"), Body: strings.NewReader("x")}, with)
		assert.Equal(t, "AccessDenied", apiErrorCode(err), "%v", err)
		_, err = e.app.s3.GetObject(e.ctx, &s3.GetObjectInput{Bucket: aws.String(e.bucket), Key: aws.String("alice/hello.txt")}, with)
		assert.NoError(t, err, "while her own objects are hers")
	})

	t.Run("hostile names are refused and nothing is written", func(t *testing.T) {
		before := e.bucketKeys()
		for _, name := range []string{"../bob/evil.txt", "/bob/evil.txt", "x/../../bob/evil.txt", "..", "a//b", `..\bob\evil.txt`, "evil\x00.txt", "dir/"} {
			body, ct := uploadForm(t, map[string]string{"csrf_token": csrf, "name": name}, "evil.txt", []byte("evil"))
			r := e.do(http.MethodPost, "/files", sid, body, map[string]string{"Content-Type": ct})
			assert.Equal(t, http.StatusBadRequest, r.status, "upload %q: %s", name, r.body)
			assert.Equal(t, map[string]any{"error": "invalid_name"}, r.json(t), "upload %q", name)
		}
		for _, path := range []string{"/files/..%2Fbob%2Fsecret.txt", "/files/x%2F..%2F..%2Fbob%2Fsecret.txt", "/files/a%2F%2Fb", "/files/%2E%2E"} {
			r := e.do(http.MethodGet, path, sid, nil, nil)
			assert.Equal(t, http.StatusBadRequest, r.status, "download %s: %s", path, r.body)
			assert.NotContains(t, string(r.body), "Bob's secret")
		}
		assert.Equal(t, before, e.bucketKeys(), "the bucket is unchanged")
	})

	t.Run("uploads need the CSRF token, the app's origin, a multipart form and a bounded size", func(t *testing.T) {
		before := e.bucketKeys()
		for _, tc := range []struct {
			what   string
			fields map[string]string
			header map[string]string
			size   int
			status int
		}{
			{"no CSRF token", nil, nil, 10, http.StatusForbidden},
			{"wrong CSRF token", map[string]string{"csrf_token": otherFirst(csrf)}, nil, 10, http.StatusForbidden},
			{"foreign origin", map[string]string{"csrf_token": csrf}, map[string]string{"Origin": "https://evil.example"}, 10, http.StatusForbidden},
			{"over MaxUploadBytes", map[string]string{"csrf_token": csrf}, nil, 64<<10 + 1, http.StatusRequestEntityTooLarge},
			{"far over MaxUploadBytes", map[string]string{"csrf_token": csrf}, nil, 1 << 20, http.StatusRequestEntityTooLarge},
		} {
			body, ct := uploadForm(t, tc.fields, "refused.txt", bytes.Repeat([]byte("a"), tc.size))
			header := map[string]string{"Content-Type": ct}
			for k, v := range tc.header {
				header[k] = v
			}
			r := e.do(http.MethodPost, "/files", sid, body, header)
			assert.Equal(t, tc.status, r.status, "%s: %s", tc.what, r.body)
		}
		r := e.do(http.MethodPost, "/files", sid, strings.NewReader("raw"), map[string]string{"Content-Type": "text/plain", "X-CSRF-Token": csrf})
		assert.Equal(t, http.StatusUnsupportedMediaType, r.status)
		body, ct := uploadForm(t, map[string]string{"csrf_token": csrf}, "limit.txt", bytes.Repeat([]byte("a"), 64<<10))
		r = e.do(http.MethodPost, "/files", sid, body, map[string]string{"Content-Type": ct})
		assert.Equal(t, http.StatusCreated, r.status, "exactly MaxUploadBytes is accepted: %s", r.body)
		assert.Equal(t, sortedCopy(append(before, "alice/limit.txt")), e.bucketKeys(), "only the accepted upload was written")
	})

	t.Run("signed-out callers get 401, not files", func(t *testing.T) {
		r := e.do(http.MethodGet, "/files", "not-a-session", nil, nil)
		assert.Equal(t, http.StatusUnauthorized, r.status)
		r = e.do(http.MethodGet, "/files/hello.txt", "", nil, nil)
		assert.Equal(t, http.StatusUnauthorized, r.status)
	})

	t.Run("credentials are reused outside the expiry window", func(t *testing.T) {
		before := e.sts.calls.Load()
		for range 3 {
			require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/files", sid, nil, nil).status)
		}
		assert.Equal(t, before, e.sts.calls.Load(), "no STS call while the credentials are far from expiry")
	})

	t.Run("logout evicts the user's credentials", func(t *testing.T) {
		require.Equal(t, 1, e.app.users.Len())
		require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(e.appURL+"/"), chromedp.Click(chromedp.ID("logout")),
			chromedp.WaitVisible(chromedp.ID("login"))))
		assert.Equal(t, 0, e.app.users.Len())
		assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/files", sid, nil, nil).status)
	})
}

// With an expiry window longer than the credentials' life, every use is
// inside the window: each request renews them before the S3 call, and no
// request sees expired credentials. Together with TestEndToEnd's reuse this
// shows the window, not the expiry itself, decides.
func TestCredentialsRenewInsideExpiryWindow(t *testing.T) {
	e := startE2E(t, func(c *config) {
		c.ExpiryWindow = c.CredentialsDuration + time.Minute
		c.ExpiryWindowJitterFrac = 0
	})
	bctx := e.newBrowser()
	files := e.login(bctx, "/files", "alice")
	require.Equal(t, []string{"alice/hello.txt", "alice/notes.md"}, fileKeys(files))
	sid := e.sessionID(bctx)

	before := e.sts.calls.Load()
	creds := e.app.credentials(&authflow.Session{ID: sid})
	seen := map[string]bool{}
	for range 3 {
		require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/files", sid, nil, nil).status)
		c, err := creds.Retrieve(e.ctx)
		require.NoError(t, err)
		seen[c.AccessKeyID] = true
	}
	assert.Equal(t, before+6, e.sts.calls.Load(), "one AssumeRoleWithWebIdentity per Retrieve")
	assert.Len(t, seen, 3, "fresh credentials each time")
}

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// A user whose id holds a wildcard is refused before any AWS call. MinIO
// substitutes the raw sub into the prefix policy and then matches * and ?
// as wildcards: a user signed in as "*" would hold credentials for
// "demo/*/*", and list bob's files through ?prefix=bob/.
func TestWildcardSubjectIsRefused(t *testing.T) {
	e := startE2E(t, nil)
	bctx := e.newBrowser()
	assert.Equal(t, map[string]any{"error": "unsupported_user_id"}, e.login(bctx, "/files", "*"))
	sid := e.sessionID(bctx)
	r := e.do(http.MethodGet, "/files?prefix=bob/", sid, nil, nil)
	assert.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	assert.Equal(t, map[string]any{"error": "unsupported_user_id"}, r.json(t))
	assert.NotContains(t, string(r.body), "bob/secret.txt")
	assert.Equal(t, int64(0), e.sts.calls.Load(), "no credentials were asked for")
}

// otherFirst returns s with its first character replaced by another one (a
// fixed "x" would leave one random token in 64 unchanged).
func otherFirst(s string) string {
	if s[0] == 'x' {
		return "y" + s[1:]
	}
	return "x" + s[1:]
}
