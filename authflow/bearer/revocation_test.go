package bearer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
)

// stubGetUser stands in for Cognito's GetUser: it answers err (nil: the
// token is active) and records each call's Region and token.
type stubGetUser struct {
	mu      sync.Mutex
	err     error
	regions []string
	tokens  []string
}

func (s *stubGetUser) GetUser(_ context.Context, in *cip.GetUserInput, optFns ...func(*cip.Options)) (*cip.GetUserOutput, error) {
	var o cip.Options
	for _, f := range optFns {
		f(&o)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.regions = append(s.regions, o.Region)
	s.tokens = append(s.tokens, aws.ToString(in.AccessToken))
	if s.err != nil {
		return nil, s.err
	}
	return &cip.GetUserOutput{Username: aws.String("alice")}, nil
}

func (s *stubGetUser) set(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

func (s *stubGetUser) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tokens)
}

// revocationFunc is a Revocation from a function.
type revocationFunc func(ctx context.Context, token string, c *Claims) error

func (f revocationFunc) Active(ctx context.Context, token string, c *Claims) error {
	return f(ctx, token, c)
}

func newRevocationCheck(t *testing.T, cfg RevocationConfig) *RevocationCheck {
	t.Helper()
	rc, err := NewRevocationCheck(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// cognitoVerifier accepts access tokens of testPool (its primary and its
// us-east-1 replica), whose keys op holds.
func cognitoVerifier(t *testing.T, clock *testClock, op *bearerOP, log *slog.Logger) *Verifier {
	t.Helper()
	rt := &cognitoRoutes{t: t, routes: map[string]*bearerOP{
		originalIss + "/.well-known/jwks.json": op,
		replicaIss + "/.well-known/jwks.json":  op,
	}}
	v, err := New(t.Context(), Config{
		Issuers: []Issuer{
			Cognito(CognitoPool{ID: testPool}, testClient),
			Cognito(CognitoPool{ID: testPool, Region: "us-east-1"}, testClient),
		},
		HTTPClient: &http.Client{Transport: rt}, Now: clock.Now, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func get(h http.Handler, tok string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/transfer", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "done") })

// TestRevocationCognitoGetUser: a route guarded by NotRevoked over GetUser
// (a stub behind the one-operation interface) lets an active token through
// and caches that; refuses a revoked token or a gone user with 401
// invalid_token; answers a fault per the policy (503 closed by default, let
// through with InsecureFailOpen) and never caches it; never sends a token
// without the scope GetUser needs. The token is in no log line.
func TestRevocationCognitoGetUser(t *testing.T) {
	const admin = "openid " + ScopeCognitoUserAdmin
	revoked := &types.NotAuthorizedException{Message: aws.String("Access Token has been revoked")}
	for _, tc := range []struct {
		name     string
		err      error
		failOpen bool
		scope    string
		status   int
		calls    int // after two requests with one token
	}{
		{"active, then cached", nil, false, admin, http.StatusOK, 1},
		{"revoked or signed out globally", revoked, false, admin, http.StatusUnauthorized, 1},
		{"user deleted", &types.UserNotFoundException{}, false, admin, http.StatusUnauthorized, 1},
		{"user disabled", &types.NotAuthorizedException{Message: aws.String("User is disabled.")}, false, admin, http.StatusUnauthorized, 1},
		{"throttled: fail closed", &types.TooManyRequestsException{}, false, admin, http.StatusServiceUnavailable, 2},
		{"throttled: InsecureFailOpen", &types.TooManyRequestsException{}, true, admin, http.StatusOK, 2},
		{"internal error", &types.InternalErrorException{}, false, admin, http.StatusServiceUnavailable, 2},
		{"network fault", errors.New("dial tcp 192.0.2.1:443: connect: connection refused"), false, admin, http.StatusServiceUnavailable, 2},
		{"no aws.cognito.signin.user.admin: never sent", nil, false, "openid orders/read", http.StatusServiceUnavailable, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newTestClock()
			var logs syncBuffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			op := newBearerOP(t)
			v := cognitoVerifier(t, clock, op, log)
			stub := &stubGetUser{err: tc.err}
			rc := newRevocationCheck(t, RevocationConfig{
				Checker: NewCognitoGetUser(stub), InsecureFailOpen: tc.failOpen, Now: clock.Now, Logger: log,
			})
			h := v.Require(okHandler, Scopes("openid"), NotRevoked(rc))
			c := op.claims(clock.Now(), testClient)
			c["iss"], c["scope"] = originalIss, tc.scope
			tok := op.mint("k1", c)

			for i := range 2 {
				w := get(h, tok)
				if w.Code != tc.status {
					t.Fatalf("request %d: status %d, want %d: %s", i, w.Code, tc.status, w.Body)
				}
				switch tc.status {
				case http.StatusUnauthorized:
					if h := w.Header().Get("WWW-Authenticate"); !strings.Contains(h, `error="invalid_token"`) || !strings.Contains(h, "no longer active") {
						t.Errorf("WWW-Authenticate = %q", h)
					}
				case http.StatusServiceUnavailable:
					if w.Header().Get("Retry-After") == "" {
						t.Error("503 without Retry-After")
					}
				}
			}
			if got := stub.calls(); got != tc.calls {
				t.Errorf("GetUser called %d times, want %d", got, tc.calls)
			}
			for i := range stub.tokens {
				if stub.tokens[i] != tok || stub.regions[i] != "eu-west-1" {
					t.Errorf("call %d: another token, or Region %q, want eu-west-1", i, stub.regions[i])
				}
			}
			if strings.Contains(logs.String(), tok) || strings.Contains(logs.String(), tok[strings.LastIndexByte(tok, '.')+1:]) {
				t.Error("a log line holds the token")
			}
			if tc.failOpen && !strings.Contains(logs.String(), "InsecureFailOpen") {
				t.Error("a request let through on a fault was not logged")
			}
		})
	}

	t.Run("a replica's token goes to the replica's Region", func(t *testing.T) {
		clock := newTestClock()
		op := newBearerOP(t)
		v := cognitoVerifier(t, clock, op, slog.New(slog.DiscardHandler))
		stub := &stubGetUser{}
		h := v.Require(okHandler, NotRevoked(newRevocationCheck(t, RevocationConfig{Checker: NewCognitoGetUser(stub), Now: clock.Now})))
		c := op.claims(clock.Now(), testClient)
		c["iss"], c["scope"] = replicaIss, ScopeCognitoUserAdmin
		if w := get(h, op.mint("k1", c)); w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if len(stub.regions) != 1 || stub.regions[0] != "us-east-1" {
			t.Errorf("Regions = %v, want [us-east-1]", stub.regions)
		}
	})

	t.Run("not a Cognito issuer: a fault, never sent", func(t *testing.T) {
		stub := &stubGetUser{}
		rc := newRevocationCheck(t, RevocationConfig{Checker: NewCognitoGetUser(stub), Logger: slog.New(slog.DiscardHandler)})
		err := rc.Check(t.Context(), "tok", &Claims{Issuer: "https://idp.example.com", Scopes: []string{ScopeCognitoUserAdmin}, Expiry: time.Now().Add(time.Hour)})
		if !errors.Is(err, ErrRevocationUnavailable) || stub.calls() != 0 {
			t.Errorf("err = %v, calls %d", err, stub.calls())
		}
	})
}

// TestRevocationCacheBounds: an answer is reused for TTL and never at or
// after the token's exp; a token revoked at the issuer is refused once TTL
// has passed; the cache holds at most CacheSize entries.
func TestRevocationCacheBounds(t *testing.T) {
	clock := newTestClock()
	stub := &stubGetUser{}
	rc := newRevocationCheck(t, RevocationConfig{Checker: NewCognitoGetUser(stub), TTL: 30 * time.Second, Now: clock.Now})
	claims := func(exp time.Duration) *Claims {
		return &Claims{Issuer: originalIss, Scopes: []string{ScopeCognitoUserAdmin}, Expiry: clock.Now().Add(exp)}
	}
	check := func(tok string, c *Claims, want error, calls int) {
		t.Helper()
		if err := rc.Check(t.Context(), tok, c); !errors.Is(err, want) || (want == nil && err != nil) {
			t.Fatalf("Check = %v, want %v", err, want)
		}
		if got := stub.calls(); got != calls {
			t.Fatalf("GetUser called %d times, want %d", got, calls)
		}
	}

	t.Run("never past exp", func(t *testing.T) {
		c := claims(10 * time.Second) // exp before TTL
		check("short", c, nil, 1)
		clock.Add(9 * time.Second)
		check("short", c, nil, 1) // cached
		clock.Add(time.Second)    // at exp: the entry is gone, though TTL is not over
		check("short", c, nil, 2)
	})

	t.Run("revoked at the issuer: refused within TTL", func(t *testing.T) {
		c := claims(time.Hour)
		n := stub.calls()
		check("long", c, nil, n+1)
		stub.set(&types.NotAuthorizedException{})
		clock.Add(29 * time.Second)
		check("long", c, nil, n+1) // the answer of 29 s ago
		clock.Add(time.Second)
		check("long", c, ErrTokenRevoked, n+2)
		clock.Add(10 * time.Second)
		check("long", c, ErrTokenRevoked, n+2) // refusals are cached too
		stub.set(nil)
	})

	t.Run("whole token compared", func(t *testing.T) {
		c := claims(time.Hour)
		n := stub.calls()
		check("abc", c, nil, n+1)
		check("abcd", c, nil, n+2)
		check("ab", c, nil, n+3)
	})

	t.Run("bounded in size", func(t *testing.T) {
		small := newRevocationCheck(t, RevocationConfig{Checker: NewCognitoGetUser(stub), CacheSize: 4, Now: clock.Now})
		for i := range 50 {
			if err := small.Check(t.Context(), fmt.Sprint("tok-", i), claims(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		if n := small.cache.len(); n > 4 {
			t.Errorf("cache holds %d entries, bound 4", n)
		}
	})

	t.Run("no cache", func(t *testing.T) {
		none := newRevocationCheck(t, RevocationConfig{Checker: NewCognitoGetUser(stub), CacheSize: -1, Now: clock.Now})
		n := stub.calls()
		for range 3 {
			if err := none.Check(t.Context(), "tok", claims(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		if got := stub.calls() - n; got != 3 {
			t.Errorf("%d calls without a cache, want 3", got)
		}
	})
}

// TestRevocationSingleFlight: concurrent requests with one token share one
// call to the issuer; each waits no longer than its own context, and the
// call is cancelled only when every request waiting for it has gone, or at
// Timeout.
func TestRevocationSingleFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var calls atomic.Int32
		var cancelled atomic.Int32
		// It answers "tok" when released, and never any other token.
		checker := revocationFunc(func(ctx context.Context, token string, _ *Claims) error {
			calls.Add(1)
			gate := release
			if token != "tok" {
				gate = nil
			}
			select {
			case <-gate:
				return nil
			case <-ctx.Done():
				cancelled.Add(1)
				return ctx.Err()
			}
		})
		rc := newRevocationCheck(t, RevocationConfig{Checker: checker, Timeout: time.Minute, Logger: slog.New(slog.DiscardHandler)})
		c := &Claims{Expiry: time.Now().Add(time.Hour)}

		// 50 requests, one of which gives up early.
		var wg sync.WaitGroup
		errs := make([]error, 50)
		ctx0, cancel0 := context.WithCancel(t.Context())
		for i := range errs {
			ctx := t.Context()
			if i == 0 {
				ctx = ctx0
			}
			wg.Go(func() { errs[i] = rc.Check(ctx, "tok", c) })
		}
		synctest.Wait()
		if n := calls.Load(); n != 1 {
			t.Fatalf("%d calls for 50 concurrent requests, want 1", n)
		}
		cancel0()
		synctest.Wait()
		if cancelled.Load() != 0 {
			t.Fatal("one request leaving cancelled the check the others wait for")
		}
		close(release)
		wg.Wait()
		if !errors.Is(errs[0], ErrRevocationUnavailable) || !errors.Is(errs[0], context.Canceled) {
			t.Errorf("the request that left: %v, want ErrRevocationUnavailable", errs[0])
		}
		for i, err := range errs[1:] {
			if err != nil {
				t.Errorf("request %d: %v", i+1, err)
			}
		}
		if err := rc.Check(t.Context(), "tok", c); err != nil || calls.Load() != 1 {
			t.Errorf("after the flight: %v, %d calls; want the cached answer", err, calls.Load())
		}

		// The only request leaves: the check is cancelled.
		ctx1, cancel1 := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- rc.Check(ctx1, "other", c) }()
		synctest.Wait()
		cancel1()
		if err := <-done; !errors.Is(err, ErrRevocationUnavailable) {
			t.Errorf("err = %v", err)
		}
		synctest.Wait()
		if cancelled.Load() != 1 {
			t.Error("the check went on with nobody waiting")
		}

		// A checker that never answers: ErrRevocationUnavailable at Timeout.
		start := time.Now()
		if err := rc.Check(t.Context(), "third", c); !errors.Is(err, ErrRevocationUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want ErrRevocationUnavailable at Timeout", err)
		}
		if d := time.Since(start); d != time.Minute {
			t.Errorf("answered after %v, want Timeout (1m)", d)
		}
	})
}

// TestNotRevokedNeedsVerifiedClaims: claims made by hand carry no token:
// NotRevoked refuses them rather than let them through unchecked.
func TestNotRevokedNeedsVerifiedClaims(t *testing.T) {
	rc := newRevocationCheck(t, RevocationConfig{Checker: revocationFunc(func(context.Context, string, *Claims) error {
		t.Error("the checker was called")
		return nil
	})})
	err := NotRevoked(rc)(t.Context(), &Claims{Subject: "alice", Expiry: time.Now().Add(time.Hour)})
	if status, _ := statusOf(err); status != http.StatusUnauthorized {
		t.Errorf("err = %v, status %d; want 401", err, status)
	}
	if err := NotRevoked(nil)(t.Context(), &Claims{}); !errors.Is(err, ErrRevocationUnavailable) {
		t.Errorf("NotRevoked(nil): %v", err)
	}
	for _, cfg := range []RevocationConfig{
		{},
		{Checker: rc.checker, TTL: -time.Second},
		{Checker: rc.checker, TTL: MaxRevocationTTL + time.Second},
		{Checker: rc.checker, Timeout: -time.Second},
	} {
		if _, err := NewRevocationCheck(cfg); err == nil || !strings.HasPrefix(err.Error(), "bearer: invalid revocation config") {
			t.Errorf("NewRevocationCheck(%+v) = %v", cfg, err)
		}
	}
}

// TestClaimsPrintNoToken: the token kept with verified claims for
// NotRevoked never shows when the claims are printed.
func TestClaimsPrintNoToken(t *testing.T) {
	clock := newTestClock()
	op := newBearerOP(t)
	v := cognitoVerifier(t, clock, op, slog.New(slog.DiscardHandler))
	c := op.claims(clock.Now(), testClient)
	c["iss"] = originalIss
	tok := op.mint("k1", c)
	claims, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	sig := tok[strings.LastIndexByte(tok, '.')+1:]
	for _, s := range []string{fmt.Sprintf("%v", claims), fmt.Sprintf("%+v", claims), fmt.Sprintf("%#v", *claims), fmt.Sprint(*claims)} {
		if strings.Contains(s, sig) {
			t.Errorf("printed claims hold the token: %s", s)
		}
	}
}
