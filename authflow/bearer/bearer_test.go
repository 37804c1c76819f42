package bearer

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pubauth/awsauth/internal/jwks"
)

const testClient = "app-client-1"

func newTestBearer(t testing.TB, op *bearerOP, clock *testClock, mod func(*Config)) *Verifier {
	t.Helper()
	cfg := Config{
		Issuers: []Issuer{{Issuer: op.iss(), ClientIDs: []string{testClient}, JWKSURL: op.jwksURL()}},
		Now:     clock.Now,
		Logger:  slog.New(slog.DiscardHandler),
	}
	if mod != nil {
		mod(&cfg)
	}
	b, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantVerifyErr(t *testing.T, err error, want error, tok string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted, want %v", want)
	}
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	if tok != "" && len(tok) > 20 && strings.Contains(err.Error(), tok[len(tok)-20:]) {
		t.Fatalf("error quotes the token: %v", err)
	}
}

// TestBearerAcceptsCognitoTokens: the good shapes pass, with their claims.
func TestBearerAcceptsCognitoTokens(t *testing.T) {
	op := newBearerOP(t)
	clock := newTestClock()
	b := newTestBearer(t, op, clock, nil)
	c, err := b.Verify(t.Context(), op.mint("k1", op.claims(clock.Now(), testClient)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "alice-sub" || c.ClientID != testClient || c.TokenUse != "access" || c.Username != "alice" ||
		!c.HasScope("orders/read") || !c.InGroup("admin") || c.Issuer != op.iss() || c.Audience != nil {
		t.Fatalf("claims = %+v", c)
	}
	if !c.Expiry.Equal(clock.Now().Add(time.Hour)) {
		t.Errorf("Expiry = %v", c.Expiry)
	}
	var extra struct {
		AuthTime int64 `json:"auth_time"`
	}
	if err := c.Decode(&extra); err != nil || extra.AuthTime != clock.Now().Unix() {
		t.Errorf("Decode: %+v %v", extra, err)
	}

	idb := newTestBearer(t, op, clock, func(c *Config) { c.Issuers[0].TokenUse = TokenUseID })
	c, err = idb.Verify(t.Context(), op.mint("k1", op.idClaims(clock.Now(), testClient)))
	if err != nil {
		t.Fatal(err)
	}
	if c.TokenUse != "id" || c.Username != "alice" || len(c.Audience) != 1 || c.Audience[0] != testClient {
		t.Fatalf("ID claims = %+v", c)
	}
}

// TestBearerAudiences: Audiences are required audiences of access tokens;
// TrustedAudiences are the extra audiences an ID token may carry besides its
// client, never required. One meaning per field.
func TestBearerAudiences(t *testing.T) {
	op := newBearerOP(t)
	clock := newTestClock()
	now := clock.Now()
	const api, partner = "https://api.example.com", "partner-client"
	access := newTestBearer(t, op, clock, func(c *Config) { c.Issuers[0].Audiences = []string{api} })
	id := newTestBearer(t, op, clock, func(c *Config) {
		c.Issuers[0].TokenUse, c.Issuers[0].TrustedAudiences = TokenUseID, []string{partner}
	})
	at := func(aud any) string {
		c := op.claims(now, testClient)
		if aud != nil {
			c["aud"] = aud
		}
		return op.mint("k1", c)
	}
	it := func(aud any, azp string) string {
		c := op.idClaims(now, testClient)
		c["aud"] = aud
		if azp != "" {
			c["azp"] = azp
		}
		return op.mint("k1", c)
	}
	for _, tc := range []struct {
		name string
		v    *Verifier
		tok  string
		ok   bool
	}{
		{"access with the API's aud", access, at([]string{"https://other.example.com", api}), true},
		{"access without aud", access, at(nil), false},
		{"access with another aud", access, at("https://other.example.com"), false},
		{"ID for the client alone", id, it(testClient, ""), true},
		{"ID for the client and a trusted audience", id, it([]string{testClient, partner}, testClient), true},
		{"ID for the trusted audience alone", id, it(partner, ""), false},
		{"ID with an untrusted audience", id, it([]string{testClient, "evil"}, testClient), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.v.Verify(t.Context(), tc.tok)
			if tc.ok && err != nil {
				t.Fatal(err)
			}
			if !tc.ok {
				wantVerifyErr(t, err, ErrInvalidToken, tc.tok)
			}
		})
	}
}

// TestBearerRejections is SECURITY.md C (11, 12, 14, 17 for bearer tokens) and D 19.
func TestBearerRejections(t *testing.T) {
	op := newBearerOP(t)
	clock := newTestClock()
	now := clock.Now()
	access := newTestBearer(t, op, clock, nil)
	id := newTestBearer(t, op, clock, func(c *Config) { c.Issuers[0].TokenUse = TokenUseID })
	withAud := newTestBearer(t, op, clock, func(c *Config) { c.Issuers[0].Audiences = []string{"https://api.example.com"} })
	good := func(mod func(map[string]any)) string {
		c := op.claims(now, testClient)
		mod(c)
		return op.mint("k1", c)
	}
	goodID := func(mod func(map[string]any)) string {
		c := op.idClaims(now, testClient)
		mod(c)
		return op.mint("k1", c)
	}
	hdr := func(h map[string]any) string { return op.mintHeader("k1", h, op.claims(now, testClient)) }
	valid := good(func(map[string]any) {})
	parts := strings.Split(valid, ".")

	for _, tc := range []struct {
		name string
		b    *Verifier
		tok  string
		want error
	}{
		// 19: token use, client, issuer.
		{"ID token as access token", access, op.mint("k1", op.idClaims(now, testClient)), ErrInvalidToken},
		{"access token as ID token", id, valid, ErrInvalidToken},
		{"token_use missing", access, good(func(c map[string]any) { delete(c, "token_use") }), ErrInvalidToken},
		{"token_use other", access, good(func(c map[string]any) { c["token_use"] = "refresh" }), ErrInvalidToken},
		{"another app client", access, good(func(c map[string]any) { c["client_id"] = "other-client" }), ErrInvalidToken},
		{"client_id missing", access, good(func(c map[string]any) { delete(c, "client_id") }), ErrInvalidToken},
		{"client_id not a string", access, good(func(c map[string]any) { c["client_id"] = []string{testClient} }), ErrInvalidToken},
		{"another pool", access, good(func(c map[string]any) { c["iss"] = Cognito(CognitoPool{ID: "eu-west-1_Other"}).Issuer }), ErrInvalidToken},
		{"another region", access, good(func(c map[string]any) { c["iss"] = strings.Replace(op.iss(), "127.0.0.1", "127.0.0.2", 1) }), ErrInvalidToken},
		{"iss trailing slash", access, good(func(c map[string]any) { c["iss"] = op.iss() + "/" }), ErrInvalidToken},
		{"iss case", access, good(func(c map[string]any) { c["iss"] = strings.ToUpper(op.iss()) }), ErrInvalidToken},
		{"iss lookalike prefix", access, good(func(c map[string]any) { c["iss"] = op.iss() + ".evil.example" }), ErrInvalidToken},
		{"iss missing", access, good(func(c map[string]any) { delete(c, "iss") }), ErrInvalidToken},
		{"sub missing", access, good(func(c map[string]any) { delete(c, "sub") }), ErrInvalidToken},
		{"sub empty", access, good(func(c map[string]any) { c["sub"] = "" }), ErrInvalidToken},
		// 11: audiences.
		{"aud missing where required", withAud, valid, ErrInvalidToken},
		{"aud wrong", withAud, good(func(c map[string]any) { c["aud"] = "https://other.example.com" }), ErrInvalidToken},
		{"aud []", withAud, good(func(c map[string]any) { c["aud"] = []string{} }), ErrInvalidToken},
		{"aud non-string", withAud, good(func(c map[string]any) { c["aud"] = 42 }), ErrInvalidToken},
		{"aud array of non-strings", withAud, good(func(c map[string]any) { c["aud"] = []any{1} }), ErrInvalidToken},
		{"ID aud missing", id, goodID(func(c map[string]any) { delete(c, "aud") }), ErrInvalidToken},
		{"ID aud other client", id, goodID(func(c map[string]any) { c["aud"] = "other-client" }), ErrInvalidToken},
		{"ID several aud without azp", id, goodID(func(c map[string]any) { c["aud"] = []string{testClient, testClient} }), ErrInvalidToken},
		{"ID azp other client", id, goodID(func(c map[string]any) { c["azp"] = "other-client" }), ErrInvalidToken},
		{"ID untrusted extra aud", id, goodID(func(c map[string]any) {
			c["aud"], c["azp"] = []string{testClient, "evil"}, testClient
		}), ErrInvalidToken},
		// 12: times.
		{"exp missing", access, good(func(c map[string]any) { delete(c, "exp") }), ErrInvalidToken},
		{"exp past", access, good(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() }), ErrTokenExpired},
		{"exp just past the skew", access, good(func(c map[string]any) { c["exp"] = now.Add(-DefaultClockSkew - time.Second).Unix() }), ErrTokenExpired},
		{"exp string", access, good(func(c map[string]any) { c["exp"] = "4102444800" }), ErrInvalidToken},
		{"exp huge", access, good(func(c map[string]any) { c["exp"] = 1e300 }), ErrInvalidToken},
		{"exp years away", access, good(func(c map[string]any) { c["exp"] = now.Add(10 * 365 * 24 * time.Hour).Unix() }), ErrInvalidToken},
		{"exp negative", access, good(func(c map[string]any) { c["exp"] = -1 }), ErrInvalidToken},
		{"iat missing", access, good(func(c map[string]any) { delete(c, "iat") }), ErrInvalidToken},
		{"iat in the future", access, good(func(c map[string]any) { c["iat"] = now.Add(time.Hour).Unix() }), ErrInvalidToken},
		{"iat far in the past", access, good(func(c map[string]any) { c["iat"] = now.Add(-48 * time.Hour).Unix() }), ErrInvalidToken},
		{"iat string", access, good(func(c map[string]any) { c["iat"] = "now" }), ErrInvalidToken},
		{"nbf in the future", access, good(func(c map[string]any) { c["nbf"] = now.Add(DefaultClockSkew + time.Second).Unix() }), ErrInvalidToken},
		{"nbf string", access, good(func(c map[string]any) { c["nbf"] = "0" }), ErrInvalidToken},
		// Strict JSON: what encoding/json would read differently.
		{"duplicate claim", access, op.rawPayload("k1", `{"iss":"`+op.iss()+`","sub":"a","client_id":"`+testClient+
			`","client_id":"other","token_use":"access","iat":`+itoa(now.Unix())+`,"exp":`+itoa(now.Unix()+60)+`}`), ErrInvalidToken},
		{"case-folded claim", access, op.rawPayload("k1", `{"iss":"`+op.iss()+`","sub":"a","client_id":"`+testClient+
			`","Scope":"admin","token_use":"access","iat":`+itoa(now.Unix())+`,"exp":`+itoa(now.Unix()+60)+`}`), ErrInvalidToken},
		// encoding/json (Claims.Decode) folds names by Unicode rules: "ſub"
		// (U+017F) and "K" (Kelvin) match sub and k as "SUB" would.
		{"Unicode-folded claim (long s)", access, op.rawPayload("k1", `{"iss":"`+op.iss()+`","sub":"a","client_id":"`+testClient+
			`","ſub":"admin","token_use":"access","iat":`+itoa(now.Unix())+`,"exp":`+itoa(now.Unix()+60)+`}`), ErrInvalidToken},
		{"Unicode-folded claim (scope)", access, op.rawPayload("k1", `{"iss":"`+op.iss()+`","sub":"a","client_id":"`+testClient+
			`","scope":"openid","ſcope":"orders/write","token_use":"access","iat":`+itoa(now.Unix())+`,"exp":`+itoa(now.Unix()+60)+`}`), ErrInvalidToken},
		{"payload not an object", access, op.rawPayload("k1", `["iss"]`), ErrInvalidToken},
		{"payload trailing data", access, op.rawPayload("k1", `{"sub":"a"} {}`), ErrInvalidToken},
		{"payload invalid UTF-8", access, op.rawPayload("k1", "{\"sub\":\"\xff\"}"), ErrInvalidToken},
		// 14: signatures and algorithms.
		{"bad RS256 signature", access, parts[0] + "." + parts[1] + "." + b64(make([]byte, 256)), ErrInvalidToken},
		{"tampered signature", access, tamper(valid), ErrInvalidToken},
		{"tampered claim", access, tamperClaims(valid, func(c map[string]any) { c["scope"] = "orders/write" }), ErrInvalidToken},
		{"signed by an unpublished key", access, func() string {
			op.addKey("hidden")
			t := op.mint("hidden", op.claims(now, testClient))
			op.removeKey("hidden")
			return strings.Replace(t, b64([]byte(`{"alg":"RS256","kid":"hidden"}`)), b64([]byte(`{"alg":"RS256","kid":"k1"}`)), 1)
		}(), ErrInvalidToken},
		{"HS256 with the RSA public key", access, op.hs256("k1", op.claims(now, testClient)), ErrInvalidToken},
		{"alg none", access, b64([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".", ErrInvalidToken},
		{"alg None with a signature", access, b64([]byte(`{"alg":"None","kid":"k1"}`)) + "." + parts[1] + "." + parts[2], ErrInvalidToken},
		{"alg not allowed (ES256)", access, op.es256("ec1", op.claims(now, testClient)), ErrInvalidToken},
		{"alg missing", access, hdr(map[string]any{"kid": "k1"}), ErrInvalidToken},
		// 17: serializations and header members.
		{"JWE (five parts)", access, parts[0] + ".a.b.c." + parts[2], ErrInvalidToken},
		{"JSON serialization", access, `{"payload":"` + parts[1] + `","signatures":[]}`, ErrInvalidToken},
		{"crit", access, hdr(map[string]any{"alg": "RS256", "kid": "k1", "crit": []string{"exp"}, "exp": 1}), ErrInvalidToken},
		{"embedded jwk", access, hdr(map[string]any{"alg": "RS256", "kid": "k1", "jwk": rsaJWK(&op.key("k1").PublicKey, "k1")}), ErrInvalidToken},
		{"jku", access, hdr(map[string]any{"alg": "RS256", "kid": "k1", "jku": op.jwksURL()}), ErrInvalidToken},
		{"x5u", access, hdr(map[string]any{"alg": "RS256", "kid": "k1", "x5u": "https://evil.example/cert"}), ErrInvalidToken},
		{"1 MB token", access, strings.Repeat("a", 1<<20), ErrInvalidToken},
		{"100,000 dots", access, strings.Repeat(".", 100000), ErrInvalidToken},
		{"empty", access, "", ErrInvalidToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.b.Verify(t.Context(), tc.tok)
			if c != nil {
				t.Fatalf("claims returned with error %v", err)
			}
			wantVerifyErr(t, err, tc.want, tc.tok)
			// The next good request works.
			if _, err := access.Verify(t.Context(), valid); err != nil {
				t.Fatalf("good token after a rejection: %v", err)
			}
		})
	}
	if n := op.fetches.Load(); n != 3 {
		t.Errorf("JWKS fetched %d times by the rejections; want 3 (the first use of each of the 3 key sets)", n)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestBearerHostileTokensCostNothing: SECURITY 17, a 1 MB token or 100,000
// dots is refused before decoding, without allocating.
func TestBearerHostileTokensCostNothing(t *testing.T) {
	op := newBearerOP(t)
	b := newTestBearer(t, op, newTestClock(), nil)
	ctx := context.Background()
	big := http.Header{"Authorization": {"Bearer " + strings.Repeat("a", 1<<20)}}
	two := http.Header{"Authorization": {"Bearer a", "Bearer b"}}
	for name, tok := range map[string]string{
		"1 MB":        strings.Repeat("a", 1<<20),
		"dots":        strings.Repeat(".", 100000),
		"big header":  "",
		"two headers": "",
	} {
		allocs := testing.AllocsPerRun(20, func() {
			switch name {
			case "big header":
				TokenFromHeader(big, 0)
			case "two headers":
				TokenFromHeader(two, 0)
			default:
				b.Verify(ctx, tok)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations", name, allocs)
		}
	}
	if n := op.fetches.Load(); n != 0 {
		t.Errorf("hostile tokens caused %d JWKS fetches", n)
	}
}

// TestBearerClockSkew: exp, nbf and iat get ClockSkew of leeway, no more.
func TestBearerClockSkew(t *testing.T) {
	op := newBearerOP(t)
	clock := newTestClock()
	now := clock.Now()
	b := newTestBearer(t, op, clock, func(c *Config) { c.ClockSkew = 10 * time.Second; c.CacheSize = -1 })
	for _, tc := range []struct {
		name string
		mod  func(map[string]any)
		ok   bool
	}{
		{"exp 5s ago", func(c map[string]any) { c["exp"] = now.Add(-5 * time.Second).Unix() }, true},
		{"exp 11s ago", func(c map[string]any) { c["exp"] = now.Add(-11 * time.Second).Unix() }, false},
		{"nbf in 5s", func(c map[string]any) { c["nbf"] = now.Add(5 * time.Second).Unix() }, true},
		{"nbf in 11s", func(c map[string]any) { c["nbf"] = now.Add(11 * time.Second).Unix() }, false},
		{"iat in 5s", func(c map[string]any) { c["iat"] = now.Add(5 * time.Second).Unix() }, true},
		{"iat in 11s", func(c map[string]any) { c["iat"] = now.Add(11 * time.Second).Unix() }, false},
		{"fractional exp", func(c map[string]any) { c["exp"] = float64(now.Unix()) + 60.5 }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := op.claims(now, testClient)
			tc.mod(c)
			_, err := b.Verify(t.Context(), op.mint("k1", c))
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// TestBearerKeySelection is SECURITY 15 and 16 for bearer tokens.
func TestBearerKeySelection(t *testing.T) {
	t.Run("kid absent with one key", func(t *testing.T) {
		op := newBearerOP(t)
		clock := newTestClock()
		b := newTestBearer(t, op, clock, nil)
		tok := op.mintHeader("k1", map[string]any{"alg": "RS256"}, op.claims(clock.Now(), testClient))
		if _, err := b.Verify(t.Context(), tok); err != nil {
			t.Fatalf("documented policy (internal/jwks): the one usable key verifies; got %v", err)
		}
	})
	t.Run("kid absent with several keys", func(t *testing.T) {
		op := newBearerOP(t)
		op.addKey("k2")
		clock := newTestClock()
		b := newTestBearer(t, op, clock, nil)
		tok := op.mintHeader("k1", map[string]any{"alg": "RS256"}, op.claims(clock.Now(), testClient))
		_, err := b.Verify(t.Context(), tok)
		wantVerifyErr(t, err, jwks.ErrAmbiguousKey, tok)
	})
	t.Run("key rotated just before signing", func(t *testing.T) {
		op := newBearerOP(t)
		clock := newTestClock()
		b := newTestBearer(t, op, clock, nil)
		if _, err := b.Verify(t.Context(), op.mint("k1", op.claims(clock.Now(), testClient))); err != nil {
			t.Fatal(err)
		}
		op.addKey("k2")
		op.removeKey("k1")
		clock.Add(11 * time.Second) // past the refetch interval since the first fetch
		before := op.fetches.Load()
		if _, err := b.Verify(t.Context(), op.mint("k2", op.claims(clock.Now(), testClient))); err != nil {
			t.Fatalf("token under the new key: %v", err)
		}
		if n := op.fetches.Load() - before; n != 1 {
			t.Errorf("%d refetches, want exactly 1", n)
		}
		// Rotated again later (between logins): the interval has passed.
		clock.Add(11 * time.Second)
		op.addKey("k3")
		if _, err := b.Verify(t.Context(), op.mint("k3", op.claims(clock.Now(), testClient))); err != nil {
			t.Fatalf("token under a key rotated in later: %v", err)
		}
	})
	t.Run("bad signature under a known kid never refetches", func(t *testing.T) {
		op := newBearerOP(t)
		clock := newTestClock()
		b := newTestBearer(t, op, clock, nil)
		good := op.mint("k1", op.claims(clock.Now(), testClient))
		if _, err := b.Verify(t.Context(), good); err != nil {
			t.Fatal(err)
		}
		clock.Add(time.Minute) // the interval would allow a fetch
		before := op.fetches.Load()
		_, err := b.Verify(t.Context(), tamper(good))
		wantVerifyErr(t, err, jwks.ErrInvalidSignature, "")
		if n := op.fetches.Load() - before; n != 0 {
			t.Errorf("%d refetches for a bad signature", n)
		}
	})
	t.Run("unknown kty and unparseable keys are ignored", func(t *testing.T) {
		op := newBearerOP(t)
		op.extra = []map[string]any{
			{"kty": "OKP-PQ", "kid": "pq", "x": "AAAA"},
			{"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
		}
		clock := newTestClock()
		b := newTestBearer(t, op, clock, nil)
		if _, err := b.Verify(t.Context(), op.mint("k1", op.claims(clock.Now(), testClient))); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("key with use=enc or a mismatched alg is not used", func(t *testing.T) {
		for name, mod := range map[string]func(map[string]any){
			"use enc":   func(k map[string]any) { k["use"] = "enc" },
			"alg PS256": func(k map[string]any) { k["alg"] = "PS256" },
		} {
			t.Run(name, func(t *testing.T) {
				op := newBearerOP(t)
				k := op.addKey("k2")
				jk := rsaJWK(&k.PublicKey, "k2")
				mod(jk)
				clock := newTestClock()
				b := newTestBearer(t, op, clock, func(c *Config) {
					c.Issuers[0].JWKSURL = ""
					c.Issuers[0].JWKS = []byte(`{"keys":[` + string(mustMarshal(t, rsaJWK(&op.key("k1").PublicKey, "k1"))) + `,` + string(mustMarshal(t, jk)) + `]}`)
				})
				_, err := b.Verify(t.Context(), op.mint("k2", op.claims(clock.Now(), testClient)))
				wantVerifyErr(t, err, ErrInvalidToken, "")
			})
		}
	})
}

// TestBearerUnknownKidFlood is SECURITY 20: 10,000 tokens with random kids
// cost one JWKS fetch per interval, and the known key keeps working.
func TestBearerUnknownKidFlood(t *testing.T) {
	op := newBearerOP(t)
	clock := newTestClock()
	b := newTestBearer(t, op, clock, nil)
	good := op.mint("k1", op.claims(clock.Now(), testClient))
	if _, err := b.Verify(t.Context(), good); err != nil {
		t.Fatal(err)
	}
	// The signature is never checked for an unknown kid: one signed token's
	// payload and signature serve under 10,000 headers.
	signed := op.mint("k1", op.claims(clock.Now(), testClient))
	rest := signed[strings.IndexByte(signed, '.'):]
	for i := range 10000 {
		if i == 5000 {
			clock.Add(11 * time.Second) // one more interval
		}
		tok := b64([]byte(`{"alg":"RS256","kid":"`+randomToken()+`"}`)) + rest
		if _, err := b.Verify(t.Context(), tok); !errors.Is(err, jwks.ErrUnknownKey) {
			t.Fatalf("random kid: %v", err)
		}
	}
	if n := op.fetches.Load(); n != 2 {
		t.Errorf("JWKS fetches = %d, want 2 (first use, then one for the second interval)", n)
	}
	if _, err := b.Verify(t.Context(), good); err != nil {
		t.Fatal(err)
	}
}

// TestBearerKeySetFaults is SECURITY 20: a JWKS endpoint that fails, stalls
// or answers 10 MB is bounded and the cached keys keep working.
func TestBearerKeySetFaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(op *bearerOP)
	}{
		{"500", func(op *bearerOP) { op.status = http.StatusInternalServerError }},
		{"10 MB", func(op *bearerOP) { op.body = []byte(`{"keys":[` + strings.Repeat(" ", 10<<20) + `]}`) }},
		{"stall", func(op *bearerOP) { op.stall = make(chan struct{}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := newBearerOP(t)
			clock := newTestClock()
			client := &http.Client{Timeout: 500 * time.Millisecond}
			b := newTestBearer(t, op, clock, func(c *Config) { c.HTTPClient = client })
			good := op.mint("k1", op.claims(clock.Now(), testClient))
			if _, err := b.Verify(t.Context(), good); err != nil {
				t.Fatal(err)
			}
			op.mu.Lock()
			tc.break_(op)
			op.mu.Unlock()
			t.Cleanup(func() {
				if op.stall != nil {
					close(op.stall)
				}
			})
			clock.Add(time.Minute)
			op.addKey("k2")
			_, err := b.Verify(t.Context(), op.mint("k2", op.claims(clock.Now(), testClient)))
			wantVerifyErr(t, err, ErrKeySetUnavailable, "")
			if s, _ := statusOf(err); s != http.StatusServiceUnavailable {
				t.Errorf("status %d, want 503", s)
			}
			// Cached keys still verify (a new token: not from the token cache).
			fresh := op.mint("k1", op.claims(clock.Now(), testClient))
			if _, err := b.Verify(t.Context(), fresh); err != nil {
				t.Fatalf("cached key after a failed fetch: %v", err)
			}
		})
	}
}

// TestBearerDiscovery: the jwks_uri comes from discovery, whose issuer must
// be the configured one; Cognito issuers need none.
func TestBearerDiscovery(t *testing.T) {
	op := newBearerOP(t)
	clock := newTestClock()
	b := newTestBearer(t, op, clock, func(c *Config) { c.Issuers[0].JWKSURL = "" })
	if _, err := b.Verify(t.Context(), op.mint("k1", op.claims(clock.Now(), testClient))); err != nil {
		t.Fatal(err)
	}
	op.issuer = op.iss() + "/"
	_, err := New(t.Context(), Config{Issuers: []Issuer{{Issuer: op.iss(), ClientIDs: []string{testClient}}}})
	if err == nil || !strings.Contains(err.Error(), "discovery") {
		t.Fatalf("issuer mismatch accepted: %v", err)
	}

	// A Cognito issuer builds without any request (its jwks_uri is known).
	cb, err := New(t.Context(), Config{
		Issuers: []Issuer{
			Cognito(CognitoPool{ID: "eu-west-1_AbC123"}, testClient),
			Cognito(CognitoPool{ID: "eu-west-1_AbC123", IssuerType: "UPDATED"}, testClient),
		},
		HTTPClient: &http.Client{Transport: failTransport{t}},
	})
	if err != nil || len(cb.issuers) != 2 {
		t.Fatalf("Cognito issuer: %v", err)
	}
}

// TestCognitoIssuer: Cognito makes an access-token issuer of the pool, with
// the pool's own jwks.json; ID tokens are asked for by setting TokenUse.
func TestCognitoIssuer(t *testing.T) {
	iss := Cognito(CognitoPool{ID: "eu-west-1_AbC123"}, "c1", "c2")
	if iss.Issuer != "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123" || iss.TokenUse != TokenUseAccess ||
		strings.Join(iss.ClientIDs, ",") != "c1,c2" {
		t.Fatalf("Cognito() = %+v", iss)
	}
	id := Cognito(CognitoPool{ID: "eu-west-1_DeF456"}, "c1") // ID tokens of another pool
	id.TokenUse = TokenUseID
	v, err := New(t.Context(), Config{Issuers: []Issuer{iss, id}, HTTPClient: &http.Client{Transport: failTransport{t}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(v.issuers) != 2 || v.issuers[1].Issuer() != id.Issuer {
		t.Fatalf("ID-token issuer: %+v", v.issuers[1])
	}
	// A malformed pool is refused at New, before any request: the key set
	// URL is built from it.
	for _, bad := range []Issuer{
		Cognito(CognitoPool{ID: "eu-west-1_AbC123", Region: "eu-west-1.evil.example/x"}, "c1"),
		Cognito(CognitoPool{ID: "eu-west-1_Ab/../x"}, "c1"),
		Cognito(CognitoPool{ID: "eu-west-1_AbC123", IssuerType: "UPDATED", Region: "us-east-1"}, "c1"),
		Cognito(CognitoPool{ID: "eu-west-1_AbC123", IssuerType: "updated"}, "c1"),
		Cognito(CognitoPool{}, "c1"),
	} {
		if _, err := New(t.Context(), Config{Issuers: []Issuer{bad}, HTTPClient: &http.Client{Transport: failTransport{t}}}); err == nil {
			t.Errorf("New accepted %q", bad.Issuer)
		}
	}
}

type failTransport struct{ t *testing.T }

func (f failTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.t.Errorf("unexpected request to %s", r.URL.Host)
	return nil, errors.New("no network")
}

// TestBearerConfigValidation: New refuses what can't be right.
func TestBearerConfigValidation(t *testing.T) {
	jwksDoc := newBearerOP(t).jwksDoc()
	one := func(iss Issuer) Config { return Config{Issuers: []Issuer{iss}} }
	ks, err := jwks.New(jwks.Config{URL: "https://idp.example.com/jwks"})
	if err != nil {
		t.Fatal(err)
	}
	ok := Issuer{Issuer: "https://idp.example.com", ClientIDs: []string{"c"}, JWKS: jwksDoc}
	with := func(mod func(*Issuer)) Config { i := ok; mod(&i); return one(i) }
	for name, cfg := range map[string]Config{
		"no issuer":                    {},
		"empty issuer":                 one(Issuer{ClientIDs: []string{"c"}, JWKS: jwksDoc}),
		"http issuer":                  with(func(i *Issuer) { i.Issuer = "http://idp.example.com" }),
		"no client or aud":             with(func(i *Issuer) { i.ClientIDs = nil }),
		"ID without client":            with(func(i *Issuer) { i.TokenUse, i.ClientIDs, i.TrustedAudiences = TokenUseID, nil, []string{"a"} }),
		"ID with Audiences":            with(func(i *Issuer) { i.TokenUse, i.Audiences = TokenUseID, []string{"a"} }),
		"access with TrustedAudiences": with(func(i *Issuer) { i.TrustedAudiences = []string{"a"} }),
		"empty audience":               with(func(i *Issuer) { i.Audiences = []string{""} }),
		"bad token use":                with(func(i *Issuer) { i.TokenUse = "refresh" }),
		"HS256":                        with(func(i *Issuer) { i.Algorithms = []string{"HS256"} }),
		"none":                         with(func(i *Issuer) { i.Algorithms = []string{"none"} }),
		"KeySet and JWKS":              with(func(i *Issuer) { i.KeySet = ks }),
		"KeySet and JWKSURL":           with(func(i *Issuer) { i.JWKS, i.KeySet, i.JWKSURL = nil, ks, "https://idp.example.com/jwks" }),
		"bad Cognito shape":            with(func(i *Issuer) { i.Issuer = "https://cognito-idp.eu-west-1.amazonaws.com/x" }),
		"huge skew":                    {Issuers: []Issuer{ok}, ClockSkew: time.Hour},
		"realm quote":                  {Issuers: []Issuer{ok}, Realm: `a"b`},
		"empty JWKS":                   with(func(i *Issuer) { i.JWKS = []byte(`{"keys":[]}`) }),
		"twice":                        {Issuers: []Issuer{ok, ok}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := New(t.Context(), cfg); err == nil || !strings.HasPrefix(err.Error(), "bearer: ") {
				t.Fatalf("accepted or unprefixed: %v", err)
			}
		})
	}
}

// TestBearerSeveralIssuers: each issuer has its own rules and key set.
func TestBearerSeveralIssuers(t *testing.T) {
	op1, op2 := newBearerOP(t), newBearerOP(t)
	clock := newTestClock()
	b := newTestBearer(t, op1, clock, func(c *Config) {
		c.Issuers = append(c.Issuers, Issuer{Issuer: op2.iss(), ClientIDs: []string{"client-2"}, JWKSURL: op2.jwksURL()})
	})
	now := clock.Now()
	if _, err := b.Verify(t.Context(), op1.mint("k1", op1.claims(now, testClient))); err != nil {
		t.Fatal(err)
	}
	c, err := b.Verify(t.Context(), op2.mint("k1", op2.claims(now, "client-2")))
	if err != nil || c.Issuer != op2.iss() {
		t.Fatalf("second issuer: %v", err)
	}
	// A client of one issuer is not a client of the other.
	_, err = b.Verify(t.Context(), op2.mint("k1", op2.claims(now, testClient)))
	wantVerifyErr(t, err, ErrInvalidToken, "")
	// op2's key (same kid) does not sign for op1's issuer.
	forged := op1.claims(now, testClient)
	_, err = b.Verify(t.Context(), op2.mint("k1", forged))
	wantVerifyErr(t, err, jwks.ErrInvalidSignature, "")
}

// TestBearerOfflineKeySet: primed from bytes, no URL, no fetch ever.
func TestBearerOfflineKeySet(t *testing.T) {
	op := newBearerOP(t)
	clock := newTestClock()
	b := newTestBearer(t, op, clock, func(c *Config) { c.Issuers[0].JWKSURL, c.Issuers[0].JWKS = "", op.jwksDoc() })
	if _, err := b.Verify(t.Context(), op.mint("k1", op.claims(clock.Now(), testClient))); err != nil {
		t.Fatal(err)
	}
	op.addKey("k2")
	_, err := b.Verify(t.Context(), op.mint("k2", op.claims(clock.Now(), testClient)))
	wantVerifyErr(t, err, jwks.ErrUnknownKey, "")
	if n := op.fetches.Load(); n != 0 {
		t.Errorf("offline key set fetched %d times", n)
	}
}

// TestBearerCache: a repeated token skips the signature (it verifies after
// its key is gone from a primed-only set), never past exp, whole-token
// comparison, bounded size. (Requirements run on every request, cached or
// not: TestBearerCustomRequirement.)
func TestBearerCache(t *testing.T) {
	op := newBearerOP(t)
	clock := newTestClock()
	b := newTestBearer(t, op, clock, func(c *Config) { c.CacheSize = 8 })
	claims := op.claims(clock.Now(), testClient)
	claims["exp"] = clock.Now().Add(time.Minute).Unix()
	tok := op.mint("k1", claims)
	c1, err := b.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	// The key is replaced at the issuer and the interval passes: only the cache can accept now.
	op.removeKey("k1")
	op.addKey("k9")
	clock.Add(20 * time.Second)
	if _, err := b.Verify(t.Context(), op.mint("k9", op.claims(clock.Now(), testClient))); err != nil {
		t.Fatal(err) // this refetch replaced the key set: k1 is gone from it
	}
	c2, err := b.Verify(t.Context(), tok)
	if err != nil || c2 != c1 {
		t.Fatalf("repeated token not served from the cache: %v", err)
	}
	if _, err := b.Verify(t.Context(), tamper(tok)); err == nil {
		t.Fatal("a token differing from a cached one was accepted")
	}
	clock.Add(39 * time.Second) // 1 s before exp
	if c, err := b.Verify(t.Context(), tok); err != nil || c != c1 {
		t.Fatalf("1 s before exp: %v", err)
	}
	clock.Add(time.Second) // at exp (within the skew): only a fresh verification could accept, and k1 is gone
	if _, err := b.Verify(t.Context(), tok); !errors.Is(err, jwks.ErrUnknownKey) {
		t.Fatalf("at exp: %v, want a fresh verification failing on the retired key", err)
	}

	for range 50 {
		if _, err := b.Verify(t.Context(), op.mint("k9", op.claims(clock.Now(), testClient))); err != nil {
			t.Fatal(err)
		}
	}
	if n := b.cache.len(); n > 8 {
		t.Errorf("cache holds %d entries, bound 8", n)
	}
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBearerGenericOIDC: an RFC 9068 access token of a generic provider
// (no token_use, aud = the API) passes with TokenUseOptional and Audiences;
// that provider's ID token (aud = the client) does not, nor does a
// token_use that is present and wrong.
func TestBearerGenericOIDC(t *testing.T) {
	op := newBearerOP(t)
	clock := newTestClock()
	now := clock.Now()
	const api = "https://api.example.com"
	b := newTestBearer(t, op, clock, func(c *Config) {
		c.Issuers[0].TokenUseOptional, c.Issuers[0].Audiences, c.Issuers[0].ClientIDs = true, []string{api}, nil
	})
	at := op.claims(now, testClient)
	delete(at, "token_use")
	at["aud"] = []string{api, "https://other.example.com"}
	c, err := b.Verify(t.Context(), op.mint("k1", at))
	if err != nil || c.TokenUse != "" || len(c.Audience) != 2 {
		t.Fatalf("RFC 9068 access token: %+v %v", c, err)
	}
	id := op.idClaims(now, testClient)
	delete(id, "token_use")
	_, err = b.Verify(t.Context(), op.mint("k1", id))
	wantVerifyErr(t, err, ErrInvalidToken, "")
	at["token_use"] = "id"
	_, err = b.Verify(t.Context(), op.mint("k1", at))
	wantVerifyErr(t, err, ErrInvalidToken, "")
}

// TestBearerConcurrent: many goroutines verify a few tokens at once (run
// with -race); each gets its own token's claims.
func TestBearerConcurrent(t *testing.T) {
	op := newBearerOP(t)
	clock := newTestClock()
	b := newTestBearer(t, op, clock, func(c *Config) { c.CacheSize = 2 })
	subs := []string{"u0", "u1", "u2", "u3"}
	toks := make([]string, len(subs))
	for i, s := range subs {
		c := op.claims(clock.Now(), testClient)
		c["sub"] = s
		toks[i] = op.mint("k1", c)
	}
	errs := make(chan error, 64)
	for g := range 16 {
		go func() {
			for i := range 40 {
				k := (g + i) % len(toks)
				c, err := b.Verify(context.Background(), toks[k])
				if err == nil && c.Subject != subs[k] {
					err = errors.New("claims of another token: " + c.Subject)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := b.cache.len(); n > 2 {
		t.Errorf("cache holds %d, bound 2", n)
	}
}

// RequireATJWT: an issuer that types its access tokens (RFC 9068 §2.1) gets only at+jwt
// through; without it, typ may be absent, JWT or at+jwt, never another kind (RFC 8725 §3.11).
func TestBearerRequireATJWT(t *testing.T) {
	op := newBearerOP(t)
	clock := newTestClock()
	const api = "https://api.example.com"
	generic := func(typed bool) func(c *Config) {
		return func(c *Config) {
			c.Issuers[0].TokenUseOptional, c.Issuers[0].Audiences = true, []string{api}
			c.Issuers[0].RequireATJWT = typed
			c.CacheSize = -1
		}
	}
	typed := newTestBearer(t, op, clock, generic(true))
	untyped := newTestBearer(t, op, clock, generic(false))
	at := op.claims(clock.Now(), testClient)
	delete(at, "token_use")
	at["aud"] = api
	for _, tc := range []struct {
		typ              any // nil: no typ
		typed, untypedOK bool
	}{
		{"at+jwt", true, true},
		{"application/at+jwt", true, true},
		{nil, false, true},
		{"JWT", false, true},
		{"logout+jwt", false, false},
		{"id_token+jwt", false, false},
	} {
		h := map[string]any{"alg": "RS256", "kid": "k1"}
		if tc.typ != nil {
			h["typ"] = tc.typ
		}
		tok := op.mintHeader("k1", h, at)
		for name, c := range map[string]struct {
			v  *Verifier
			ok bool
		}{"typed": {typed, tc.typed}, "untyped": {untyped, tc.untypedOK}} {
			_, err := c.v.Verify(t.Context(), tok)
			if c.ok && err != nil || !c.ok && !errors.Is(err, ErrInvalidToken) {
				t.Errorf("typ %v, %s issuer: err = %v, want ok=%v", tc.typ, name, err, c.ok)
			}
		}
	}
	_, err := New(t.Context(), Config{Issuers: []Issuer{{Issuer: op.iss(), TokenUse: TokenUseID, ClientIDs: []string{testClient}, RequireATJWT: true, JWKSURL: op.jwksURL()}}})
	if err == nil {
		t.Error("RequireATJWT with ID tokens accepted")
	}
}
