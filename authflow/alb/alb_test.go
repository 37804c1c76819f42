package alb

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/pubauth/awsauth/authflow/bearer"
	"github.com/pubauth/awsauth/internal/jwt"
)

const (
	testARN    = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"
	testIssuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"
	testClient = "5example6789abcdefghijklmn"
	testKid    = "12345678-1234-1234-1234-123456789012"
	testKeyURL = "https://public-keys.auth.elb.eu-west-1.amazonaws.com/" + testKid
)

var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

var (
	padded   = base64.URLEncoding.EncodeToString
	unpadded = base64.RawURLEncoding.EncodeToString
)

// signES256 signs header.payload with k; each part encoded by encode.
func signES256(t testing.TB, k *ecdsa.PrivateKey, header, payload map[string]any, encode func([]byte) string) string {
	t.Helper()
	hb, _ := json.Marshal(header)
	pb, _ := json.Marshal(payload)
	input := encode(hb) + "." + encode(pb)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + encode(sig)
}

// merge returns m with the changes; a nil value deletes the member.
func merge(m, changes map[string]any) map[string]any {
	out := maps.Clone(m)
	for k, v := range changes {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// albHeader and albClaims are shaped as the ELB User Guide shows x-amzn-oidc-data: the
// header carries alg, kid, signer, iss, client and exp; the payload the userinfo claims with
// iss and exp.
func albHeader() map[string]any {
	return map[string]any{"typ": "JWT", "alg": "ES256", "kid": testKid, "signer": testARN,
		"iss": testIssuer, "client": testClient, "exp": testNow.Add(2 * time.Minute).Unix()}
}

func albClaims() map[string]any {
	return map[string]any{"sub": "alice-sub", "email_verified": "true", "email": "alice@example.com",
		"username": "alice", "iss": testIssuer, "exp": testNow.Add(2 * time.Minute).Unix()}
}

func pemOf(t testing.TB, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// elb is a hostile stand-in for the key endpoint, built from the ELB User Guide: GET <base>/<kid>
// answers one PEM public key; modes make it fail. Its transport records every URL the verifier
// asks for, then sends the request to the httptest server whatever the host.
type elb struct {
	srv  *httptest.Server
	gate chan struct{}

	mu   sync.Mutex
	keys map[string][]byte // kid -> PEM
	mode string
	urls []string
}

func newELB(t testing.TB) *elb {
	e := &elb{keys: map[string][]byte{}, gate: make(chan struct{})}
	e.srv = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.srv.Close)
	t.Cleanup(func() { close(e.gate) }) // runs first: releases stalled handlers
	return e
}

func (e *elb) set(mode string) {
	e.mu.Lock()
	e.mode = mode
	e.mu.Unlock()
}

func (e *elb) requested() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.urls...)
}

func (e *elb) serve(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	mode, key := e.mode, e.keys[path.Base(r.URL.Path)]
	e.mu.Unlock()
	switch {
	case mode == "500":
		http.Error(w, "InternalError", http.StatusInternalServerError)
	case mode == "slow":
		select {
		case <-e.gate:
		case <-r.Context().Done():
		}
	case mode == "huge":
		for range 1 << 10 {
			if _, err := w.Write(make([]byte, 1<<10)); err != nil {
				return
			}
		}
	case key == nil:
		http.Error(w, "<Error><Code>AccessDenied</Code></Error>", http.StatusForbidden) // S3's answer
	default:
		w.Write(key)
	}
}

func (e *elb) RoundTrip(r *http.Request) (*http.Response, error) {
	e.mu.Lock()
	e.urls = append(e.urls, r.URL.String())
	e.mu.Unlock()
	u, _ := url.Parse(e.srv.URL)
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = u.Scheme, u.Host, ""
	return http.DefaultTransport.RoundTrip(r)
}

type fixture struct {
	key *ecdsa.PrivateKey
	elb *elb
	v   *Verifier
}

