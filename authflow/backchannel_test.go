package authflow

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/internal/jwt"
	"github.com/pubauth/awsauth/tokenstore"
)

// cluster is several instances of one app (Handlers with the same config)
// sharing one store, as behind a load balancer, on one test provider whose
// ID tokens carry the sub and sid the test chooses for each login.
type cluster struct {
	t     *testing.T
	op    *testOP
	store *countingStore
	apps  []*testApp

	mu    sync.Mutex
	ended map[int][]string // OnSessionEnd's handles, by instance

	// The next login's sub and sid, read under op.mu.
	sub, sid string
}

func newCluster(t *testing.T, instances int) *cluster {
	op := newTestOP(t)
	c := &cluster{t: t, op: op, store: newCountingStore(), ended: map[int][]string{}}
	op.idClaimsMod = func(claims map[string]any, refresh bool) {
		claims["sub"], claims["sid"] = c.sub, c.sid
		if c.sid == "" {
			delete(claims, "sid")
		}
	}
	for i := range instances {
		c.apps = append(c.apps, newTestApp(t, op, func(cfg *Config) {
			cfg.Store = c.store
			cfg.OnSessionEnd = func(handle string) {
				c.mu.Lock()
				c.ended[i] = append(c.ended[i], handle)
				c.mu.Unlock()
			}
		}))
	}
	return c
}

// login signs sub in on instance i, with the provider session sid, in a new
// browser, and returns the browser and its session handle.
func (c *cluster) login(i int, sub, sid string) (*http.Client, string) {
	c.t.Helper()
	c.op.mu.Lock()
	c.sub, c.sid = sub, sid
	c.op.mu.Unlock()
	app := c.apps[i]
	b := app.browser()
	app.login(b, "/")
	return b, sessionHandle(app.sessionCookie(b).Value)
}

// signedIn reports whether browser b (signed in on instance i) still has a
// session, asking instance i.
func (c *cluster) signedIn(i int, b *http.Client) bool {
	c.t.Helper()
	status, _ := c.apps[i].me(b)
	return status == http.StatusOK
}

func (c *cluster) endedOn(i int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.ended[i])
}

// logoutClaims are a good logout token's claims for the test provider.
func (c *cluster) logoutClaims(sub, sid string) map[string]any {
	now := time.Now()
	claims := map[string]any{
		"iss": c.op.issuer(), "aud": testClientID, "jti": randomToken(),
		"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
		"events": map[string]any{jwt.EventBackChannelLogout: map[string]any{}},
	}
	if sub != "" {
		claims["sub"] = sub
	}
	if sid != "" {
		claims["sid"] = sid
	}
	return claims
}

func (c *cluster) logoutHeader() map[string]any {
	return map[string]any{"alg": "RS256", "kid": c.op.kid, "typ": "logout+jwt"}
}

// post sends form to instance i's back-channel logout endpoint.
func (c *cluster) post(i int, form url.Values) (*http.Response, map[string]string) {
	c.t.Helper()
	resp, err := http.PostForm(c.apps[i].srv.URL+"/backchannel", form)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	var body map[string]string
	json.NewDecoder(resp.Body).Decode(&body)
	return resp, body
}

func (c *cluster) backchannel(i int, token string) (*http.Response, map[string]string) {
	c.t.Helper()
	return c.post(i, url.Values{"logout_token": {token}})
}

