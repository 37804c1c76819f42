package jwks

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// fuzzKeys are deterministic, so that a token signed by one fuzz worker verifies in another.
func fuzzKeys(t testing.TB) (ed25519.PrivateKey, *ecdsa.PrivateKey) {
	ed := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	scalar := bytes.Repeat([]byte{0x42}, 32)
	ec, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), scalar)
	if err != nil {
		t.Fatal(err)
	}
	return ed, ec
}

var fuzzAlgs = []string{"RS256", "PS256", "ES256", "EdDSA"}

func fuzzKeySet(t testing.TB) *KeySet {
	ed, ec := fuzzKeys(t)
	ks, err := New(Config{Algorithms: fuzzAlgs}) // offline: Key never fetches
	if err != nil {
		t.Fatal(err)
	}
	err = ks.Prime(jwksDoc(
		jwk(t, ed.Public(), "ed", "EdDSA", "sig"),
		jwk(t, ec.Public(), "ec", "", "sig"),
		jwk(t, rsaKey(t, 0).Public(), "rsa", "", ""),
	))
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// FuzzVerifySignature feeds arbitrary strings to VerifySignature: no panic, and no token accepted
// that go-jose (ParseSignedCompact + Verify with the same key) rejects or reads differently. Where
// go-jose accepts and VerifySignature refuses, the reason must be one of the deliberate extra checks.
func FuzzVerifySignature(f *testing.F) {
	ed, ec := fuzzKeys(f)
	f.Add(sign(f, "EdDSA", ed, hdr("EdDSA", "ed"), `{"sub":"alice"}`))
	f.Add(sign(f, "EdDSA", ed, `{"alg":"EdDSA"}`, `{}`))
	f.Add(sign(f, "ES256", ec, hdr("ES256", "ec"), `{"sub":"alice","scope":"a b"}`))
	f.Add(sign(f, "ES256", ec, `{"kid":"ec","alg":"ES256","typ":"at+jwt","x":[1,{"y":null}]}`, `{"a":1}`))
	f.Add(sign(f, "RS256", rsaKey(f, 0), hdr("RS256", "rsa"), `{"sub":"alice"}`))
	f.Add(sign(f, "EdDSA", ed, `{"alg":"EdDSA","kid":"ed","crit":["b64"],"b64":false}`, `{}`))
	f.Add(sign(f, "EdDSA", ed, `{"alg":"EdDSA","kid":"ed","ALG":"none"}`, `{}`))
	f.Add(sign(f, "EdDSA", ed, `{"alg":"EdDSA","kid":"ed","alg":"none"}`, `{}`))
	f.Add(sign(f, "EdDSA", ed, "{\"alg\":\"EdDSA\",\"kid\":\"ed\xff\"}", `{}`))
	f.Add(enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(`{}`)) + ".")
	f.Add(strings.Repeat(".", 100))
	f.Add("")

	ks := fuzzKeySet(f)
	allowed := make([]jose.SignatureAlgorithm, len(fuzzAlgs))
	for i, a := range fuzzAlgs {
		allowed[i] = jose.SignatureAlgorithm(a)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		payload, err := ks.VerifySignature(context.Background(), tok)
		if err != nil {
			checkErrorHidesToken(t, err, tok)
		}
		jws, jerr := jose.ParseSignedCompact(tok, allowed)

		if err == nil {
			if jerr != nil {
				t.Fatalf("accepted a token go-jose can't parse: %v", jerr)
			}
			if len(jws.Signatures) != 1 {
				t.Fatalf("go-jose sees %d signatures", len(jws.Signatures))
			}
			h := jws.Signatures[0].Header
			key, kerr := ks.Key(context.Background(), h.KeyID, h.Algorithm)
			if kerr != nil {
				t.Fatalf("go-jose reads alg %q kid %q, for which Key fails: %v", h.Algorithm, h.KeyID, kerr)
			}
			jpayload, verr := jws.Verify(key)
			if verr != nil {
				t.Fatalf("accepted a token go-jose does not verify: %v", verr)
			}
			if !bytes.Equal(payload, jpayload) {
				t.Fatalf("payload %q, go-jose's %q", payload, jpayload)
			}
			checkHeaderAgrees(t, tok, h.Algorithm, h.KeyID)
			return
		}

		if jerr != nil || len(jws.Signatures) != 1 {
			return
		}
		h := jws.Signatures[0].Header
		key, kerr := ks.Key(context.Background(), h.KeyID, h.Algorithm)
		if kerr != nil {
			return
		}
		if _, verr := jws.Verify(key); verr != nil {
			return
		}
		// go-jose verifies what VerifySignature refused: only the deliberate differences may explain it.
		for _, stricter := range []error{
			errNotCompact,        // go-jose's base64 decoder skips \r and \n
			errEmptyPart,         // an empty payload
			errBase64,            // non-canonical trailing bits
			errHeaderJSON,        // invalid UTF-8, a second JSON value
			errHeaderType,        // kid or typ of another type, null
			errHeaderFolded,      // "ALG" beside "alg"
			errTooLong,           // over DefaultMaxTokenBytes
			ErrUnsupportedHeader, // crit b64, jwk, x5c, ...
			ErrAmbiguousKey,      // go-jose was handed the key; the set has two candidates
		} {
			if errors.Is(err, stricter) {
				return
			}
		}
		t.Fatalf("refused (%v) a token go-jose verifies with the same key", err)
	})
}

