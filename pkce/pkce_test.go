package pkce_test

import (
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/pubauth/awsauth/pkce"
)

// RFC 7636 Appendix B. The verifier is the base64url encoding of the octets
// listed there (checked below), so a mistyped copy can't pass unnoticed.
const (
	rfcVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfcChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

func TestChallengeRFC7636AppendixB(t *testing.T) {
	octets := []byte{116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186,
		22, 212, 37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121}
	require.Equal(t, rfcVerifier, base64.RawURLEncoding.EncodeToString(octets))
	assert.Equal(t, rfcChallenge, pkce.Challenge(rfcVerifier))
	assert.True(t, pkce.Verify(rfcVerifier, rfcChallenge))
	assert.Equal(t, "S256", pkce.Method)
}

func TestNewVerifier(t *testing.T) {
	seen := make(map[string]bool)
	for range 100 {
		v := pkce.NewVerifier()
		require.Len(t, v, 43)
		require.NoError(t, pkce.Validate(v))
		require.True(t, pkce.Verify(v, pkce.Challenge(v)))
		require.False(t, seen[v], "verifier repeated")
		seen[v] = true
	}
}

func TestChallengeMatchesOAuth2Option(t *testing.T) {
	// The challenge must be what x/oauth2 puts on the authorization URL, so
	// that a verifier made here can be used with oauth2.Config directly.
	v := pkce.NewVerifier()
	cfg := oauth2.Config{Endpoint: oauth2.Endpoint{AuthURL: "https://op.example/authorize"}}
	u := cfg.AuthCodeURL("state", oauth2.S256ChallengeOption(v))
	assert.Contains(t, u, "code_challenge="+pkce.Challenge(v))
	assert.Contains(t, u, "code_challenge_method="+pkce.Method)
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		verifier string
		ok       bool
	}{
		{"empty", "", false},
		{"42 chars", strings.Repeat("a", 42), false},
		{"43 chars", strings.Repeat("a", 43), true},
		{"128 chars", strings.Repeat("a", 128), true},
		{"129 chars", strings.Repeat("a", 129), false},
		{"RFC Appendix B", rfcVerifier, true},
		{"every allowed class", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~", true},
		{"space", strings.Repeat("a", 42) + " ", false},
		{"plus (base64 std)", strings.Repeat("a", 42) + "+", false},
		{"slash (base64 std)", "/" + strings.Repeat("a", 42), false},
		{"padding", strings.Repeat("a", 42) + "=", false},
		{"percent-encoded", strings.Repeat("a", 40) + "%7E", false},
		{"gen-delim colon", strings.Repeat("a", 21) + ":" + strings.Repeat("a", 21), false},
		{"sub-delim bang", strings.Repeat("a", 42) + "!", false},
		{"NUL", strings.Repeat("a", 42) + "\x00", false},
		{"control DEL", strings.Repeat("a", 42) + "\x7f", false},
		{"newline", strings.Repeat("a", 42) + "\n", false},
		{"non-ASCII é (2 bytes, 43 bytes total)", strings.Repeat("a", 41) + "é", false},
		{"non-ASCII 43 runes of é", strings.Repeat("é", 43), false},
		{"invalid UTF-8", strings.Repeat("a", 42) + "\xff", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := pkce.Validate(tc.verifier)
			if tc.ok {
				assert.NoError(t, err)
				assert.True(t, pkce.Verify(tc.verifier, pkce.Challenge(tc.verifier)))
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, pkce.ErrInvalidVerifier)
			assert.True(t, strings.HasPrefix(err.Error(), "pkce: "), err.Error())
			if tc.verifier != "" {
				assert.NotContains(t, err.Error(), tc.verifier)
			}
			// Verify refuses a malformed verifier even with its own challenge.
			assert.False(t, pkce.Verify(tc.verifier, pkce.Challenge(tc.verifier)))
		})
	}
}

func TestVerify(t *testing.T) {
	v := pkce.NewVerifier()
	c := pkce.Challenge(v)
	for _, tc := range []struct {
		name                string
		verifier, challenge string
		want                bool
	}{
		{"match", v, c, true},
		{"other verifier", pkce.NewVerifier(), c, false},
		{"plain method (challenge = verifier)", v, v, false},
		{"empty challenge", v, "", false},
		{"padded challenge", v, c + "=", false},
		{"truncated challenge", v, c[:len(c)-1], false},
		{"standard base64 alphabet", rfcVerifier, strings.NewReplacer("-", "+", "_", "/").Replace(rfcChallenge), false},
		{"invalid verifier", "short", pkce.Challenge("short"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, pkce.Verify(tc.verifier, tc.challenge))
		})
	}
}

var verifierRE = regexp.MustCompile(`^[A-Za-z0-9\-._~]{43,128}$`)

func FuzzValidate(f *testing.F) {
	for _, s := range []string{
		rfcVerifier, "", strings.Repeat("a", 42), strings.Repeat("~", 128), strings.Repeat("a", 129),
		strings.Repeat("é", 43), strings.Repeat("a", 42) + "\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		err := pkce.Validate(v)
		want := verifierRE.MatchString(v)
		if want != (err == nil) {
			t.Fatalf("Validate(%q) = %v, RFC 7636 grammar says valid=%v", v, err, want)
		}
		if err != nil {
			if !errors.Is(err, pkce.ErrInvalidVerifier) {
				t.Fatalf("error %v does not wrap ErrInvalidVerifier", err)
			}
			// Short inputs can be substrings of the fixed text by chance.
			if len(v) >= 8 && strings.Contains(err.Error(), v) {
				t.Fatalf("error %q leaks the verifier", err)
			}
		}
		if got := pkce.Verify(v, pkce.Challenge(v)); got != want {
			t.Fatalf("Verify(v, Challenge(v)) = %v, want %v", got, want)
		}
	})
}