// TestBackChannelLogoutRefusals: SECURITY.md item 38. Every hostile logout
// token is refused with 400, Cache-Control: no-store and a logged reason, and
// no session is touched (nothing written or deleted, the session still
// works).
func TestBackChannelLogoutRefusals(t *testing.T) {
	c := newCluster(t, 2)
	browser, _ := c.login(0, "alice", "s1")
	good := func() map[string]any { return c.logoutClaims("alice", "s1") }
	stranger, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	sec := func(d time.Duration) int64 { return time.Now().Add(d).Unix() }

	cases := []struct {
		name   string
		header map[string]any
		claims map[string]any
		sign   func(string) string // nil: the provider's key
		reason string              // in the log line
	}{
		{"wrong iss", nil, with(good(), "iss", c.op.issuer()+"/other"), nil, "issuer"},
		{"wrong aud", nil, with(good(), "aud", "another-client"), nil, "aud"},
		{"iat in the future", nil, with(good(), "iat", sec(3*time.Minute)), nil, "iat"},
		{"iat before the skew", nil, with(with(good(), "iat", sec(-3*time.Minute)), "exp", sec(time.Hour)), nil, "iat"},
		{"expired", nil, with(with(good(), "iat", sec(-30*time.Second)), "exp", sec(-2*time.Minute)), nil, "expired"},
		{"nonce present", nil, with(good(), "nonce", "n"), nil, "nonce"},
		{"events missing", nil, with(good(), "events", nil), nil, "event"},
		{"events without the back-channel member", nil, with(good(), "events", map[string]any{"urn:x": map[string]any{}}), nil, "event"},
		{"neither sid nor sub", nil, with(with(good(), "sid", nil), "sub", nil), nil, "sub"},
		{"jti missing", nil, with(good(), "jti", nil), nil, "jti"},
		{"typ at+jwt", map[string]any{"typ": "at+jwt"}, good(), nil, "typ"},
		{"bad signature", nil, good(), func(input string) string {
			sum := sha256.Sum256([]byte(input))
			sig, _ := rsa.SignPKCS1v15(rand.Reader, stranger, crypto.SHA256, sum[:])
			return input + "." + b64(sig)
		}, "signature"},
	}
	sets, deletes := c.store.sets.Load(), c.store.deletes.Load()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := c.logoutHeader()
			for k, v := range tc.header {
				h[k] = v
			}
			var tok string
			if tc.sign != nil {
				hb, _ := json.Marshal(h)
				cb, _ := json.Marshal(tc.claims)
				tok = tc.sign(b64(hb) + "." + b64(cb))
			} else {
				tok = c.op.sign(h, tc.claims)
			}
			resp, body := c.backchannel(1, tok)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
			assert.Equal(t, "invalid_request", body["error"])
			logs := c.apps[1].logs.String()
			assert.Contains(t, logs, "back-channel logout refused")
			assert.Contains(t, logs, tc.reason)
			assert.NotContains(t, logs, tok[strings.LastIndexByte(tok, '.'):], "the token is never logged")
			assert.True(t, c.signedIn(0, browser), "no session touched")
		})
	}
	assert.Equal(t, sets, c.store.sets.Load(), "nothing written")
	assert.Equal(t, deletes, c.store.deletes.Load(), "nothing deleted")
	assert.Empty(t, c.endedOn(0))
	assert.Empty(t, c.endedOn(1))

	t.Run("malformed requests", func(t *testing.T) {
		for name, form := range map[string]url.Values{
			"no logout_token":   {},
			"two logout_tokens": {"logout_token": {c.op.sign(c.logoutHeader(), good()), c.op.sign(c.logoutHeader(), good())}},
			"not a JWT":         {"logout_token": {"x.y.z"}},
		} {
			resp, body := c.post(1, form)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, name)
			assert.Equal(t, "invalid_request", body["error"], name)
		}
		resp, err := http.Get(c.apps[1].srv.URL + "/backchannel")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
		assert.True(t, c.signedIn(0, browser), "no session touched")
	})

	t.Run("replayed jti", func(t *testing.T) {
		// A good token naming no live session is accepted once, on any instance.
		tok := c.op.sign(c.logoutHeader(), c.logoutClaims("alice", "another-op-session"))
		resp, _ := c.backchannel(0, tok)
		require.Equal(t, http.StatusOK, resp.StatusCode, c.apps[0].logs.String())
		for i := range c.apps {
			resp, body := c.backchannel(i, tok)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Equal(t, "invalid_request", body["error"])
			assert.Contains(t, c.apps[i].logs.String(), "jti replayed")
		}
		assert.True(t, c.signedIn(0, browser), "no session touched")
		assert.Empty(t, c.endedOn(0))
		assert.Empty(t, c.endedOn(1))
	})
}

