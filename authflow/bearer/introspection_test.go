package bearer

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	rsID     = "api"
	rsSecret = "s3cret/+ &=" // form-encoded before Basic (RFC 6749 §2.3.1)
)

// introspectionServer is a hostile RFC 7662 endpoint: it checks each
// request's shape (POST, client_secret_basic, the form) and answers with
// the handler the test sets.
type introspectionServer struct {
	t   *testing.T
	srv *httptest.Server

	mu     sync.Mutex
	answer http.HandlerFunc
	tokens []string
}

func newIntrospectionServer(t *testing.T) *introspectionServer {
	s := &introspectionServer{t: t}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		// RFC 6749 §2.3.1: both form-decoded after Basic's base64.
		id, err1 := url.QueryUnescape(id)
		secret, err2 := url.QueryUnescape(secret)
		ok = ok && err1 == nil && err2 == nil
		if r.Method != http.MethodPost || !ok || id != rsID || secret != rsSecret ||
			r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.Header.Get("Accept") != "application/json" {
			t.Errorf("introspection request: %s, client %q, Content-Type %q", r.Method, id, r.Header.Get("Content-Type"))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if err := r.ParseForm(); err != nil || r.PostForm.Get("token_type_hint") != "access_token" || len(r.PostForm["token"]) != 1 {
			t.Errorf("introspection form: %v", err)
		}
		s.mu.Lock()
		s.tokens = append(s.tokens, r.PostForm.Get("token"))
		answer := s.answer
		s.mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *introspectionServer) set(h http.HandlerFunc) {
	s.mu.Lock()
	s.answer = h
	s.mu.Unlock()
}

func (s *introspectionServer) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tokens)
}

// answerJSON answers status with body as application/json.
func answerJSON(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		w.Write([]byte(body))
	}
}

// TestIntrospectionHostile: only a 200 application/json answer that is one
// JSON object with a boolean active is an answer; active false refuses the
// token (401), everything else is a fault (503 closed), and no error holds
// the token or the body.
func TestIntrospectionHostile(t *testing.T) {
	const marker = "BODY-MARKER"
	huge := `{"active":true,"pad":"` + strings.Repeat("x", MaxIntrospectionResponseBytes) + `"}`
	for _, tc := range []struct {
		name   string
		answer http.HandlerFunc
		want   error // nil, ErrTokenRevoked or ErrRevocationUnavailable
	}{
		{"active", answerJSON(200, `{"active":true,"client_id":"app","scope":"openid","exp":4102444800}`), nil},
		{"active with our iss", answerJSON(200, `{"active":true,"iss":"ISSUER"}`), nil},
		{"inactive", answerJSON(200, `{"active":false}`), ErrTokenRevoked},
		{"inactive, other members", answerJSON(200, `{"active":false,"sub":"alice","Active":true}`), ErrTokenRevoked},
		{"500", answerJSON(500, `{"error":"server_error","error_description":"`+marker+`"}`), ErrRevocationUnavailable},
		{"401: our credentials refused", answerJSON(401, `{"error":"invalid_client"}`), ErrRevocationUnavailable},
		{"400 unsupported_token_type (a JWT at oidc-provider)", answerJSON(400, `{"error":"unsupported_token_type"}`), ErrRevocationUnavailable},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://127.0.0.1:1/elsewhere", http.StatusTemporaryRedirect)
		}, ErrRevocationUnavailable},
		{"slow", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, ErrRevocationUnavailable},
		{"huge", answerJSON(200, huge), ErrRevocationUnavailable},
		{"non-JSON", answerJSON(200, `<html>`+marker+`</html>`), ErrRevocationUnavailable},
		{"HTML content type", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte(`{"active":true}`))
		}, ErrRevocationUnavailable},
		{"active a string", answerJSON(200, `{"active":"true"}`), ErrRevocationUnavailable},
		{"active null", answerJSON(200, `{"active":null}`), ErrRevocationUnavailable},
		{"active twice", answerJSON(200, `{"active":false,"active":true}`), ErrRevocationUnavailable},
		{"no active", answerJSON(200, `{"sub":"alice"}`), ErrRevocationUnavailable},
		{"an array", answerJSON(200, `[{"active":true}]`), ErrRevocationUnavailable},
		{"two objects", answerJSON(200, `{"active":false} {"active":true}`), ErrRevocationUnavailable},
		{"truncated", answerJSON(200, `{"active":true`), ErrRevocationUnavailable},
		{"another iss", answerJSON(200, `{"active":true,"iss":"https://evil.example"}`), ErrRevocationUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newIntrospectionServer(t)
			issuer := srv.srv.URL + "/issuer"
			answer := tc.answer
			srv.set(func(w http.ResponseWriter, r *http.Request) {
				if tc.name == "active with our iss" {
					answerJSON(200, `{"active":true,"iss":"`+issuer+`"}`)(w, r)
					return
				}
				answer(w, r)
			})
			in, err := NewIntrospection(t.Context(), IntrospectionConfig{
				Issuer: issuer, Endpoint: srv.srv.URL + "/introspect", ClientID: rsID, ClientSecret: rsSecret,
			})
			if err != nil {
				t.Fatal(err)
			}
			var logs syncBuffer
			rc := newRevocationCheck(t, RevocationConfig{
				Checker: in, Timeout: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
			})
			const tok = "opaque-TOKEN-value"
			err = rc.Check(t.Context(), tok, &Claims{Issuer: issuer, Expiry: time.Now().Add(time.Hour)})
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("Check = %v, want nil", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("Check = %v, want %v", err, tc.want)
			}
			if err != nil && (strings.Contains(err.Error(), tok) || strings.Contains(err.Error(), marker)) {
				t.Errorf("the error holds the token or the body: %v", err)
			}
			if strings.Contains(logs.String(), tok) || strings.Contains(logs.String(), marker) {
				t.Errorf("the log holds the token or the body: %s", logs.String())
			}
			if srv.calls() != 1 || srv.tokens[0] != tok {
				t.Errorf("%d calls, want 1 with the token", srv.calls())
			}
		})
	}
}

