package authflow

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/authflow/bearer"
)

// SECURITY.md C and D through the one verification core: the same hostile ID token gets the
// same verdict at the callback, after a refresh and at a bearer verifier configured for the
// same issuer's ID tokens (bearer.TokenUseID), wherever their rules are the same. (The nonce is
// the callback's and the refresh's alone, and is left out here.)
func TestSameVerdictOnEveryPath(t *testing.T) {
	const trusted = "trusted-audience"
	hour := time.Hour
	claims := func(f func(c map[string]any)) func(op *testOP, h, c map[string]any) string {
		return func(op *testOP, h, c map[string]any) string { f(c); return op.sign(h, c) }
	}
	header := func(f func(h map[string]any)) func(op *testOP, h, c map[string]any) string {
		return func(op *testOP, h, c map[string]any) string { f(h); return op.sign(h, c) }
	}
	raw := func(header, payload func(c map[string]any) string) func(op *testOP, h, c map[string]any) string {
		return func(op *testOP, h, c map[string]any) string {
			return b64([]byte(header(h))) + "." + b64([]byte(payload(c))) + "." + b64([]byte("not-a-signature-at-all"))
		}
	}
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	cases := []struct {
		name   string
		build  func(op *testOP, h, c map[string]any) string
		accept bool
	}{
		{"good", claims(func(map[string]any) {}), true},
		{"typ absent", header(func(h map[string]any) { delete(h, "typ") }), true},
		{"typ at+jwt", header(func(h map[string]any) { h["typ"] = "at+jwt" }), false},
		{"typ application/at+jwt", header(func(h map[string]any) { h["typ"] = "application/at+jwt" }), false},
		{"typ logout+jwt", header(func(h map[string]any) { h["typ"] = "logout+jwt" }), false},
		{"alg RS512 not allowed", header(func(h map[string]any) { h["alg"] = "RS512" }), false},
		{"alg none", raw(func(h map[string]any) string { h["alg"] = "none"; return js(h) }, func(c map[string]any) string { return js(c) }), false},
		{"jku header", header(func(h map[string]any) { h["jku"] = "https://evil.example/jwks" }), false},
		{"crit header", header(func(h map[string]any) { h["crit"] = []string{"exp"} }), false},
		{"unknown kid", header(func(h map[string]any) { h["kid"] = "unknown" }), false},
		{"iss wrong", claims(func(c map[string]any) { c["iss"] = "https://evil.example" }), false},
		{"iss trailing slash", claims(func(c map[string]any) { c["iss"] = c["iss"].(string) + "/" }), false},
		{"sub missing", claims(func(c map[string]any) { delete(c, "sub") }), false},
		{"sub empty", claims(func(c map[string]any) { c["sub"] = "" }), false},
		{"aud missing", claims(func(c map[string]any) { delete(c, "aud") }), false},
		{"aud wrong", claims(func(c map[string]any) { c["aud"] = "other-client" }), false},
		{"aud []", claims(func(c map[string]any) { c["aud"] = []string{} }), false},
		{"aud a number", claims(func(c map[string]any) { c["aud"] = 42 }), false},
		{"several aud without azp", claims(func(c map[string]any) { c["aud"] = []string{testClientID, trusted} }), false},
		{"several aud with azp", claims(func(c map[string]any) { c["aud"] = []string{testClientID, trusted}; c["azp"] = testClientID }), true},
		{"azp another client", claims(func(c map[string]any) { c["azp"] = "other-client" }), false},
		{"untrusted extra aud", claims(func(c map[string]any) { c["aud"] = []string{testClientID, "evil"}; c["azp"] = testClientID }), false},
		{"token_use access", claims(func(c map[string]any) { c["token_use"] = "access" }), false},
		{"token_use id", claims(func(c map[string]any) { c["token_use"] = "id" }), true},
		{"exp missing", claims(func(c map[string]any) { delete(c, "exp") }), false},
		{"exp past", claims(func(c map[string]any) { c["exp"] = time.Now().Add(-hour).Unix() }), false},
		{"exp a string", claims(func(c map[string]any) { c["exp"] = fmt.Sprint(time.Now().Add(hour).Unix()) }), false},
		{"exp years away", claims(func(c map[string]any) { c["exp"] = time.Now().Add(1000 * hour).Unix() }), false},
		{"iat missing", claims(func(c map[string]any) { delete(c, "iat") }), false},
		{"iat in the future", claims(func(c map[string]any) { c["iat"] = time.Now().Add(hour).Unix() }), false},
		{"nbf in the future", claims(func(c map[string]any) { c["nbf"] = time.Now().Add(hour).Unix() }), false},
		{"nbf within the skew", claims(func(c map[string]any) { c["nbf"] = time.Now().Add(20 * time.Second).Unix() }), true},
		{"case-folded sub", claims(func(c map[string]any) { c["SUB"] = "mallory" }), false},
		{"duplicate sub", func(op *testOP, h, c map[string]any) string {
			p := js(c)
			return op.signRaw(b64([]byte(js(h))) + "." + b64([]byte(p[:len(p)-1]+`,"sub":"mallory"}`)))
		}, false},
	}
	// The refresh adds OIDC Core §12.2 (the same sub, aud and azp as the session's ID token):
	// these tokens, good elsewhere, are refused there.
	refreshRefuses := map[string]bool{"several aud with azp": true}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			op := newTestOP(t)
			trust := func(c *Config) { c.TrustedAudiences = []string{trusted} }
			verdicts := map[string]bool{}

			// The callback.
			app := newTestApp(t, op, trust)
			op.mu.Lock()
			op.rawIDToken = func(op *testOP, c map[string]any) string { return tc.build(op, op.idHeader(), c) }
			op.mu.Unlock()
			c := app.browser()
			verdicts["callback"] = app.get(c, app.startLogin(c, "/")).StatusCode == http.StatusSeeOther

			// A refresh: a good login, then the hostile ID token from the refresh.
			op2 := newTestOP(t)
			app2 := newTestApp(t, op2, trust)
			c2 := loginExpiring(t, op2, app2)
			op2.mu.Lock()
			op2.rawIDToken = func(op *testOP, c map[string]any) string { return tc.build(op, op.idHeader(), c) }
			op2.mu.Unlock()
			status, _ := app2.me(c2)
			require.Contains(t, []int{http.StatusOK, http.StatusUnauthorized}, status)
			verdicts["refresh"] = status == http.StatusOK

			// A bearer verifier for the same issuer's ID tokens, on the login flow's key set.
			v, err := bearer.New(context.Background(), bearer.Config{Issuers: []bearer.Issuer{{
				Issuer: op.issuer(), TokenUse: bearer.TokenUseID, TokenUseOptional: true,
				ClientIDs: []string{testClientID}, TrustedAudiences: []string{trusted}, KeySet: app.h.KeySet(),
			}}, CacheSize: -1})
			require.NoError(t, err)
			op.mu.Lock()
			tok := tc.build(op, op.idHeader(), op.idClaims("alice", testClientID, "n", time.Now()))
			op.mu.Unlock()
			_, err = v.Verify(context.Background(), tok)
			verdicts["bearer"] = err == nil

			for path, ok := range verdicts {
				want := tc.accept && !(path == "refresh" && refreshRefuses[tc.name])
				require.Equal(t, want, ok, "%s: accepted=%v; logs:\n%s\n%s", path, ok, app.logs, app2.logs)
			}
		})
	}
}
