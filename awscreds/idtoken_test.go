package awscreds

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// fakeJWT builds an unsigned compact JWS around payload; nothing here verifies signatures.
func fakeJWT(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","kid":"k1"}`)) + "." + enc([]byte(payload)) + "." + enc([]byte("signature-bytes-that-are-long"))
}

func TestSubjectFromIDToken(t *testing.T) {
	tests := []struct {
		name    string
		token   string
		want    string
		wantErr error
	}{
		{name: "sub", token: fakeJWT(`{"sub":"alice","aud":"x"}`), want: "alice"},
		{name: "unicode sub", token: fakeJWT(`{"sub":"Jos\u00e9"}`), want: "José"},
		{name: "padded payload", token: fakeJWT(`{"sub":"abc"}`) + "=", wantErr: errTokenMalformed},
		{name: "duplicate sub", token: fakeJWT(`{"sub":"alice","sub":"bob"}`), wantErr: errTokenNoSubject},
		{name: "case-folded sub", token: fakeJWT(`{"sub":"alice","SUB":"bob"}`), wantErr: errTokenNoSubject},
		{name: "header without alg", token: "e30." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"abc"}`)) + ".c2ln", wantErr: errTokenMalformed},
		{name: "no dots", token: "abc", wantErr: errTokenMalformed},
		{name: "two parts", token: "abc.def", wantErr: errTokenMalformed},
		{name: "JWE five parts", token: "a.b.c.d.e", wantErr: errTokenMalformed},
		{name: "bad base64", token: "a.!!!.c", wantErr: errTokenMalformed},
		{name: "not JSON", token: fakeJWT(`sub=alice`), wantErr: errTokenNoSubject},
		{name: "JSON array", token: fakeJWT(`["alice"]`), wantErr: errTokenNoSubject},
		{name: "no sub", token: fakeJWT(`{"aud":"x"}`), wantErr: errTokenNoSubject},
		{name: "empty sub", token: fakeJWT(`{"sub":""}`), wantErr: errTokenNoSubject},
		{name: "numeric sub", token: fakeJWT(`{"sub":42}`), wantErr: errTokenNoSubject},
		{name: "null sub", token: fakeJWT(`{"sub":null}`), wantErr: errTokenNoSubject},
		{name: "1 MB", token: fakeJWT(`{"sub":"` + strings.Repeat("a", 1<<20) + `"}`), wantErr: errTokenTooLarge},
		{name: "100000 dots", token: strings.Repeat(".", 100000), wantErr: errTokenTooLarge},
		{name: "10000 dots", token: strings.Repeat(".", 10000), wantErr: errTokenMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := subjectFromIDToken(tt.token)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Fatalf("subjectFromIDToken = %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func FuzzSubjectFromIDToken(f *testing.F) {
	f.Add(fakeJWT(`{"sub":"alice"}`))
	f.Add("a.b.c")
	f.Add("..")
	f.Fuzz(func(t *testing.T, token string) {
		sub, err := subjectFromIDToken(token)
		if (err == nil) == (sub == "") {
			t.Fatalf("subjectFromIDToken = %q, %v", sub, err)
		}
		if err != nil && len(token) >= 8 && strings.Contains(err.Error(), token) {
			t.Fatalf("error %q contains the token", err)
		}
	})
}
