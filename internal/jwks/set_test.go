package jwks

import (
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// Why parseJWKS splits the keys array itself: go-jose fails the whole set on one key it can't
// parse, which would let one odd key (a new kty, a typo) take every login down.
func TestGoJoseFailsTheWholeSetOnOneBadKey(t *testing.T) {
	good := jwk(t, rsaKey(t, 0).Public(), "a", "RS256", "sig")
	for _, bad := range []string{
		`{"kty":"AKP","kid":"pq","alg":"ML-DSA-44","pub":"AAAA"}`,
		`{"kty":"oops","kid":"x"}`,
		`{"kty":"RSA","kid":"x","n":"!!!","e":"AQAB"}`,
	} {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(jwksDoc(good, json.RawMessage(bad)), &set); err == nil {
			t.Logf("go-jose now tolerates %s (%d keys)", bad, len(set.Keys))
			continue
		}
		ks, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		if err := ks.Prime(jwksDoc(good, json.RawMessage(bad))); err != nil {
			t.Errorf("Prime with one bad key %s: %v", bad, err)
		}
	}
}

func TestParseJWKSSkipsKeysOneByOne(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p256 := ecKey(t, elliptic.P256())
	rsaPub := rsaKey(t, 0).Public()
	members := []struct {
		kid  string
		raw  json.RawMessage
		keep bool
	}{
		{"rsa", jwk(t, rsaPub, "rsa", "RS256", "sig"), true},
		{"rsa-no-alg-no-use", jwk(t, rsaKey(t, 1).Public(), "rsa-no-alg-no-use", "", ""), true},
		{"ec", jwk(t, p256.Public(), "ec", "ES256", "sig"), true},
		{"ed", jwk(t, edKey(t).Public(), "ed", "", "sig"), true},
		{"enc", jwk(t, rsaPub, "enc", "", "enc"), false},
		{"use-other", json.RawMessage(`{"kty":"RSA","kid":"use-other","use":"tls","n":"` + rsaN(t) + `","e":"AQAB"}`), false},
		{"key-ops-encrypt", json.RawMessage(`{"kty":"RSA","kid":"key-ops-encrypt","key_ops":["encrypt"],"n":"` + rsaN(t) + `","e":"AQAB"}`), false},
		{"key-ops-verify", json.RawMessage(`{"kty":"RSA","kid":"key-ops-verify","key_ops":["verify"],"n":"` + rsaN(t) + `","e":"AQAB"}`), true},
		{"alg-not-allowed", jwk(t, rsaPub, "alg-not-allowed", "RS512", "sig"), false},
		{"alg-unknown", jwk(t, rsaPub, "alg-unknown", "RSA-OAEP", ""), false},
		{"alg-kty-mismatch", json.RawMessage(`{"kty":"RSA","kid":"alg-kty-mismatch","alg":"ES256","n":"` + rsaN(t) + `","e":"AQAB"}`), false},
		{"rsa-1024", jwk(t, small.Public(), "rsa-1024", "RS256", "sig"), false},
		{"kty-oct", json.RawMessage(`{"kty":"oct","kid":"kty-oct","k":"c2VjcmV0"}`), false},
		{"kty-unknown", json.RawMessage(`{"kty":"AKP","kid":"kty-unknown","alg":"ML-DSA-44","pub":"AAAA"}`), false},
		{"kty-missing", json.RawMessage(`{"kid":"kty-missing","n":"AAAA","e":"AQAB"}`), false},
		{"n-unparseable", json.RawMessage(`{"kty":"RSA","kid":"n-unparseable","n":"!!!","e":"AQAB"}`), false},
		{"e-missing", json.RawMessage(`{"kty":"RSA","kid":"e-missing","n":"` + rsaN(t) + `"}`), false},
		{"ec-off-curve", json.RawMessage(`{"kty":"EC","kid":"ec-off-curve","crv":"P-256","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE"}`), false},
		{"ec-unknown-curve", json.RawMessage(`{"kty":"EC","kid":"ec-unknown-curve","crv":"P-192","x":"AAAA","y":"AAAA"}`), false},
		{"private", jwk(t, rsaKey(t, 2), "private", "RS256", "sig"), false},
		{"kty-number", json.RawMessage(`{"kty":1,"kid":"kty-number"}`), false},
		{"not-an-object", json.RawMessage(`"rsa"`), false},
		{"null", json.RawMessage(`null`), false},
	}
	raw := make([]json.RawMessage, len(members))
	var want []string
	for i, m := range members {
		raw[i] = m.raw
		if m.keep {
			want = append(want, m.kid)
		}
	}
	algs := map[string]*algorithm{"RS256": algorithms["RS256"], "ES256": algorithms["ES256"], "EdDSA": algorithms["EdDSA"]}
	set, err := parseJWKS(jwksDoc(raw...), algs, discard())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range set.keys {
		got = append(got, k.kid)
	}
	if !slices.Equal(got, want) {
		t.Errorf("kept %v\nwant %v", got, want)
	}

	// Each skipped member on its own leaves nothing usable.
	for _, m := range members {
		if m.keep {
			continue
		}
		t.Run(m.kid, func(t *testing.T) {
			if _, err := parseJWKS(jwksDoc(m.raw), algs, discard()); !errors.Is(err, ErrNoUsableKeys) {
				t.Errorf("err = %v, want ErrNoUsableKeys", err)
			}
		})
	}
}

func TestPrime(t *testing.T) {
	good := jwksDoc(jwk(t, rsaKey(t, 0).Public(), "a", "", ""))
	tests := []struct {
		name string
		doc  []byte
		want error // nil: primed
	}{
		{"good", good, nil},
		{"empty", nil, errAny},
		{"not JSON", []byte("<html>"), errAny},
		{"keys not an array", []byte(`{"keys":{}}`), errAny},
		{"a bare array", []byte(`[` + string(jwk(t, rsaKey(t, 0).Public(), "a", "", "")) + `]`), errAny},
		{"no keys member", []byte(`{}`), ErrNoUsableKeys},
		{"empty keys", []byte(`{"keys":[]}`), ErrNoUsableKeys},
		{"only unusable keys", jwksDoc(json.RawMessage(`{"kty":"oct","k":"AA"}`)), ErrNoUsableKeys},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks, err := New(Config{})
			if err != nil {
				t.Fatal(err)
			}
			if err := ks.Prime(good); err != nil {
				t.Fatal(err)
			}
			err = ks.Prime(tt.doc)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("Prime: %v", err)
			case tt.want == errAny && err == nil, tt.want != nil && tt.want != errAny && !errors.Is(err, tt.want):
				t.Fatalf("Prime: err = %v, want %v", err, tt.want)
			}
			// A failed Prime leaves the previous keys; an offline set never fetches.
			if _, err := ks.VerifySignature(t.Context(), rs256(t, 0, "a")); err != nil {
				t.Fatalf("after Prime: %v", err)
			}
			if _, err := ks.VerifySignature(t.Context(), rs256(t, 0, "unknown")); !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("unknown kid offline: err = %v", err)
			}
		})
	}
}

var errAny = errors.New("any error")

func rsaN(t *testing.T) string {
	return enc(rsaKey(t, 0).N.Bytes())
}
