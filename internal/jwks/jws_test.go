package jwks

import (
	"crypto"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
)

func TestVerifySignatureEveryAlgorithm(t *testing.T) {
	p256, p384, p521, ed := ecKey(t, elliptic.P256()), ecKey(t, elliptic.P384()), ecKey(t, elliptic.P521()), edKey(t)
	tests := []struct {
		alg  string
		priv crypto.Signer
	}{
		{"RS256", rsaKey(t, 0)}, {"RS384", rsaKey(t, 0)}, {"RS512", rsaKey(t, 0)},
		{"PS256", rsaKey(t, 0)}, {"PS384", rsaKey(t, 0)}, {"PS512", rsaKey(t, 0)},
		{"ES256", p256}, {"ES384", p384}, {"ES512", p521},
		{"EdDSA", ed},
	}
	all := make([]string, len(tests))
	for i, tt := range tests {
		all[i] = tt.alg
	}
	ks, err := New(Config{Algorithms: all})
	if err != nil {
		t.Fatal(err)
	}
	err = ks.Prime(jwksDoc(
		jwk(t, rsaKey(t, 0).Public(), "rsa", "", "sig"),
		jwk(t, p256.Public(), "p256", "ES256", "sig"),
		jwk(t, p384.Public(), "p384", "", ""),
		jwk(t, p521.Public(), "p521", "ES512", ""),
		jwk(t, ed.Public(), "ed", "EdDSA", "sig"),
	))
	if err != nil {
		t.Fatal(err)
	}
	kids := map[string]string{"RS": "rsa", "PS": "rsa", "ES256": "p256", "ES384": "p384", "ES512": "p521", "EdDSA": "ed"}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			kid := kids[tt.alg]
			if kid == "" {
				kid = kids[tt.alg[:2]]
			}
			const payload = `{"sub":"alice","n":1}`
			tok := sign(t, tt.alg, tt.priv, hdr(tt.alg, kid), payload)
			got, err := ks.VerifySignature(t.Context(), tok)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != payload {
				t.Fatalf("payload = %q", got)
			}
			// The same signature under any other allowed alg must fail.
			other := "RS256"
			if tt.alg == "RS256" {
				other = "PS256"
			}
			forged := enc([]byte(hdr(other, kid))) + tok[strings.IndexByte(tok, '.'):]
			if _, err := ks.VerifySignature(t.Context(), forged); err == nil {
				t.Fatalf("signature accepted under alg %s", other)
			}
			// And without a kid, each alg has exactly one usable key here.
			if _, err := ks.VerifySignature(t.Context(), sign(t, tt.alg, tt.priv, hdr(tt.alg, ""), payload)); err != nil {
				t.Fatalf("without kid: %v", err)
			}
		})
	}
}