// checkHeaderAgrees decodes the accepted token's header with encoding/json, which matches member
// names case-insensitively and keeps the last duplicate: it must read the same alg and kid.
func checkHeaderAgrees(t *testing.T, tok, alg, kid string) {
	t.Helper()
	h, _, _ := strings.Cut(tok, ".")
	raw, err := b64.DecodeString(h)
	if err != nil {
		t.Fatalf("accepted header is not base64url: %v", err)
	}
	var std struct{ Alg, Kid string }
	if err := json.Unmarshal(raw, &std); err != nil {
		t.Fatalf("accepted header encoding/json rejects: %v", err)
	}
	if std.Alg != alg || std.Kid != kid {
		t.Fatalf("encoding/json reads alg %q kid %q; go-jose %q %q", std.Alg, std.Kid, alg, kid)
	}
}

// FuzzParseHeader compares parseHeader on arbitrary bytes with encoding/json and go-jose: a header
// it accepts must decode to the same alg and kid under both.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{
		`{"alg":"RS256","kid":"a","typ":"JWT"}`,
		`{"alg":"RS256","kid":"a","ALG":"none"}`,
		`{"alg":"RS256","\u0061lg":"none"}`,
		`{"alg":"RS256","kid":"a","x":{"alg":"none","kid":"b"}}`,
		`{"alg":"RS256","kid":"\u00e9\ud83d\ude00"}`,
		`{"alg":"RS256","kid":"a","crit":["b64"]}`,
		` {"alg" : "RS256" } `,
		`{"alg":"RS256"}{"alg":"none"}`,
		"{\"alg\":\"RS256\",\"kid\":\"\xff\"}",
		`{"alg":"RS256","kid":null}`,
		`{"alg":"RS256","kid":"a","kıd":"b"}`,
		`{"alg":"RS256","kid":"a","KİD":"b"}`,
		`{"alg":"RS256","kid":"a","ſ":"b"}`,
		`{"alg":"RS256","kid":"a","\u212aid":"b"}`,
		"{\"alg\":\"RS256\",\"kid\":\"a\",\"\u212aid\":\"b\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := parseHeader(data)
		if err != nil {
			return
		}
		var std struct{ Alg, Kid string }
		if err := json.Unmarshal(data, &std); err != nil {
			t.Fatalf("accepted %q, which encoding/json rejects: %v", data, err)
		}
		if std.Alg != h.alg || std.Kid != h.kid {
			t.Fatalf("header %q: alg %q kid %q; encoding/json reads %q %q", data, h.alg, h.kid, std.Alg, std.Kid)
		}
		tok := enc(data) + "." + enc([]byte("{}")) + "." + enc([]byte("sig"))
		jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(h.alg)})
		if err != nil {
			t.Fatalf("accepted %q, which go-jose rejects: %v", data, err)
		}
		if g := jws.Signatures[0].Header; g.Algorithm != h.alg || g.KeyID != h.kid {
			t.Fatalf("header %q: alg %q kid %q; go-jose reads %q %q", data, h.alg, h.kid, g.Algorithm, g.KeyID)
		}
	})
}

// FuzzParseJWKS feeds arbitrary bytes to Prime: no panic, and whatever it keeps is a public key,
// of a supported type and size, usable with an allowed algorithm.
func FuzzParseJWKS(f *testing.F) {
	ed, ec := fuzzKeys(f)
	f.Add(jwksDoc(jwk(f, ed.Public(), "ed", "EdDSA", "sig"), jwk(f, ec.Public(), "ec", "ES256", "sig")))
	f.Add(jwksDoc(jwk(f, rsaKey(f, 0).Public(), "rsa", "RS256", "sig")))
	f.Add(jwksDoc(jwk(f, ec.Public(), "ec", "", "enc"), json.RawMessage(`{"kty":"oct","k":"AA"}`)))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"},{"kty":"EC","crv":"P-256","x":"","y":""},null,1,"x",[]]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(``))

	ks, err := New(Config{Algorithms: fuzzAlgs})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := parseJWKS(data, ks.algs, ks.log)
		if err != nil {
			if set != nil {
				t.Fatal("a set with an error")
			}
			return
		}
		if len(set.keys) == 0 {
			t.Fatal("an empty set without an error")
		}
		for _, k := range set.keys {
			switch pub := k.pub.(type) {
			case *rsa.PublicKey:
				if pub.N.BitLen() < minRSABits {
					t.Fatalf("kept a %d-bit RSA key", pub.N.BitLen())
				}
			case *ecdsa.PublicKey, ed25519.PublicKey:
			default:
				t.Fatalf("kept a %T", k.pub)
			}
			usable := false
			for _, a := range ks.algs {
				usable = usable || k.usableFor(a)
			}
			if !usable {
				t.Fatalf("kept a key no allowed algorithm can use")
			}
		}
		if err := ks.Prime(data); err != nil {
			t.Fatalf("parseJWKS accepted what Prime refuses: %v", err)
		}
	})
}