func newFixture(t testing.TB, mod func(*Config)) *fixture {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e := newELB(t)
	e.keys[testKid] = pemOf(t, k.Public())
	cfg := Config{
		LoadBalancerARN: testARN, Issuer: testIssuer, ClientID: testClient,
		HTTPClient: &http.Client{Transport: e}, FetchTimeout: 200 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return testNow },
	}
	if mod != nil {
		mod(&cfg)
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{key: k, elb: e, v: v}
}

func (f *fixture) token(t testing.TB, header, claims map[string]any) string {
	return signES256(t, f.key, merge(albHeader(), header), merge(albClaims(), claims), padded)
}

// TestVerify is SECURITY item 42 against the hostile endpoint: forged or missing signer, a key
// URL for another region, wrong alg, expired, both encodings, a kid with path characters, an
// unknown kid; nothing before the signer check reaches the endpoint.
func TestVerify(t *testing.T) {
	sec := func(d time.Duration) int64 { return testNow.Add(d).Unix() }
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		token func(f *fixture) string
		want  error    // nil: accepted
		urls  []string // the URLs asked for
	}{
		{"padded, as ALB sends", func(f *fixture) string { return f.token(t, nil, nil) }, nil, []string{testKeyURL}},
		{"unpadded", func(f *fixture) string {
			return signES256(t, f.key, albHeader(), albClaims(), unpadded)
		}, nil, []string{testKeyURL}},
		{"signer missing", func(f *fixture) string { return f.token(t, map[string]any{"signer": nil}, nil) }, jwt.ErrSigner, nil},
		{"signer of another account (ALBeast)", func(f *fixture) string {
			return f.token(t, map[string]any{"signer": strings.Replace(testARN, "123456789012", "999999999999", 1)}, nil)
		}, jwt.ErrSigner, nil},
		{"signer in another region", func(f *fixture) string {
			return f.token(t, map[string]any{"signer": strings.Replace(testARN, "eu-west-1", "us-east-1", 1)}, nil)
		}, jwt.ErrSigner, nil},
		{"signer with a suffix", func(f *fixture) string { return f.token(t, map[string]any{"signer": testARN + "x"}, nil) }, jwt.ErrSigner, nil},
		{"client of another rule", func(f *fixture) string { return f.token(t, map[string]any{"client": "other"}, nil) }, jwt.ErrSigner, nil},
		{"iss of another IdP", func(f *fixture) string {
			return f.token(t, nil, map[string]any{"iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Evil"})
		}, jwt.ErrIssuer, nil},
		{"alg ES384", func(f *fixture) string { return f.token(t, map[string]any{"alg": "ES384"}, nil) }, jwt.ErrAlgorithm, nil},
		{"alg none", func(f *fixture) string {
			tok := f.token(t, map[string]any{"alg": "none"}, nil)
			return tok[:strings.LastIndexByte(tok, '.')+1] + "AA"
		}, jwt.ErrAlgorithm, nil},
		{"alg RS256 with an RSA key", func(f *fixture) string {
			hb, _ := json.Marshal(merge(albHeader(), map[string]any{"alg": "RS256"}))
			pb, _ := json.Marshal(albClaims())
			input := padded(hb) + "." + padded(pb)
			sum := sha256.Sum256([]byte(input))
			sig, _ := rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA256, sum[:])
			return input + "." + padded(sig)
		}, jwt.ErrAlgorithm, nil},
		{"expired", func(f *fixture) string {
			return f.token(t, map[string]any{"exp": sec(-5 * time.Minute)}, map[string]any{"exp": sec(-5 * time.Minute)})
		}, ErrTokenExpired, []string{testKeyURL}},
		{"exp missing", func(f *fixture) string { return f.token(t, nil, map[string]any{"exp": nil}) }, jwt.ErrNoExpiry, []string{testKeyURL}},
		{"kid with path characters", func(f *fixture) string {
			return f.token(t, map[string]any{"kid": "../../us-east-1/" + testKid}, nil)
		}, ErrInvalidToken, nil},
		{"kid with an encoded slash", func(f *fixture) string { return f.token(t, map[string]any{"kid": "..%2f" + testKid}, nil) }, ErrInvalidToken, nil},
		{"kid with a query", func(f *fixture) string { return f.token(t, map[string]any{"kid": testKid + "?x=1"}, nil) }, ErrInvalidToken, nil},
		{"kid absent", func(f *fixture) string { return f.token(t, map[string]any{"kid": nil}, nil) }, ErrInvalidToken, nil},
		{"unknown kid", func(f *fixture) string {
			return f.token(t, map[string]any{"kid": "00000000-0000-0000-0000-000000000000"}, nil)
		}, jwt.ErrSignature, []string{"https://public-keys.auth.elb.eu-west-1.amazonaws.com/00000000-0000-0000-0000-000000000000"}},
		{"signed by another key", func(f *fixture) string {
			other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			return signES256(t, other, albHeader(), albClaims(), padded)
		}, jwt.ErrSignature, []string{testKeyURL}},
		{"padding stripped after signing", func(f *fixture) string {
			return strings.ReplaceAll(f.token(t, nil, nil), "=", "")
		}, jwt.ErrSignature, []string{testKeyURL}},
		{"bad padding", func(f *fixture) string {
			tok := f.token(t, nil, nil)
			return strings.Replace(tok, ".", "=.", 1)
		}, jwt.ErrMalformed, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			c, err := f.v.Verify(t.Context(), tc.token(f))
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if err != nil && (!errors.Is(err, ErrInvalidToken) || StatusOf(err) != http.StatusUnauthorized) {
				t.Fatalf("%v: not a 401", err)
			}
			if got := f.elb.requested(); strings.Join(got, " ") != strings.Join(tc.urls, " ") {
				t.Fatalf("URLs asked for: %q, want %q", got, tc.urls)
			}
			if err == nil && (c.Subject != "alice-sub" || c.Username != "alice" || c.Issuer != testIssuer || !c.Expiry.Equal(testNow.Add(2*time.Minute))) {
				t.Fatalf("claims %+v", c)
			}
		})
	}
}