// Every token here is rejected before a key is looked up: no fetch, whatever the header says.
func TestRejectHostileTokens(t *testing.T) {
	key := rsaKey(t, 0)
	signed := func(header string) string { return sign(t, "RS256", key, header, `{"sub":"alice"}`) }
	good := signed(hdr("RS256", "a"))
	h, p, s := parts(good)

	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hs256 := func(secret []byte) string {
		in := enc([]byte(`{"alg":"HS256","kid":"a"}`)) + "." + p
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(in))
		return in + "." + enc(m.Sum(nil))
	}

	tests := []struct {
		name string
		tok  string
		want error
	}{
		{"alg none", enc([]byte(`{"alg":"none"}`)) + "." + p + ".", ErrMalformed},
		{"alg none with a signature", enc([]byte(`{"alg":"none","kid":"a"}`)) + "." + p + "." + s, ErrUnsupportedAlgorithm},
		{"alg None", signed(`{"alg":"None","kid":"a"}`), ErrUnsupportedAlgorithm},
		{"alg NONE", signed(`{"alg":"NONE","kid":"a"}`), ErrUnsupportedAlgorithm},
		{"HS256 keyed with the RSA public key PEM", hs256(pubPEM), ErrUnsupportedAlgorithm},
		{"HS256 keyed with the RSA public key DER", hs256(pubDER), ErrUnsupportedAlgorithm},
		{"alg not in the allow-list", sign(t, "RS384", key, hdr("RS384", "a"), `{}`), ErrUnsupportedAlgorithm},
		{"alg lower case", signed(`{"alg":"rs256","kid":"a"}`), ErrUnsupportedAlgorithm},
		{"alg missing", signed(`{"kid":"a"}`), ErrMalformed},
		{"alg empty", signed(`{"alg":"","kid":"a"}`), ErrUnsupportedAlgorithm},
		{"alg null", signed(`{"alg":null,"kid":"a"}`), ErrMalformed},
		{"alg a number", signed(`{"alg":256,"kid":"a"}`), ErrMalformed},
		{"alg an array", signed(`{"alg":["RS256"],"kid":"a"}`), ErrMalformed},
		{"kid a number", signed(`{"alg":"RS256","kid":1}`), ErrMalformed},
		{"kid null", signed(`{"alg":"RS256","kid":null}`), ErrMalformed},
		{"typ an object", signed(`{"alg":"RS256","kid":"a","typ":{}}`), ErrMalformed},
		{"duplicate alg", signed(`{"alg":"RS256","kid":"a","alg":"none"}`), ErrMalformed},
		{"duplicate alg through an escape", signed(`{"alg":"RS256","kid":"a","\u0061lg":"none"}`), ErrMalformed},
		{"duplicate kid", signed(`{"alg":"RS256","kid":"a","kid":"b"}`), ErrMalformed},
		{"duplicate unknown member", signed(`{"alg":"RS256","kid":"a","x":1,"x":2}`), ErrMalformed},
		{"ALG beside alg", signed(`{"alg":"RS256","kid":"a","ALG":"none"}`), ErrMalformed},
		{"Kid beside kid", signed(`{"alg":"RS256","kid":"a","Kid":"b"}`), ErrMalformed},
		{"Kelvin-sign kid beside kid", signed(`{"alg":"RS256","kid":"a","\u212aid":"b"}`), errHeaderFolded},
		{"crit", signed(`{"alg":"RS256","kid":"a","crit":["exp"],"exp":1}`), ErrUnsupportedHeader},
		{"crit b64", signed(`{"alg":"RS256","kid":"a","crit":["b64"],"b64":false}`), ErrUnsupportedHeader},
		{"b64", signed(`{"alg":"RS256","kid":"a","b64":true}`), ErrUnsupportedHeader},
		{"embedded jwk", signed(`{"alg":"RS256","kid":"a","jwk":` + string(jwk(t, key.Public(), "a", "", "")) + `}`), ErrUnsupportedHeader},
		{"jku", signed(`{"alg":"RS256","kid":"a","jku":"https://evil.example/jwks"}`), ErrUnsupportedHeader},
		{"x5u", signed(`{"alg":"RS256","kid":"a","x5u":"https://evil.example/cert"}`), ErrUnsupportedHeader},
		{"x5c", signed(`{"alg":"RS256","kid":"a","x5c":["MIIB"]}`), ErrUnsupportedHeader},
		{"X5C", signed(`{"alg":"RS256","kid":"a","X5C":["MIIB"]}`), ErrUnsupportedHeader},
		{"JWE header in three parts", signed(`{"alg":"RS256","enc":"A256GCM","kid":"a"}`), ErrUnsupportedHeader},
		{"zip", signed(`{"alg":"RS256","kid":"a","zip":"DEF"}`), ErrUnsupportedHeader},
		{"header not an object", signed(`["alg","RS256"]`), ErrMalformed},
		{"header null", signed(`null`), ErrMalformed},
		{"header a string", signed(`"RS256"`), ErrMalformed},
		{"header with trailing data", signed(`{"alg":"RS256","kid":"a"}{}`), ErrMalformed},
		{"header with trailing garbage", signed(`{"alg":"RS256","kid":"a"}x`), ErrMalformed},
		{"header not JSON", signed(`alg=RS256`), ErrMalformed},
		{"header invalid UTF-8", signed("{\"alg\":\"RS256\",\"kid\":\"a\xff\"}"), ErrMalformed},
		{"JWE compact, five parts", h + ".a." + "b.c." + s, ErrMalformed},
		{"four parts", good + ".x", ErrMalformed},
		{"two parts", h + "." + p, ErrMalformed},
		{"one part", h, ErrMalformed},
		{"empty", "", ErrMalformed},
		{"empty header", "." + p + "." + s, ErrMalformed},
		{"empty payload", h + ".." + s, ErrMalformed},
		{"JSON serialization", `{"payload":"` + p + `","protected":"` + h + `","signature":"` + s + `"}`, ErrMalformed},
		{"padded signature", good + "==", ErrMalformed},
		{"standard base64 alphabet", h + "." + p + "." + strings.NewReplacer("-", "+", "_", "/").Replace(s) + "+/", ErrMalformed},
		{"leading space", " " + good, ErrMalformed},
		{"trailing newline", good + "\n", ErrMalformed},
		{"Bearer prefix", "Bearer " + good, ErrMalformed},
		{"header length 1 mod 4", h + strings.Repeat("A", 5-len(h)%4) + "." + p + "." + s, errBase64},
		{"non-canonical base64 header", noncanonical(h) + "." + p + "." + s, errBase64},
		{"1 MB", strings.Repeat("A", 1<<20) + "." + p + "." + s, ErrMalformed},
		{"100,000 dots", strings.Repeat(".", 100000), ErrMalformed},
		{"16 KiB of dots", strings.Repeat(".", DefaultMaxTokenBytes), ErrMalformed},
		{"one byte over the limit", strings.Repeat("A", DefaultMaxTokenBytes-len(p)-len(s)-1) + "." + p + "." + s, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newJWKSServer(t, jwksDoc(jwk(t, key.Public(), "a", "", "")))
			ks := newKeySet(t, srv, newClock(), nil)
			payload, err := ks.VerifySignature(t.Context(), tt.tok)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if payload != nil {
				t.Errorf("payload returned with an error")
			}
			if ks.Fetches() != 0 {
				t.Errorf("a token rejected by its shape caused a fetch")
			}
			checkErrorHidesToken(t, err, tt.tok)
		})
	}

	t.Run("the untouched token verifies", func(t *testing.T) {
		srv := newJWKSServer(t, jwksDoc(jwk(t, key.Public(), "a", "", "")))
		ks := newKeySet(t, srv, newClock(), nil)
		if _, err := ks.VerifySignature(t.Context(), good); err != nil {
			t.Fatal(err)
		}
		tokLimit := strings.Repeat("A", DefaultMaxTokenBytes-len(p)-len(s)-2) + "." + p + "." + s
		if _, err := ks.VerifySignature(t.Context(), tokLimit); errors.Is(err, errTooLong) {
			t.Fatal("a token of exactly the limit was refused for its length")
		}
	})
}