// TestBackChannelLogoutEndsNamedSessions: SECURITY.md item 39. A logout
// token ends exactly the sessions it names, whichever instance created them
// and whichever receives it, and OnSessionEnd runs once for each.
func TestBackChannelLogoutEndsNamedSessions(t *testing.T) {
	c := newCluster(t, 2)
	a1, h1 := c.login(0, "alice", "s1") // alice, browser 1, on instance 0
	a2, h2 := c.login(1, "alice", "s2") // alice, browser 2, on instance 1
	bob, _ := c.login(0, "bob", "s3")

	// sid and sub: alice's provider session s1 only, received by instance 1.
	resp, _ := c.backchannel(1, c.op.sign(c.logoutHeader(), c.logoutClaims("alice", "s1")))
	require.Equal(t, http.StatusOK, resp.StatusCode, c.apps[1].logs.String())
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assert.False(t, c.signedIn(0, a1), "the named session ended")
	assert.True(t, c.signedIn(1, a2), "alice's other session lives")
	assert.True(t, c.signedIn(0, bob), "bob's session lives")
	assert.Equal(t, []string{h1}, c.endedOn(1), "OnSessionEnd on the instance that ended it")
	assert.Empty(t, c.endedOn(0))

	// A sid of another user's session ends nothing.
	resp, _ = c.backchannel(0, c.op.sign(c.logoutHeader(), c.logoutClaims("bob", "s2")))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, c.signedIn(1, a2))

	// sid alone.
	resp, _ = c.backchannel(0, c.op.sign(c.logoutHeader(), c.logoutClaims("", "s2")))
	require.Equal(t, http.StatusOK, resp.StatusCode, c.apps[0].logs.String())
	assert.False(t, c.signedIn(1, a2))
	assert.True(t, c.signedIn(0, bob))
	assert.Equal(t, []string{h2}, c.endedOn(0))

	// sub alone: every session of the user.
	b1, hb1 := c.login(1, "bob", "s4")
	resp, _ = c.backchannel(1, c.op.sign(c.logoutHeader(), c.logoutClaims("bob", "")))
	require.Equal(t, http.StatusOK, resp.StatusCode, c.apps[1].logs.String())
	assert.False(t, c.signedIn(0, bob))
	assert.False(t, c.signedIn(1, b1))
	ended := c.endedOn(1)
	assert.Len(t, ended, 3)
	assert.Contains(t, ended, hb1)
	assert.Contains(t, c.apps[1].logs.String(), "reason=back_channel")

	infos, err := c.apps[0].h.Sessions(context.Background(), "bob")
	require.NoError(t, err)
	assert.Empty(t, infos, "ended sessions leave the index")
}