// TestIntrospectionRequire: a route with NotRevoked over introspection
// lets a verified JWT through while the endpoint says active, refuses it
// (401) within TTL once the endpoint says inactive, and answers 503 while
// the endpoint fails; a token of another issuer is never sent.
func TestIntrospectionRequire(t *testing.T) {
	clock := newTestClock()
	op := newBearerOP(t)
	v, err := New(t.Context(), Config{
		Issuers: []Issuer{{Issuer: op.iss(), ClientIDs: []string{testClient}}},
		Now:     clock.Now, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := newIntrospectionServer(t)
	srv.set(answerJSON(200, `{"active":true}`))
	in, err := NewIntrospection(t.Context(), IntrospectionConfig{
		Issuer: op.iss(), Endpoint: srv.srv.URL, ClientID: rsID, ClientSecret: rsSecret,
	})
	if err != nil {
		t.Fatal(err)
	}
	rc := newRevocationCheck(t, RevocationConfig{Checker: in, TTL: 10 * time.Second, Now: clock.Now, Logger: slog.New(slog.DiscardHandler)})
	h := v.Require(okHandler, NotRevoked(rc))
	tok := op.mint("k1", op.claims(clock.Now(), testClient))

	want := func(status, calls int) {
		t.Helper()
		if w := get(h, tok); w.Code != status {
			t.Fatalf("status %d, want %d: %s", w.Code, status, w.Body)
		}
		if srv.calls() != calls {
			t.Fatalf("%d introspection calls, want %d", srv.calls(), calls)
		}
	}
	want(200, 1)
	want(200, 1) // cached
	srv.set(answerJSON(200, `{"active":false}`))
	clock.Add(9 * time.Second)
	want(200, 1)
	clock.Add(time.Second) // TTL over
	want(401, 2)
	want(401, 2)

	other := op.mint("k1", op.claims(clock.Now(), testClient))
	srv.set(answerJSON(503, `{}`))
	want2 := get(h, other)
	if want2.Code != http.StatusServiceUnavailable || srv.calls() != 3 {
		t.Fatalf("a failing endpoint: status %d, %d calls", want2.Code, srv.calls())
	}

	// Introspection of another issuer's tokens: never sent.
	foreign, err := NewIntrospection(t.Context(), IntrospectionConfig{
		Issuer: "https://idp.example.com", Endpoint: srv.srv.URL, ClientID: rsID, ClientSecret: rsSecret,
	})
	if err != nil {
		t.Fatal(err)
	}
	h = v.Require(okHandler, NotRevoked(newRevocationCheck(t, RevocationConfig{Checker: foreign, Logger: slog.New(slog.DiscardHandler)})))
	if w := get(h, other); w.Code != http.StatusServiceUnavailable || srv.calls() != 3 {
		t.Fatalf("a token of another issuer: status %d, %d calls", w.Code, srv.calls())
	}
}

// TestNewIntrospection: the endpoint comes from the issuer's discovery
// document when not configured; bad configurations are refused.
func TestNewIntrospection(t *testing.T) {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	mux.HandleFunc("GET /with/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"issuer": srv.URL + "/with", "introspection_endpoint": srv.URL + "/with/introspect"})
	})
	mux.HandleFunc("GET /without/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"issuer": srv.URL + "/without"})
	})
	mux.HandleFunc("GET /plain/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"issuer": srv.URL + "/plain", "introspection_endpoint": "http://idp.example.com/introspect"})
	})
	mux.HandleFunc("GET /lying/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"issuer": "https://idp.example.com", "introspection_endpoint": srv.URL + "/introspect"})
	})

	in, err := NewIntrospection(t.Context(), IntrospectionConfig{Issuer: srv.URL + "/with", ClientID: rsID, ClientSecret: rsSecret})
	if err != nil {
		t.Fatal(err)
	}
	if in.Endpoint() != srv.URL+"/with/introspect" {
		t.Errorf("Endpoint = %q", in.Endpoint())
	}
	for name, cfg := range map[string]IntrospectionConfig{
		"no introspection_endpoint":      {Issuer: srv.URL + "/without", ClientID: rsID, ClientSecret: rsSecret},
		"plain http endpoint":            {Issuer: srv.URL + "/plain", ClientID: rsID, ClientSecret: rsSecret},
		"discovery names another issuer": {Issuer: srv.URL + "/lying", ClientID: rsID, ClientSecret: rsSecret},
		"a Cognito user pool":            {Issuer: originalIss, Endpoint: "https://x.example/i", ClientID: rsID, ClientSecret: rsSecret},
		"no secret":                      {Issuer: srv.URL + "/with", ClientID: rsID},
		"no issuer":                      {Endpoint: srv.URL + "/i", ClientID: rsID, ClientSecret: rsSecret},
		"plain http issuer":              {Issuer: "http://idp.example.com", Endpoint: srv.URL + "/i", ClientID: rsID, ClientSecret: rsSecret},
	} {
		if _, err := NewIntrospection(t.Context(), cfg); err == nil || !strings.HasPrefix(err.Error(), "bearer: ") {
			t.Errorf("%s: NewIntrospection = %v, want an error", name, err)
		} else if strings.Contains(err.Error(), rsSecret) {
			t.Errorf("%s: the error holds the secret", name)
		}
	}
}
