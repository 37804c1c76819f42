package faults

import (
	"encoding/json"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/pubauth/awsauth/authflow"
)

// settleDeadline bounds how long the goroutines a test started get to end
// once it has closed everything.
const settleDeadline = 10 * time.Second

// noGoroutineLeak records the goroutine count now and, at the end of the
// test (after the cleanups registered later have run), checks with
// settleGoroutines that it comes back to at most that plus slackN.
func noGoroutineLeak(t *testing.T, slackN int) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() { settleGoroutines(t, before+slackN) })
}

// settleGoroutines waits up to settleDeadline for the goroutine count to
// fall to at most limit, and fails the test with every stack if it does not.
func settleGoroutines(t *testing.T, limit int) {
	t.Helper()
	deadline := time.Now().Add(settleDeadline)
	for {
		n := runtime.NumGoroutine()
		if n <= limit {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Errorf("goroutines: %d, at most %d expected after %v:\n%s", n, limit, settleDeadline, buf[:runtime.Stack(buf, true)])
			return
		}
		time.Sleep(50 * time.Millisecond) // polling a count, bounded: not synchronisation
	}
}

// syncBuf is a log sink safe for concurrent handlers.
type syncBuf struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}

// appRoutes is the app every cell and test here runs: h's login, callback and
// logout, and /me, which answers a signed-in user with JSON {"sub", "csrf"}:
// the session's subject (checked against the user who asked) and the CSRF
// token for a logout.
func appRoutes(h *authflow.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/login", h.Login())
	mux.Handle("/callback", h.Callback())
	mux.Handle("/logout", h.Logout())
	mux.Handle("/me", h.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := authflow.SessionFrom(r.Context())
		json.NewEncoder(w).Encode(map[string]string{"sub": s.Subject, "csrf": h.CSRFToken(r)})
	})))
	return mux
}