// TestEndUserSessions: SECURITY.md item 40. Two logins of one user at the
// same moment on two instances are both indexed; "sign out everywhere" on
// either instance ends both; the index is bounded.
func TestEndUserSessions(t *testing.T) {
	c := newCluster(t, 2)
	c.op.mu.Lock()
	c.sub, c.sid = "alice", ""
	c.op.mu.Unlock()
	browsers := make([]*http.Client, 2)
	var wg sync.WaitGroup
	for i := range browsers {
		browsers[i] = c.apps[i].browser()
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := c.apps[i].get(browsers[i], c.apps[i].startLogin(browsers[i], "/"), "User-Agent",
				"Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0")
			assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
		}()
	}
	wg.Wait()
	bob, _ := c.login(0, "bob", "")

	ctx := context.Background()
	infos, err := c.apps[1].h.Sessions(ctx, "alice")
	require.NoError(t, err)
	require.Len(t, infos, 2, "both concurrent logins indexed")
	for _, in := range infos {
		assert.Equal(t, "Firefox on Linux", in.Device)
		assert.False(t, in.Created.IsZero())
		assert.True(t, in.Expiry.After(in.Created))
		assert.Len(t, in.Handle, 43)
	}

	n, err := c.apps[0].h.EndUserSessions(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	for i, b := range browsers {
		assert.False(t, c.signedIn(i, b), "browser %d signed out", i)
	}
	assert.ElementsMatch(t, []string{infos[0].Handle, infos[1].Handle}, c.endedOn(0))
	assert.True(t, c.signedIn(0, bob), "another user's session lives")
	infos, err = c.apps[0].h.Sessions(ctx, "alice")
	require.NoError(t, err)
	assert.Empty(t, infos)

	t.Run("bounded", func(t *testing.T) {
		for range MaxSessionsPerUser + 2 {
			c.login(1, "carol", "")
		}
		infos, err := c.apps[0].h.Sessions(ctx, "carol")
		require.NoError(t, err)
		assert.Len(t, infos, MaxSessionsPerUser)
		assert.Contains(t, c.apps[1].logs.String(), "reason=evicted")
	})
}

// TestEndSession: a user ends one of their own sessions by handle; the
// handle of another user's session is refused and ends nothing.
func TestEndSession(t *testing.T) {
	c := newCluster(t, 2)
	a1, h1 := c.login(0, "alice", "")
	a2, _ := c.login(1, "alice", "")
	bob, hb := c.login(0, "bob", "")
	ctx := context.Background()

	assert.ErrorIs(t, c.apps[1].h.EndSession(ctx, "alice", hb), ErrSessionEnded)
	assert.ErrorIs(t, c.apps[1].h.EndSession(ctx, "alice", "not-a-handle"), ErrSessionEnded)
	assert.True(t, c.signedIn(0, bob))

	require.NoError(t, c.apps[1].h.EndSession(ctx, "alice", h1))
	assert.False(t, c.signedIn(0, a1))
	assert.True(t, c.signedIn(1, a2))
	assert.Equal(t, []string{h1}, c.endedOn(1))
	assert.ErrorIs(t, c.apps[1].h.EndSession(ctx, "alice", h1), ErrSessionEnded, "already ended")

	// Logout leaves the index too.
	infos, err := c.apps[0].h.Sessions(ctx, "bob")
	require.NoError(t, err)
	require.Len(t, infos, 1)
	resp := c.apps[0].postLogout(bob, url.Values{"csrf_token": {c.apps[0].csrf(bob)}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	infos, err = c.apps[0].h.Sessions(ctx, "bob")
	require.NoError(t, err)
	assert.Empty(t, infos)
}

// plainStore is a Store and nothing more: no Indexer, no Locker.
type plainStore struct{ tokenstore.Store }

// TestNoIndex: a store without Indexer still signs users in; the calls that
// need the index say so.
func TestNoIndex(t *testing.T) {
	op := newTestOP(t)
	app := newTestApp(t, op, func(c *Config) { c.Store = plainStore{newCountingStore()} })
	b := app.browser()
	app.login(b, "/")
	ctx := context.Background()
	_, err := app.h.EndUserSessions(ctx, "alice")
	assert.ErrorIs(t, err, ErrNoIndex)
	_, err = app.h.Sessions(ctx, "alice")
	assert.ErrorIs(t, err, ErrNoIndex)
	assert.ErrorIs(t, app.h.EndSession(ctx, "alice", "x"), ErrNoIndex)
	resp, err := http.PostForm(app.srv.URL+"/backchannel", url.Values{"logout_token": {"x.y.z"}})
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, app.logs.String(), "keeps no index")
	status, _ := app.me(b)
	assert.Equal(t, http.StatusOK, status)
}

// with returns a copy of m with name set to v (deleted when v is nil).
func with(m map[string]any, name string, v any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, x := range m {
		out[k] = x
	}
	if v == nil {
		delete(out, name)
	} else {
		out[name] = v
	}
	return out
}
