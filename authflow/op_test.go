package authflow

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pubauth/awsauth/pkce"
)

// testOP is a hostile OpenID provider the tests program: it serves
// discovery, JWKS, authorize, token, revoke and end-session, signs good
// tokens by default, and lets each test bend any part of its answers.
type testOP struct {
	t   testing.TB
	url string // the issuer: the server's URL, the same across down and up
	mux *http.ServeMux
	srv *httptest.Server // the running server; replaced by up
	key *rsa.PrivateKey
	kid string

	mu       sync.Mutex
	codes    map[string]*grant // authorization code → grant
	refresh  map[string]*grant // refresh token → grant
	revoked  []string
	hints    []string // token_type_hint of each revocation request
	lastAuth url.Values

	tokenCalls     atomic.Int64
	revokeCalls    atomic.Int64
	jwksCalls      atomic.Int64
	discoveryCalls atomic.Int64

	// Knobs; set before use or under mu.
	issParam     bool                                              // advertise and send RFC 9207 iss
	sendIss      string                                            // override iss sent on the authorization response ("-" = omit)
	accessTTL    time.Duration                                     // access token lifetime
	rotate       bool                                              // rotate refresh tokens
	discoveryMod func(map[string]any)                              // edit discovery
	idClaimsMod  func(c map[string]any, refresh bool)              // edit ID token claims
	idHeaderMod  func(h map[string]any)                            // edit ID token header
	tokenHook    func(w http.ResponseWriter, r *http.Request) bool // answer /token itself when it returns true
	rawIDToken   func(op *testOP, claims map[string]any) string    // build the ID token itself
	jwksKey      *rsa.PublicKey                                    // key served in the JWKS; nil = op.key's
	now          func() time.Time
}

type grant struct {
	sub, nonce, challenge, redirectURI, clientID string
	used                                         bool
}

func newTestOP(t testing.TB) *testOP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	op := &testOP{
		t: t, key: key, kid: "k1",
		codes: map[string]*grant{}, refresh: map[string]*grant{},
		issParam: true, accessTTL: time.Hour, rotate: true, now: time.Now,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", op.discovery)
	mux.HandleFunc("GET /jwks", op.jwks)
	mux.HandleFunc("GET /authorize", op.authorize)
	mux.HandleFunc("POST /token", op.token)
	mux.HandleFunc("POST /revoke", op.revoke)
	// A Cognito user pool domain's paths.
	mux.HandleFunc("GET /oauth2/authorize", op.authorize)
	mux.HandleFunc("POST /oauth2/token", op.token)
	mux.HandleFunc("POST /oauth2/revoke", op.revoke)
	op.mux = mux
	op.srv = httptest.NewServer(mux)
	op.url = op.srv.URL
	t.Cleanup(op.srv.Close)
	return op
}

func (op *testOP) issuer() string { return op.url }

// down stops the provider: its address refuses connections until up.
func (op *testOP) down() { op.srv.Close() }

// up starts the provider again at the same address.
func (op *testOP) up() {
	op.t.Helper()
	u, _ := url.Parse(op.url)
	ln, err := net.Listen("tcp", u.Host)
	if err != nil {
		op.t.Fatal(err)
	}
	op.srv = httptest.NewUnstartedServer(op.mux)
	op.srv.Listener.Close()
	op.srv.Listener = ln
	op.srv.Start()
	op.t.Cleanup(op.srv.Close)
}

func (op *testOP) discovery(w http.ResponseWriter, r *http.Request) {
	op.discoveryCalls.Add(1)
	d := map[string]any{
		"issuer":                                         op.issuer(),
		"authorization_endpoint":                         op.issuer() + "/authorize",
		"token_endpoint":                                 op.issuer() + "/token",
		"jwks_uri":                                       op.issuer() + "/jwks",
		"revocation_endpoint":                            op.issuer() + "/revoke",
		"end_session_endpoint":                           op.issuer() + "/session/end",
		"id_token_signing_alg_values_supported":          []string{"RS256"},
		"code_challenge_methods_supported":               []string{"S256"},
		"response_types_supported":                       []string{"code"},
		"subject_types_supported":                        []string{"public"},
		"authorization_response_iss_parameter_supported": op.issParam,
	}
	if op.discoveryMod != nil {
		op.discoveryMod(d)
	}
	writeJSON(w, d)
}

func (op *testOP) jwks(w http.ResponseWriter, r *http.Request) {
	op.jwksCalls.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.Write(op.jwksDoc())
}

// jwksDoc is the JWKS document the provider serves now.
func (op *testOP) jwksDoc() []byte {
	op.mu.Lock()
	pub, kid := op.key.PublicKey, op.kid
	if op.jwksKey != nil {
		pub = *op.jwksKey
	}
	op.mu.Unlock()
	b, err := json.Marshal(map[string]any{"keys": []any{map[string]any{
		"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes()),
	}}})
	if err != nil {
		op.t.Fatal(err)
	}
	return b
}

// rotateKey replaces the signing key and its kid, as a provider rotating its keys does: the
// JWKS serves only the new key from now on.
func (op *testOP) rotateKey(kid string) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		op.t.Fatal(err)
	}
	op.mu.Lock()
	op.key, op.kid = key, kid
	op.mu.Unlock()
}

