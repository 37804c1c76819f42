package authflow

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/internal/jwks"
)

// C.11-14: ID tokens at the callback that must be refused.
func TestIDTokenRejections(t *testing.T) {
	now := time.Now()
	claims := func(f func(c map[string]any)) func(*testOP) {
		return func(op *testOP) {
			op.idClaimsMod = func(c map[string]any, refresh bool) { f(c) }
		}
	}
	tests := []struct {
		name  string
		opMod func(*testOP)
		cfg   func(*Config)
	}{
		{"iss wrong", claims(func(c map[string]any) { c["iss"] = "https://evil.example" }), nil},
		{"iss with trailing slash", claims(func(c map[string]any) { c["iss"] = c["iss"].(string) + "/" }), nil},
		{"iss in another case", claims(func(c map[string]any) { c["iss"] = strings.ToUpper(c["iss"].(string)) }), nil},
		{"sub missing", claims(func(c map[string]any) { delete(c, "sub") }), nil},
		{"sub empty", claims(func(c map[string]any) { c["sub"] = "" }), nil},
		{"aud missing", claims(func(c map[string]any) { delete(c, "aud") }), nil},
		{"aud wrong", claims(func(c map[string]any) { c["aud"] = "other-client" }), nil},
		{"aud empty array", claims(func(c map[string]any) { c["aud"] = []string{} }), nil},
		{"aud not a string", claims(func(c map[string]any) { c["aud"] = 42 }), nil},
		{"several audiences without azp", claims(func(c map[string]any) { c["aud"] = []string{testClientID, "other"} }),
			func(c *Config) { c.TrustedAudiences = []string{"other"} }},
		{"azp is another client", claims(func(c map[string]any) { c["azp"] = "other" }), nil},
		{"untrusted extra audience", claims(func(c map[string]any) {
			c["aud"] = []string{testClientID, "other"}
			c["azp"] = testClientID
		}), nil},
		{"iat missing", claims(func(c map[string]any) { delete(c, "iat") }), nil},
		{"iat far in the past", claims(func(c map[string]any) { c["iat"] = now.Add(-48 * time.Hour).Unix() }), nil},
		{"iat in the future", claims(func(c map[string]any) { c["iat"] = now.Add(time.Hour).Unix() }), nil},
		{"iat a string", claims(func(c map[string]any) { c["iat"] = "1700000000" }), nil},
		{"exp missing", claims(func(c map[string]any) { delete(c, "exp") }), nil},
		{"exp past", claims(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() }), nil},
		{"exp a string", claims(func(c map[string]any) { c["exp"] = "9999999999" }), nil},
		{"exp huge", claims(func(c map[string]any) { c["exp"] = 1e300 }), nil},
		{"exp years away", claims(func(c map[string]any) { c["exp"] = now.Add(5 * 365 * 24 * time.Hour).Unix() }), nil},
		{"nbf in the future", claims(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() }), nil},
		{"nonce missing", claims(func(c map[string]any) { delete(c, "nonce") }), nil},
		{"nonce wrong", claims(func(c map[string]any) { c["nonce"] = "other" }), nil},
		{"bad signature", func(op *testOP) {
			op.idHeaderMod = func(h map[string]any) { h["typ"] = "JWT" }
			op.idClaimsMod = nil
			orig := op.key
			other, _ := rsa.GenerateKey(rand.Reader, 2048)
			op.key = other // signs with a key the JWKS doesn't have...
			op.jwksKey = &orig.PublicKey
		}, nil},
		{"alg none", func(op *testOP) { op.rawIDToken = noneToken }, nil},
		{"alg HS256 with the RSA public key", func(op *testOP) { op.rawIDToken = hs256WithPublicKey }, nil},
		{"alg not allowed (RS512 not advertised)", func(op *testOP) {
			op.idHeaderMod = func(h map[string]any) { h["alg"] = "RS512" }
		}, nil},
		// RFC 9068 §4, RFC 8725 §3.11: another kind of JWT is no ID token.
		{"typ at+jwt", func(op *testOP) { op.idHeaderMod = func(h map[string]any) { h["typ"] = "at+jwt" } }, nil},
		{"typ application/at+jwt", func(op *testOP) { op.idHeaderMod = func(h map[string]any) { h["typ"] = "application/at+jwt" } }, nil},
		{"typ logout+jwt", func(op *testOP) { op.idHeaderMod = func(h map[string]any) { h["typ"] = "logout+jwt" } }, nil},
		{"token_use access", claims(func(c map[string]any) { c["token_use"] = "access" }), nil},
		{"JWE-shaped token", func(op *testOP) {
			op.rawIDToken = func(op *testOP, c map[string]any) string { return "a.b.c.d.e" }
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := newTestOP(t)
			tt.opMod(op)
			var mods []func(*Config)
			if tt.cfg != nil {
				mods = append(mods, tt.cfg)
			}
			app := newTestApp(t, op, mods...)
			c := app.browser()
			resp := app.get(c, app.startLogin(c, "/"))
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "logs:\n%s", app.logs)
			assert.Zero(t, app.store.sets.Load(), "nothing stored")
			assert.Nil(t, app.sessionCookie(c))
		})
	}
}