// TestKeyEndpointFaults: the endpoint failing, slow or sending too much is 503, never a pass;
// the key, once fetched, is not fetched again.
func TestKeyEndpointFaults(t *testing.T) {
	for _, mode := range []string{"500", "slow", "huge"} {
		t.Run(mode, func(t *testing.T) {
			f := newFixture(t, nil)
			f.elb.set(mode)
			_, err := f.v.Verify(t.Context(), f.token(t, nil, nil))
			if !errors.Is(err, ErrKeyUnavailable) || StatusOf(err) != http.StatusServiceUnavailable {
				t.Fatalf("got %v", err)
			}
		})
	}
	t.Run("cached", func(t *testing.T) {
		f := newFixture(t, nil)
		for range 3 {
			if _, err := f.v.Verify(t.Context(), f.token(t, nil, nil)); err != nil {
				t.Fatal(err)
			}
		}
		f.elb.set("500")
		if _, err := f.v.Verify(t.Context(), f.token(t, nil, nil)); err != nil {
			t.Fatal(err)
		}
		if n := f.v.KeyFetches(); n != 1 {
			t.Fatalf("fetches %d", n)
		}
	})
	t.Run("made-up kids", func(t *testing.T) {
		f := newFixture(t, nil)
		for i := range 20 {
			kid := strings.Repeat("0", 8) + "-" + strings.Repeat(string(rune('a'+i)), 4)
			if _, err := f.v.Verify(t.Context(), f.token(t, map[string]any{"kid": kid}, nil)); StatusOf(err) != http.StatusUnauthorized {
				t.Fatalf("got %v", err)
			}
		}
		if n := f.v.KeyFetches(); n != 1 {
			t.Fatalf("fetches %d for 20 made-up kids in one interval", n)
		}
	})
}

