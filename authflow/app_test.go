package authflow

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/tokenstore"
)

// testApp is a relying party built on Handler, served by httptest.
type testApp struct {
	t     testing.TB
	h     *Handler
	srv   *httptest.Server
	store *countingStore
	logs  *syncBuffer
}

const testClientID = "app-client"

var testCookieKey = bytes.Repeat([]byte{7}, 32)

func newTestApp(t testing.TB, op *testOP, mods ...func(*Config)) *testApp {
	t.Helper()
	app, err := startTestApp(t, op, mods...)
	require.NoError(t, err)
	return app
}

func startTestApp(t testing.TB, op *testOP, mods ...func(*Config)) (*testApp, error) {
	t.Helper()
	var handler atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.Load().(http.Handler).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	app := &testApp{t: t, srv: srv, store: newCountingStore(), logs: &syncBuffer{}}
	cfg := Config{
		Issuer:      op.issuer(),
		ClientID:    testClientID,
		RedirectURL: srv.URL + "/callback",
		Scopes:      []string{"email"},
		Store:       app.store,
		CookieKeys:  [][]byte{testCookieKey},
		Logger:      slog.New(slog.NewTextHandler(app.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, m := range mods {
		m(&cfg)
	}
	h, err := New(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	app.h = h
	mux := http.NewServeMux()
	mux.Handle("/login", h.Login())
	mux.Handle("/callback", h.Callback())
	mux.Handle("/logout", h.Logout())
	mux.Handle("/backchannel", h.BackChannelLogout())
	mux.Handle("/me", h.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := SessionFrom(r.Context())
		var claims map[string]any
		s.Claims(&claims)
		writeJSON(w, map[string]any{"sub": s.Subject, "claims": claims, "csrf": h.CSRFToken(r),
			"auth_time": s.AuthTime.Unix(), "acr": s.ACR})
	})))
	// Step-up (stepup_test.go).
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("page " + r.URL.RequestURI())) })
	mux.Handle("/recent", h.RequireRecentLogin(5*time.Minute)(page))
	mux.Handle("/mfa", h.RequireACR("mfa", "phr")(page))
	mux.Handle("/login/stepup", h.LoginWith(LoginOptions{Prompt: "login", MaxAge: 5 * time.Minute, ACRValues: []string{"mfa"}}))
	handler.Store(mux)
	return app, nil
}

// browser is a cookie-keeping client that does not follow redirects, so each
// step of a flow can be checked or tampered with.
func (app *testApp) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
}

func (app *testApp) get(c *http.Client, rawURL string, hdr ...string) *http.Response {
	app.t.Helper()
	if strings.HasPrefix(rawURL, "/") {
		rawURL = app.srv.URL + rawURL
	}
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	require.NoError(app.t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	require.NoError(app.t, err)
	app.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// startLogin runs /login and the provider's authorize step and returns the
// callback URL the provider sent the browser to.
func (app *testApp) startLogin(c *http.Client, returnTo string) string {
	app.t.Helper()
	u := "/login"
	if returnTo != "" {
		u += "?return_to=" + url.QueryEscape(returnTo)
	}
	resp := app.get(c, u)
	require.Equal(app.t, http.StatusFound, resp.StatusCode)
	resp = app.get(c, resp.Header.Get("Location"))
	require.Equal(app.t, http.StatusFound, resp.StatusCode)
	return resp.Header.Get("Location")
}

// login completes a sign-in and returns the final redirect target.
func (app *testApp) login(c *http.Client, returnTo string) string {
	app.t.Helper()
	resp := app.get(c, app.startLogin(c, returnTo))
	require.Equal(app.t, http.StatusSeeOther, resp.StatusCode, "callback failed; logs:\n%s", app.logs)
	return resp.Header.Get("Location")
}

// me calls the guarded endpoint as a JSON client.
func (app *testApp) me(c *http.Client) (int, map[string]any) {
	app.t.Helper()
	resp := app.get(c, "/me", "Accept", "application/json")
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func (app *testApp) sessionCookie(c *http.Client) *http.Cookie {
	u, _ := url.Parse(app.srv.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == app.h.cfg.SessionCookieName {
			return ck
		}
	}
	return nil
}

// countingStore counts reads and writes so tests can prove a rejection stored
// nothing. It passes the memory store's leases through, so refresh takes the
// cross-instance path.
type countingStore struct {
	tokenstore.Store
	*tokenstore.Memory
	gets    atomic.Int64
	sets    atomic.Int64
	fenced  atomic.Int64 // SetFenced calls
	deletes atomic.Int64
	fail    atomic.Pointer[error] // when set, every call fails with it
	// onAcquire, when set, runs before each Acquire.
	onAcquire atomic.Pointer[func(name string)]
}

func (s *countingStore) Get(ctx context.Context, key string) ([]byte, error) {
	if e := s.fail.Load(); e != nil {
		return nil, *e
	}
	s.gets.Add(1)
	return s.Store.Get(ctx, key)
}

func (s *countingStore) Acquire(ctx context.Context, name string, ttl time.Duration) (tokenstore.Lease, error) {
	if f := s.onAcquire.Load(); f != nil {
		(*f)(name)
	}
	return s.Memory.Acquire(ctx, name, ttl)
}

func (s *countingStore) SetFenced(ctx context.Context, l tokenstore.Lease, key string, v []byte, exp time.Time) error {
	s.fenced.Add(1)
	return s.Memory.SetFenced(ctx, l, key, v, exp)
}

func (s *countingStore) Set(ctx context.Context, key string, v []byte, exp time.Time) error {
	if e := s.fail.Load(); e != nil {
		return *e
	}
	s.sets.Add(1)
	return s.Store.Set(ctx, key, v, exp)
}

func (s *countingStore) Delete(ctx context.Context, key string) error {
	if e := s.fail.Load(); e != nil {
		return *e
	}
	s.deletes.Add(1)
	return s.Store.Delete(ctx, key)
}

// syncBuffer is a log sink safe for concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	return string(b)
}

func newCountingStore() *countingStore {
	m := tokenstore.NewMemory()
	return &countingStore{Store: m, Memory: m}
}

func newJar() (http.CookieJar, error) { return cookiejar.New(nil) }
