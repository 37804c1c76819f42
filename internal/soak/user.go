package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pubauth/awsauth/internal/testenv"
)

// requestTimeout bounds each of a user's requests (a login's steps
// together). It is above everything a fault window can cost a request
// (a Redis blackhole: go-redis's 3 s read timeout plus its 4 s pool wait; a
// slow provider: 2 s each way per token request), so a timeout is a finding.
const requestTimeout = 20 * time.Second

// user is one simulated browser: its own cookie jar, signing in on a random
// instance, then calling random instances, then signing out.
type user struct {
	e      *Env
	login  string
	client *http.Client
	rng    *rand.Rand

	signedIn   bool
	csrf       string
	sessionEnd time.Time // when this session's user signs out
}

func (e *Env) newUser(i int, tr http.RoundTripper) *user {
	jar, _ := cookiejar.New(nil)
	return &user{
		e:     e,
		login: login(i),
		client: &http.Client{Transport: tr, Jar: jar,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		rng: rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano()))),
	}
}

// think is a user's pause between two requests: 300 to 900 ms.
func (u *user) think(ctx context.Context) bool {
	t := time.NewTimer(300*time.Millisecond + time.Duration(u.rng.Int64N(int64(600*time.Millisecond))))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// run is the user's life until ctx ends: sign in, use the session (three
// /me for every /files) for 1.5 to 3 token lifetimes, so that every session
// refreshes, sign out, sign in again. Then, with a context of its own, the
// user signs out if signed in.
func (u *user) run(ctx context.Context, stagger time.Duration) {
	t := time.NewTimer(time.Duration(u.rng.Int64N(int64(stagger) + 1)))
	select {
	case <-ctx.Done():
	case <-t.C:
		for ctx.Err() == nil {
			switch {
			case !u.signedIn:
				u.signIn(ctx)
			case time.Now().After(u.sessionEnd):
				u.signOut(ctx)
			case u.rng.IntN(4) == 0:
				u.call(ctx, routeFiles)
			default:
				u.call(ctx, routeMe)
			}
			if !u.think(ctx) {
				break
			}
		}
	}
	t.Stop()
	if u.signedIn {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout)
		defer cancel()
		u.signOut(fctx)
	}
}

func (u *user) instance() string { return u.e.urls[u.rng.IntN(len(u.e.urls))] }

// response is one answer, read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (u *user) do(ctx context.Context, method, target string, form url.Values, cookie *http.Cookie) (response, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return response{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "application/json")
	client := u.client
	if cookie != nil { // a request with this cookie only, not the jar's
		c := *u.client
		c.Jar = nil
		client = &c
		req.AddCookie(cookie)
	}
	resp, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return response{status: resp.StatusCode, header: resp.Header, body: b}, err
}

// outcome records a call: its latency, and whether it failed inside or
// outside a window; a failure outside one is a violation.
func (u *user) outcome(route string, start time.Time, failure string) {
	end := time.Now()
	in := u.e.windows.overlaps(start, end)
	u.e.stats.record(route, end.Sub(start), failure == "", in)
	if failure != "" && !in {
		kind := "failed"
		if strings.HasPrefix(failure, "5") || strings.HasPrefix(failure, "transport") {
			kind = "5xx or no answer"
		}
		u.e.stats.violate(Violation{At: start, User: u.login, Route: route, Kind: kind, Detail: failure})
	}
}

func describe(r response, err error) string {
	if err != nil {
		return "transport: " + err.Error()
	}
	return fmt.Sprintf("%d %.200s", r.status, r.body)
}

// signIn signs in on a random instance: the app's /login, the provider's
// login form over plain HTTP (testenv.ProviderLoginHTTP, straight to the
// provider, not through the apps' fault proxy), the app's /callback on the
// instance it started on, and /me on another random instance.
func (u *user) signIn(ctx context.Context) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	failure := u.trySignIn(ctx)
	if ctx.Err() != nil && failure != "" && time.Since(start) < requestTimeout {
		return // the run ended meanwhile: not counted
	}
	u.outcome(routeLogin, start, failure)
	if failure == "" {
		u.e.stats.add(func(s *stats) { s.logins++ })
	}
}

