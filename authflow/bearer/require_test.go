package bearer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestBearerRequire is SECURITY.md D 21 and 22: RFC 6750 header handling,
// status codes, WWW-Authenticate, JSON bodies, claims in the context, and
// nothing secret in the logs.
func TestBearerRequire(t *testing.T) {
	op := newBearerOP(t)
	clock := newTestClock()
	logs := &syncBuffer{}
	b := newTestBearer(t, op, clock, func(c *Config) {
		c.Realm = "orders"
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	tok := op.mint("k1", op.claims(clock.Now(), testClient))
	noGroup := op.claims(clock.Now(), testClient)
	noGroup["cognito:groups"] = []string{"readers"}
	noGroupTok := op.mint("k1", noGroup)
	noScope := op.claims(clock.Now(), testClient)
	noScope["scope"] = "openid"
	noScopeTok := op.mint("k1", noScope)

	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := ClaimsFrom(r.Context())
		if c == nil {
			t.Error("no claims in the context")
			return
		}
		w.Write([]byte(c.Subject))
	})
	h := b.Require(api, Scopes("orders/read"), Groups("admin", "ops"))

	for _, tc := range []struct {
		name      string
		headers   []string // Authorization values
		query     string
		status    int
		challenge string // WWW-Authenticate, exactly
		errCode   string
	}{
		{"valid", []string{"Bearer " + tok}, "", 200, "", ""},
		{"lower-case scheme", []string{"bearer " + tok}, "", 200, "", ""},
		{"upper-case scheme, two spaces", []string{"BEARER  " + tok}, "", 200, "", ""},
		{"no header", nil, "", 401, `Bearer realm="orders"`, "unauthorized"},
		{"Basic", []string{"Basic YWxpY2U6c2VjcmV0"}, "", 401, `Bearer realm="orders"`, "unauthorized"},
		{"query token only", nil, "access_token=" + tok, 401, `Bearer realm="orders"`, "unauthorized"},
		{"empty token", []string{"Bearer "}, "", 401,
			`Bearer realm="orders", error="invalid_token", error_description="the access token is invalid or expired"`, "invalid_token"},
		{"scheme only", []string{"Bearer"}, "", 401,
			`Bearer realm="orders", error="invalid_token", error_description="the access token is invalid or expired"`, "invalid_token"},
		{"garbage token", []string{"Bearer abc.def.ghi"}, "", 401,
			`Bearer realm="orders", error="invalid_token", error_description="the access token is invalid or expired"`, "invalid_token"},
		{"tampered", []string{"Bearer " + tamper(tok)}, "", 401,
			`Bearer realm="orders", error="invalid_token", error_description="the access token is invalid or expired"`, "invalid_token"},
		{"two headers", []string{"Bearer " + tok, "Bearer " + tok}, "", 400,
			`Bearer realm="orders", error="invalid_request", error_description="the request's Authorization header is malformed"`, "invalid_request"},
		{"two tokens in one header", []string{"Bearer " + tok + " " + tok}, "", 400, "", "invalid_request"},
		{"comma list", []string{"Bearer " + tok + ", Basic x"}, "", 400, "", "invalid_request"},
		{"header and query", []string{"Bearer " + tok}, "access_token=" + tok, 400, "", "invalid_request"},
		{"header and encoded query name", []string{"Bearer " + tok}, "access%5Ftoken=" + tok, 400, "", "invalid_request"},
		{"oversized header", []string{"Bearer " + strings.Repeat("a", 9<<10)}, "", 400, "", "invalid_request"},
		{"missing scope", []string{"Bearer " + noScopeTok}, "", 403,
			`Bearer realm="orders", error="insufficient_scope", error_description="the access token does not grant access to this resource", scope="orders/read"`,
			"insufficient_scope"},
		{"missing group", []string{"Bearer " + noGroupTok}, "", 403,
			`Bearer realm="orders", error="insufficient_scope", error_description="the access token does not grant access to this resource"`,
			"insufficient_scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/orders?"+tc.query, nil)
			for _, v := range tc.headers {
				r.Header.Add("Authorization", v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if tc.status == 200 {
				if w.Body.String() != "alice-sub" {
					t.Errorf("body %q", w.Body)
				}
				return
			}
			got := w.Header().Get("WWW-Authenticate")
			if got == "" || (tc.challenge != "" && got != tc.challenge) {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.challenge)
			}
			if !strings.Contains(got, `error="`+tc.errCode+`"`) && tc.errCode != "unauthorized" {
				t.Errorf("WWW-Authenticate = %q lacks error %q", got, tc.errCode)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Error("no Cache-Control: no-store")
			}
			var body map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["error"] != tc.errCode {
				t.Errorf("body %s (%v), want error %q", w.Body, err, tc.errCode)
			}
		})
	}
	out := logs.String()
	if !strings.Contains(out, "bearer: request refused") {
		t.Fatalf("refusals not logged: %s", out)
	}
	for _, secret := range []string{tok[len(tok)-30:], noScopeTok[len(noScopeTok)-30:], "YWxpY2U6c2VjcmV0", "access_token"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q", secret)
		}
	}
}