// TestKeyEndpoint: the three documented forms, and an ARN whose region is not its partition's
// refused, so no token and no configuration can send the fetch to another host.
func TestKeyEndpoint(t *testing.T) {
	for arn, want := range map[string]string{
		testARN: "https://public-keys.auth.elb.eu-west-1.amazonaws.com/",
		"arn:aws-cn:elasticloadbalancing:cn-north-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188":            "https://public-keys.auth.elb.cn-north-1.amazonaws.com.cn/",
		"arn:aws-us-gov:elasticloadbalancing:us-gov-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188":     "https://s3-us-gov-west-1.amazonaws.com/aws-elb-public-keys-prod-us-gov-west-1/",
		"arn:aws-us-gov:elasticloadbalancing:us-gov-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188":     "https://s3-us-gov-east-1.amazonaws.com/aws-elb-public-keys-prod-us-gov-east-1/",
		"arn:aws:elasticloadbalancing:us-gov-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188":            "",
		"arn:aws:elasticloadbalancing:cn-north-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188":               "",
		"arn:aws-cn:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188":             "",
		"arn:aws-us-gov:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188":         "",
		"arn:aws-iso:elasticloadbalancing:us-iso-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188":        "",
		"arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/web/50dc6c495c0c9188":                "",
		"arn:aws:elasticloadbalancing:eu-west-1.evil.example/x:123456789012:loadbalancer/app/web/50dc6c495c0c9188": "",
		"arn:aws:elasticloadbalancing:eu-west-1:12345678901:loadbalancer/app/web/50dc6c495c0c9188":                 "",
		"": "",
	} {
		got, err := KeyEndpoint(arn)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("%q: %q %v", arn, got, err)
		}
	}
	t.Run("GovCloud fetches from its S3 endpoint only", func(t *testing.T) {
		gov := "arn:aws-us-gov:elasticloadbalancing:us-gov-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"
		f := newFixture(t, func(c *Config) { c.LoadBalancerARN = gov })
		if _, err := f.v.Verify(t.Context(), f.token(t, map[string]any{"signer": gov}, nil)); err != nil {
			t.Fatal(err)
		}
		want := "https://s3-us-gov-west-1.amazonaws.com/aws-elb-public-keys-prod-us-gov-west-1/" + testKid
		if got := f.elb.requested(); len(got) != 1 || got[0] != want {
			t.Fatalf("asked for %q", got)
		}
	})
}

func TestNewConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no ARN":        {Issuer: testIssuer},
		"bad ARN":       {LoadBalancerARN: "arn:aws:s3:::bucket", Issuer: testIssuer},
		"no issuer":     {LoadBalancerARN: testARN},
		"http issuer":   {LoadBalancerARN: testARN, Issuer: "http://idp.example"},
		"skew too long": {LoadBalancerARN: testARN, Issuer: testIssuer, ClockSkew: time.Hour},
		"negative size": {LoadBalancerARN: testARN, Issuer: testIssuer, MaxTokenBytes: -1},
	} {
		if _, err := New(cfg); err == nil || !strings.HasPrefix(err.Error(), "alb: ") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// accessVerifier is a bearer verifier of ES256 access tokens signed by k, offline.
func accessVerifier(t testing.TB, k *ecdsa.PrivateKey) *bearer.Verifier {
	t.Helper()
	jwk, err := jose.JSONWebKey{Key: k.Public(), KeyID: "at", Algorithm: "ES256", Use: "sig"}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(map[string]any{"keys": []json.RawMessage{jwk}})
	iss := bearer.Issuer{Issuer: testIssuer, ClientIDs: []string{testClient}, JWKS: doc, Algorithms: []string{"ES256"}}
	v, err := bearer.New(t.Context(), bearer.Config{Issuers: []bearer.Issuer{iss}, Now: func() time.Time { return testNow },
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRequire: the middleware's answers, the claims in the context, and the access token
// handed to bearer when the route wants scopes.
func TestRequire(t *testing.T) {
	atKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	access := func(changes map[string]any) string {
		claims := merge(map[string]any{"iss": testIssuer, "sub": "alice-sub", "client_id": testClient,
			"token_use": "access", "scope": "openid orders/read", "iat": testNow.Unix(),
			"exp": testNow.Add(time.Hour).Unix()}, changes)
		return signES256(t, atKey, map[string]any{"alg": "ES256", "kid": "at"}, claims, unpadded)
	}
	var seen *Claims
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = ClaimsFrom(r.Context()) })

	plain := newFixture(t, nil)
	withAT := newFixture(t, func(c *Config) { c.AccessToken = accessVerifier(t, atKey) })
	good := func(f *fixture) string { return f.token(t, nil, nil) }
	cases := []struct {
		name    string
		f       *fixture
		headers func(f *fixture) http.Header
		reqs    []bearer.Requirement
		status  int
	}{
		{"good", plain, func(f *fixture) http.Header { return http.Header{HeaderData: {good(f)}} }, nil, 200},
		{"no header", plain, func(*fixture) http.Header { return http.Header{} }, nil, 401},
		{"two headers", plain, func(f *fixture) http.Header { return http.Header{HeaderData: {good(f), good(f)}} }, nil, 401},
		{"identity header alone", plain, func(*fixture) http.Header { return http.Header{HeaderIdentity: {"alice-sub"}} }, nil, 401},
		{"requirements without AccessToken", plain, func(f *fixture) http.Header { return http.Header{HeaderData: {good(f)}} },
			[]bearer.Requirement{bearer.Scopes("orders/read")}, 500},
		{"scope granted", withAT, func(f *fixture) http.Header {
			return http.Header{HeaderData: {good(f)}, HeaderAccessToken: {access(nil)}}
		}, []bearer.Requirement{bearer.Scopes("orders/read")}, 200},
		{"scope missing", withAT, func(f *fixture) http.Header {
			return http.Header{HeaderData: {good(f)}, HeaderAccessToken: {access(map[string]any{"scope": "openid"})}}
		}, []bearer.Requirement{bearer.Scopes("orders/read")}, 403},
		{"access token of another user", withAT, func(f *fixture) http.Header {
			return http.Header{HeaderData: {good(f)}, HeaderAccessToken: {access(map[string]any{"sub": "mallory"})}}
		}, nil, 401},
		{"access token missing", withAT, func(f *fixture) http.Header { return http.Header{HeaderData: {good(f)}} }, nil, 401},
		{"access token forged", withAT, func(f *fixture) http.Header {
			tok := access(nil)
			return http.Header{HeaderData: {good(f)}, HeaderAccessToken: {tok[:len(tok)-4] + "AAAA"}}
		}, nil, 401},
		{"unknown kid", plain, func(f *fixture) http.Header {
			return http.Header{HeaderData: {f.token(t, map[string]any{"kid": "abcdef"}, nil)}}
		}, nil, 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seen = nil
			r := httptest.NewRequest(http.MethodGet, "/app/", nil)
			r.Header = tc.headers(tc.f)
			w := httptest.NewRecorder()
			tc.f.v.Require(app, tc.reqs...).ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if (seen != nil) != (tc.status == 200) {
				t.Fatalf("handler reached: %v", seen != nil)
			}
			if tc.status != 200 {
				if w.Header().Get("Cache-Control") != "no-store" || strings.Contains(w.Body.String(), "eyJ") {
					t.Fatalf("response %v %s", w.Header(), w.Body)
				}
				return
			}
			if seen.Subject != "alice-sub" || (tc.f == withAT) != (seen.AccessToken != nil) {
				t.Fatalf("claims %+v", seen)
			}
			var more struct {
				Email         string `json:"email"`
				EmailVerified string `json:"email_verified"`
			}
			if err := seen.Decode(&more); err != nil || more.Email != "alice@example.com" || more.EmailVerified != "true" {
				t.Fatalf("decode %+v %v", more, err)
			}
		})
	}
}