func (u *user) trySignIn(ctx context.Context) string {
	base := u.instance()
	r, err := u.do(ctx, http.MethodGet, base+"/login?return_to=/me", nil, nil)
	if err != nil || r.status != http.StatusFound {
		return "/login: " + describe(r, err)
	}
	cb, err := testenv.ProviderLoginHTTP(ctx, u.client, r.header.Get("Location"), u.login)
	if err != nil {
		return "provider login: " + err.Error()
	}
	r, err = u.do(ctx, http.MethodGet, cb.String(), nil, nil)
	if err != nil || r.status != http.StatusSeeOther {
		return "/callback: " + describe(r, err)
	}
	r, err = u.do(ctx, http.MethodGet, u.instance()+"/me", nil, nil)
	if err != nil || r.status != http.StatusOK {
		return "/me after login: " + describe(r, err)
	}
	var p page
	if err := json.Unmarshal(r.body, &p); err != nil || p.CSRF == "" {
		return fmt.Sprintf("/me after login: not a page: %.200s", r.body)
	}
	if p.Sub != u.login {
		u.wrongUser(routeLogin, time.Now(), fmt.Sprintf("/me after login answered for %q", p.Sub))
		return "wrong user"
	}
	u.signedIn, u.csrf = true, p.CSRF
	ttl := u.e.cfg.TokenTTL
	u.sessionEnd = time.Now().Add(ttl*3/2 + time.Duration(u.rng.Int64N(int64(ttl*3/2))))
	return ""
}

func (u *user) wrongUser(route string, at time.Time, detail string) {
	u.e.stats.add(func(s *stats) { s.wrongSub++ })
	u.e.stats.violate(Violation{At: at, User: u.login, Route: route, Kind: "wrong user", Detail: detail})
}

// call makes one signed-in request on a random instance and checks that it
// answers for this user: /me's sub, /files' sub and keys (all under the
// user's prefix, the marker among them). A 401 is a lost session.
func (u *user) call(ctx context.Context, route string) {
	path := "/me"
	if route == routeFiles {
		path = "/files"
	}
	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	r, err := u.do(rctx, http.MethodGet, u.instance()+path, nil, nil)
	if err != nil && ctx.Err() != nil {
		return // the run ended meanwhile: not counted
	}
	switch {
	case err != nil || r.status >= 500:
		u.outcome(route, start, describe(r, err))
	case r.status == http.StatusUnauthorized:
		u.lost(route, start, describe(r, err))
	case r.status != http.StatusOK:
		u.outcome(route, start, "unexpected "+describe(r, err))
	default:
		var p page
		if err := json.Unmarshal(r.body, &p); err != nil {
			u.outcome(route, start, fmt.Sprintf("not a page: %.200s", r.body))
			return
		}
		u.outcome(route, start, "")
		if p.Sub != u.login {
			u.wrongUser(route, start, fmt.Sprintf("answered for %q", p.Sub))
		}
		if route == routeFiles {
			prefix := u.login + "/"
			if !slices.Contains(p.Keys, markerKey(u.login)) || slices.ContainsFunc(p.Keys, func(k string) bool { return !strings.HasPrefix(k, prefix) }) {
				u.wrongUser(route, start, fmt.Sprintf("listing %q", p.Keys))
			}
		}
	}
}

// lost records a signed-in request answered 401: the session is gone.
// Inside a window that is allowed and counted; outside it is a violation,
// and when this user's refreshed tokens were not stored during a window
// before, the detail says so (the session was lost in that window, and
// shows it only now).
func (u *user) lost(route string, start time.Time, detail string) {
	end := time.Now()
	u.signedIn = false
	in := u.e.windows.overlaps(start, end)
	u.e.stats.record(route, end.Sub(start), false, in)
	if in {
		u.e.stats.add(func(s *stats) { s.lostIn++ })
		return
	}
	for _, t := range u.e.logs.writeFailures(u.login) {
		if u.e.windows.overlaps(t, t) {
			detail += fmt.Sprintf("; this user's refreshed tokens were not stored at %s, in a fault window", t.Format("15:04:05.000"))
		}
	}
	u.e.stats.violate(Violation{At: start, User: u.login, Route: route, Kind: "lost session", Detail: detail})
}

// signOut posts /logout with the CSRF token on a random instance, then
// checks on another that the old session cookie is no longer served.
func (u *user) signOut(ctx context.Context) {
	base := u.instance()
	target, _ := url.Parse(base)
	var old *http.Cookie
	for _, c := range u.client.Jar.Cookies(target) {
		if c.Name == "__Host-awsauth-session" {
			old = c
		}
	}
	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	r, err := u.do(rctx, http.MethodPost, base+"/logout", url.Values{"csrf_token": {u.csrf}}, nil)
	if err != nil && ctx.Err() != nil {
		return
	}
	if err != nil || r.status != http.StatusSeeOther {
		u.outcome(routeLogout, start, describe(r, err))
		return // still signed in: the user tries again later
	}
	u.outcome(routeLogout, start, "")
	u.signedIn = false
	u.e.stats.add(func(s *stats) { s.logouts++ })
	if old == nil {
		return
	}
	r, err = u.do(rctx, http.MethodGet, u.instance()+"/me", nil, old)
	if err == nil && r.status == http.StatusOK {
		u.e.stats.violate(Violation{At: start, User: u.login, Route: routeMe, Kind: "served after logout", Detail: describe(r, err)})
	}
}