// TestBearerErrorHandler: the hook gets the reason; the default writer stays usable.
func TestBearerErrorHandler(t *testing.T) {
	op := newBearerOP(t)
	clock := newTestClock()
	var got error
	var b *Verifier
	b = newTestBearer(t, op, clock, func(c *Config) {
		c.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			w.Header().Set("X-Reason", "custom")
			b.WriteError(w, r, err)
		}
	})
	claims := op.claims(clock.Now(), testClient)
	claims["exp"] = clock.Now().Add(-5 * 60 * 1e9).Unix()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+op.mint("k1", claims))
	w := httptest.NewRecorder()
	b.Require(http.NotFoundHandler()).ServeHTTP(w, r)
	if !errors.Is(got, ErrTokenExpired) {
		t.Fatalf("ErrorHandler got %v", got)
	}
	if w.Code != 401 || w.Header().Get("X-Reason") != "custom" ||
		!strings.Contains(w.Header().Get("WWW-Authenticate"), `error_description="the access token expired"`) {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
}

// TestBearerCustomRequirement: Check is the one custom hook. Its refusal is
// 403 insufficient_scope, or 401 invalid_token when its error wraps
// ErrInvalidToken; the caller's own error stays in the chain; it gets the
// request's context and runs on every request, a cached token's too.
func TestBearerCustomRequirement(t *testing.T) {
	op := newBearerOP(t)
	clock := newTestClock()
	b := newTestBearer(t, op, clock, nil)
	errNotBob := errors.New("not bob")
	errRevoked := fmt.Errorf("%w: revoked", ErrInvalidToken)
	type ctxKey struct{}
	calls := 0
	check := Check(func(ctx context.Context, c *Claims) error {
		calls++
		if ctx.Value(ctxKey{}) != "request" {
			return errors.New("not the request's context")
		}
		switch c.Username {
		case "alice":
			return errNotBob
		case "mallory":
			return errRevoked
		}
		return nil
	})
	mint := func(user string) string {
		c := op.claims(clock.Now(), testClient)
		c["username"] = user
		return op.mint("k1", c)
	}
	api := b.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), check)
	for _, tc := range []struct {
		user    string
		status  int
		errCode string
		wantErr error
	}{
		{"bob", 200, "", nil},
		{"alice", 403, "insufficient_scope", errNotBob},
		{"mallory", 401, "invalid_token", ErrInvalidToken},
	} {
		t.Run(tc.user, func(t *testing.T) {
			h := http.Header{"Authorization": {"Bearer " + mint(tc.user)}}
			ctx := context.WithValue(t.Context(), ctxKey{}, "request")
			for range 2 { // the second time from the cache
				_, err := b.Authenticate(ctx, h, check)
				if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Fatalf("Authenticate: %v, want %v", err, tc.wantErr)
				}
				if tc.status == 403 && !errors.Is(err, ErrInsufficientScope) {
					t.Fatalf("403 refusal %v does not wrap ErrInsufficientScope", err)
				}
				if tc.status == 401 && errors.Is(err, ErrInsufficientScope) {
					t.Fatalf("401 refusal %v wraps ErrInsufficientScope", err)
				}
				r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
				r.Header = h
				w := httptest.NewRecorder()
				api.ServeHTTP(w, r)
				if w.Code != tc.status || !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="`+tc.errCode+`"`) && tc.errCode != "" {
					t.Fatalf("Require: %d %q, want %d %s", w.Code, w.Header().Get("WWW-Authenticate"), tc.status, tc.errCode)
				}
			}
		})
	}
	if calls != 3*2*2 {
		t.Errorf("Check ran %d times, want once per call (12)", calls)
	}
	h := http.Header{"Authorization": {"Bearer " + mint("bob")}}
	if c, err := b.Authenticate(t.Context(), h, Scopes("openid", "orders/read"), Groups("admin")); err != nil || c == nil {
		t.Fatalf("all requirements met: %v", err)
	}
}

func TestTokenFromHeader(t *testing.T) {
	for _, tc := range []struct {
		in   string
		tok  string
		want error
	}{
		{"Bearer abc", "abc", nil},
		{"bEaReR a-b.c_d~e+f/g==", "a-b.c_d~e+f/g==", nil},
		{"Bearer abc ", "abc", nil},
		{"Bearer a=b", "", ErrInvalidRequest},
		{"Bearer ==", "", ErrInvalidRequest},
		{"Bearer a\tb", "", ErrInvalidRequest},
		{"Bearer a\x00", "", ErrInvalidRequest},
		{"Bearer\tabc", "", ErrInvalidRequest},
		{"Bearerabc", "", ErrNoToken},
		{"Basic abc", "", ErrNoToken},
		{"Bearer ", "", ErrInvalidToken},
		{"Bearer é", "", ErrInvalidRequest},
	} {
		got, err := TokenFromHeader(http.Header{"Authorization": {tc.in}}, 0)
		if got != tc.tok || (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("TokenFromHeader(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.tok, tc.want)
		}
	}
}

// TestBearerScopesSplitOnSpacesOnly: scope is a list delimited by spaces
// (RFC 6749 §3.3, RFC 8693 §4.2); other white space (tab, NBSP, NEL,
// U+3000) is inside one scope-token, never a delimiter that could make a
// token named "openid\u00a0orders/read" grant orders/read.
func TestBearerScopesSplitOnSpacesOnly(t *testing.T) {
	op := newBearerOP(t)
	clock := newTestClock()
	b := newTestBearer(t, op, clock, nil)
	for _, scope := range []string{"openid\u00a0orders/read", "openid\torders/read", "openid\u0085orders/read", "openid\u3000orders/read"} {
		c := op.claims(clock.Now(), testClient)
		c["scope"] = scope
		h := http.Header{"Authorization": {"Bearer " + op.mint("k1", c)}}
		if _, err := b.Authenticate(t.Context(), h, Scopes("orders/read")); !errors.Is(err, ErrInsufficientScope) {
			t.Errorf("scope %q: %v, want ErrInsufficientScope", scope, err)
		}
	}
	c := op.claims(clock.Now(), testClient)
	c["scope"] = "  openid   orders/read "
	h := http.Header{"Authorization": {"Bearer " + op.mint("k1", c)}}
	got, err := b.Authenticate(t.Context(), h, Scopes("openid", "orders/read"))
	if err != nil || len(got.Scopes) != 2 {
		t.Fatalf("runs of spaces: %v %q", err, got.Scopes)
	}
}