// authorize issues a code at once for user "alice" (or login_hint) and
// redirects back, as a provider does after its login form.
func (op *testOP) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sub := q.Get("login_hint")
	if sub == "" {
		sub = "alice"
	}
	code := randomToken()
	op.mu.Lock()
	op.lastAuth = q
	op.codes[code] = &grant{
		sub: sub, nonce: q.Get("nonce"), challenge: q.Get("code_challenge"),
		redirectURI: q.Get("redirect_uri"), clientID: q.Get("client_id"),
	}
	op.mu.Unlock()
	back := url.Values{"code": {code}, "state": {q.Get("state")}}
	switch {
	case op.sendIss == "-":
	case op.sendIss != "":
		back.Set("iss", op.sendIss)
	case op.issParam:
		back.Set("iss", op.issuer())
	}
	http.Redirect(w, r, q.Get("redirect_uri")+"?"+back.Encode(), http.StatusFound)
}

func (op *testOP) token(w http.ResponseWriter, r *http.Request) {
	op.tokenCalls.Add(1)
	if op.tokenHook != nil && op.tokenHook(w, r) {
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, "invalid_request")
		return
	}
	op.mu.Lock()
	defer op.mu.Unlock()
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		g := op.codes[r.PostForm.Get("code")]
		switch {
		case g == nil, g.used:
			if g != nil {
				// RFC 6749 §4.1.2: a reused code revokes what it issued.
				for rt, rg := range op.refresh {
					if rg == g {
						delete(op.refresh, rt)
					}
				}
			}
			oauthError(w, "invalid_grant")
			return
		case r.PostForm.Get("redirect_uri") != g.redirectURI:
			oauthError(w, "invalid_grant")
			return
		case pkce.Challenge(r.PostForm.Get("code_verifier")) != g.challenge:
			oauthError(w, "invalid_grant")
			return
		}
		g.used = true
		writeJSON(w, op.issue(g, false))
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		g := op.refresh[rt]
		if g == nil {
			oauthError(w, "invalid_grant")
			return
		}
		if op.rotate {
			delete(op.refresh, rt)
		}
		resp := op.issue(g, true)
		if !op.rotate {
			delete(resp, "refresh_token")
		}
		writeJSON(w, resp)
	default:
		oauthError(w, "unsupported_grant_type")
	}
}

// issue mints tokens for g; the caller holds op.mu.
func (op *testOP) issue(g *grant, refresh bool) map[string]any {
	rt := randomToken()
	op.refresh[rt] = g
	return map[string]any{
		"access_token":  "at-" + randomToken(),
		"token_type":    "Bearer",
		"expires_in":    int(op.accessTTL.Seconds()),
		"refresh_token": rt,
		"id_token":      op.idToken(g, refresh),
	}
}

func (op *testOP) idToken(g *grant, refresh bool) string {
	nonce := g.nonce
	if refresh && g.nonce == "" {
		nonce = "-"
	}
	c := op.idClaims(g.sub, g.clientID, nonce, op.now())
	if op.idClaimsMod != nil {
		op.idClaimsMod(c, refresh)
	}
	if op.rawIDToken != nil {
		return op.rawIDToken(op, c)
	}
	h := op.idHeader()
	if op.idHeaderMod != nil {
		op.idHeaderMod(h)
	}
	return op.sign(h, c)
}

// idClaims are the claims of a good ID token ("-" for nonce: none); idHeader is its header.
// The caller holds op.mu.
func (op *testOP) idClaims(sub, clientID, nonce string, now time.Time) map[string]any {
	c := map[string]any{
		"iss": op.issuer(), "sub": sub, "aud": clientID,
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(),
		"email": sub + "@example.com", "name": sub, "jti": randomToken(),
	}
	if nonce != "-" {
		c["nonce"] = nonce
	}
	return c
}

func (op *testOP) idHeader() map[string]any {
	return map[string]any{"alg": "RS256", "kid": op.kid, "typ": "JWT"}
}

// sign makes a compact JWS with RS256 over whatever header and claims given.
func (op *testOP) sign(h, c map[string]any) string {
	hb, _ := json.Marshal(h)
	cb, _ := json.Marshal(c)
	return op.signRaw(b64(hb) + "." + b64(cb))
}

// signRaw signs input (base64url header "." base64url payload) with RS256.
func (op *testOP) signRaw(input string) string {
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, op.key, crypto.SHA256, sum[:])
	if err != nil {
		op.t.Fatal(err)
	}
	return input + "." + b64(sig)
}

func (op *testOP) revoke(w http.ResponseWriter, r *http.Request) {
	op.revokeCalls.Add(1)
	r.ParseForm()
	op.mu.Lock()
	tok := r.PostForm.Get("token")
	op.revoked = append(op.revoked, tok)
	op.hints = append(op.hints, r.PostForm.Get("token_type_hint"))
	delete(op.refresh, tok)
	op.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// expireRefreshTokens forgets every refresh token, as a provider does when
// they expire or are revoked.
func (op *testOP) expireRefreshTokens() {
	op.mu.Lock()
	clear(op.refresh)
	op.mu.Unlock()
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func oauthError(w http.ResponseWriter, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, `{"error":%q}`, code)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
