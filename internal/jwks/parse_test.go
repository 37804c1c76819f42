package jwks

import (
	"errors"
	"testing"
)

// TestParseThenVerify: Parse exposes alg, kid and the payload before any
// key is looked up; Verify then accepts only the genuine token, and refuses
// a JWS that Parse did not make or whose alg the set does not allow.
func TestParseThenVerify(t *testing.T) {
	priv := rsaKey(t, 0)
	ks, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Prime(jwksDoc(jwk(t, priv.Public(), "k1", "RS256", "sig"))); err != nil {
		t.Fatal(err)
	}
	tok := sign(t, "RS256", priv, hdr("RS256", "k1"), `{"iss":"https://idp"}`)
	jws, err := Parse(tok, 0)
	if err != nil {
		t.Fatal(err)
	}
	if jws.Alg != "RS256" || jws.Kid != "k1" || string(jws.Payload) != `{"iss":"https://idp"}` {
		t.Fatalf("parsed %+v", jws)
	}
	if err := ks.Verify(t.Context(), &jws, RefetchLimited); err != nil {
		t.Fatal(err)
	}
	forged := jws
	forged.Alg = "ES256"
	if err := ks.Verify(t.Context(), &forged, RefetchLimited); !errors.Is(err, ErrUnsupportedAlgorithm) {
		t.Errorf("alg outside the allow-list: %v", err)
	}
	if err := ks.Verify(t.Context(), &JWS{Alg: "RS256", Kid: "k1"}, RefetchLimited); !errors.Is(err, ErrMalformed) {
		t.Errorf("zero JWS: %v", err)
	}
	if _, err := Parse(tok, len(tok)-1); !errors.Is(err, ErrMalformed) {
		t.Errorf("over the limit: %v", err)
	}
	tampered := sign(t, "RS256", rsaKey(t, 1), hdr("RS256", "k1"), `{"iss":"https://idp"}`)
	jws, err = Parse(tampered, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Verify(t.Context(), &jws, RefetchLimited); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("another key's signature: %v", err)
	}
}