func TestKeyDoesNotFitToken(t *testing.T) {
	p256 := ecKey(t, elliptic.P256())
	tests := []struct {
		name string
		jwk  []byte
		tok  string
	}{
		{"RSA key, ES256 token", jwk(t, rsaKey(t, 0).Public(), "k", "", "sig"), sign(t, "ES256", p256, hdr("ES256", "k"), `{}`)},
		{"P-256 key, ES384 token", jwk(t, p256.Public(), "k", "", "sig"), sign(t, "ES384", ecKey(t, elliptic.P384()), hdr("ES384", "k"), `{}`)},
		{"EC key, RS256 token", jwk(t, p256.Public(), "k", "", "sig"), rs256(t, 0, "k")},
		{"key alg RS384, token RS256", jwk(t, rsaKey(t, 0).Public(), "k", "RS384", "sig"), rs256(t, 0, "k")},
		{"key alg PS256, token RS256", jwk(t, rsaKey(t, 0).Public(), "k", "PS256", "sig"), rs256(t, 0, "k")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newJWKSServer(t, jwksDoc(tt.jwk))
			clock := newClock()
			ks := newKeySet(t, srv, clock, func(c *Config) {
				c.Algorithms = []string{"RS256", "RS384", "PS256", "ES256", "ES384"}
			})
			if err := ks.Prime(jwksDoc(tt.jwk)); err != nil {
				t.Fatal(err)
			}
			clock.Advance(DefaultRefetchInterval)
			if _, err := ks.VerifySignature(t.Context(), tt.tok); !errors.Is(err, ErrKeyMismatch) {
				t.Fatalf("err = %v, want ErrKeyMismatch", err)
			}
			if n := ks.Fetches(); n != 0 {
				t.Errorf("a known kid with a mismatched key caused %d fetches", n)
			}
		})
	}
}

// Hostile tokens cost no allocation at all: O(1) memory whatever their size.
func TestHostileTokensDoNotAllocate(t *testing.T) {
	ks, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Prime(jwksDoc(jwk(t, rsaKey(t, 0).Public(), "a", "", ""))); err != nil {
		t.Fatal(err)
	}
	_, p, s := parts(rs256(t, 0, "a"))
	tests := []struct{ name, tok string }{
		{"1 MB", strings.Repeat("A", 1<<20) + "." + p + "." + s},
		{"100,000 dots", strings.Repeat(".", 100000)},
		{"16 KiB of dots", strings.Repeat(".", DefaultMaxTokenBytes)},
		{"16 KiB, a dot at the end", strings.Repeat("A", DefaultMaxTokenBytes-3) + "..."},
		{"16 KiB, a bad byte at the end", strings.Repeat("A", DefaultMaxTokenBytes-1) + "="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allocs := testing.AllocsPerRun(10, func() {
				if _, err := ks.VerifySignature(t.Context(), tt.tok); err == nil {
					t.Fatal("accepted")
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per rejection, want 0", allocs)
			}
		})
	}
}

func parts(tok string) (h, p, s string) {
	h, rest, _ := strings.Cut(tok, ".")
	p, s, _ = strings.Cut(rest, ".")
	return h, p, s
}

// noncanonical changes the unused low bits of the last character of a base64url string whose
// length is not a multiple of 4, so that a lenient decoder reads the same bytes.
func noncanonical(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(s)%4 == 0 {
		panic("no spare bits in " + s)
	}
	i := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[i^1]) // bit 0 is always a spare bit
}

func checkErrorHidesToken(t *testing.T, err error, tok string) {
	t.Helper()
	if err == nil || len(tok) < 8 {
		return
	}
	msg := err.Error()
	for _, part := range strings.Split(tok, ".") {
		if len(part) >= 8 && strings.Contains(msg, part) {
			t.Errorf("error %q contains part of the token", msg)
		}
	}
	if !strings.HasPrefix(msg, "jwks: ") {
		t.Errorf("error %q lacks the jwks: prefix", msg)
	}
}