func TestIDTokenAccepted(t *testing.T) {
	tests := []struct {
		name  string
		claim func(c map[string]any)
		cfg   func(*Config)
	}{
		{"several audiences with azp, extra trusted", func(c map[string]any) {
			c["aud"] = []string{testClientID, "other"}
			c["azp"] = testClientID
		}, func(c *Config) { c.TrustedAudiences = []string{"other"} }},
		{"aud as a one-element array", func(c map[string]any) { c["aud"] = []string{testClientID} }, nil},
		{"iat within the skew ahead", func(c map[string]any) { c["iat"] = time.Now().Add(20 * time.Second).Unix() }, nil},
		{"fractional times", func(c map[string]any) { c["iat"] = float64(time.Now().Unix()) + 0.5 }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := newTestOP(t)
			op.idClaimsMod = func(c map[string]any, refresh bool) { tt.claim(c) }
			var mods []func(*Config)
			if tt.cfg != nil {
				mods = append(mods, tt.cfg)
			}
			app := newTestApp(t, op, mods...)
			app.login(app.browser(), "/")
		})
	}
}

// noneToken is an unsigned token with the right claims (alg none).
func noneToken(op *testOP, c map[string]any) string {
	hb, _ := json.Marshal(map[string]any{"alg": "none", "kid": op.kid})
	cb, _ := json.Marshal(c)
	return b64(hb) + "." + b64(cb) + "."
}

// hs256WithPublicKey is the algorithm-confusion attack: an HMAC keyed with
// the provider's public key, which an unwary verifier might accept.
func hs256WithPublicKey(op *testOP, c map[string]any) string {
	der, _ := x509.MarshalPKIXPublicKey(&op.key.PublicKey)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	hb, _ := json.Marshal(map[string]any{"alg": "HS256", "kid": op.kid})
	cb, _ := json.Marshal(c)
	input := b64(hb) + "." + b64(cb)
	m := hmac.New(sha256.New, pemKey)
	m.Write([]byte(input))
	return input + "." + b64(m.Sum(nil))
}

// A provider that rotates its signing key right after someone sent a token with an unknown kid
// (burning the key set's refetch interval, which the API's bearer tokens share) must not stop
// logins: the callback's ID token came from the token endpoint, so it gets its own refetch.
func TestLoginAfterKeyRotationRightAfterAnUnknownKidProbe(t *testing.T) {
	op := newTestOP(t)
	app := newTestApp(t, op)
	app.login(app.browser(), "/") // the key set is fetched: the interval starts
	_, err := app.h.keySet.Key(context.Background(), "probe", "RS256")
	require.ErrorIs(t, err, jwks.ErrUnknownKey, "an unknown kid within the interval")

	op.rotateKey("k2")
	before := op.jwksCalls.Load()
	app.login(app.browser(), "/")
	assert.Equal(t, int64(1), op.jwksCalls.Load()-before, "exactly one refetch for the rotated key")
}

// The same rotation between a login and a refresh: the refreshed ID token is verified with one
// refetch too, and the session goes on.
func TestRefreshAfterKeyRotation(t *testing.T) {
	op := newTestOP(t)
	app := newTestApp(t, op)
	c := loginExpiring(t, op, app)
	_, err := app.h.keySet.Key(context.Background(), "probe", "RS256")
	require.ErrorIs(t, err, jwks.ErrUnknownKey)

	op.rotateKey("k2")
	before := op.jwksCalls.Load()
	status, _ := app.me(c)
	require.Equal(t, http.StatusOK, status, "logs:\n%s", app.logs)
	assert.Equal(t, int64(1), op.tokenCalls.Load()-1, "one refresh after the login's code exchange")
	assert.Equal(t, int64(1), op.jwksCalls.Load()-before)
}
