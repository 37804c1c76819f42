package awscreds

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUserPrefix(t *testing.T) {
	for _, id := range []string{
		"alice",
		"6f1c2a5e-0c1b-4f0e-9d7a-2b8e5f3c1a90", // a Cognito user pool sub
		"eu-west-1:6f1c2a5e-0c1b-4f0e-9d7a-2b8e5f3c1a90", // an identity id
		"a.b+c@example.com",
		"...",
		strings.Repeat("x", maxPrefixUserIDBytes),
	} {
		p, err := UserPrefix(id)
		require.NoError(t, err, id)
		assert.Equal(t, id+"/", p)
	}
	// Refused, not escaped: a policy that substitutes the raw id would not
	// match an escaped prefix. "alice/x" would be inside alice's prefix; MinIO
	// matches a raw "*" or "?" in ${jwt:sub} as a wildcard.
	for _, id := range []string{
		"", ".", "..", "alice/x", "alice\\x", "a\x00", "a\xff", "José", "auth0|alice", "a b", "alice%2F",
		"alice=2F", "${aws:username}", "*", "a*", "b?b", "?", strings.Repeat("x", maxPrefixUserIDBytes+1),
	} {
		p, err := UserPrefix(id)
		assert.ErrorIs(t, err, ErrUnsupportedUserID, "%q", id)
		assert.Empty(t, p)
		if len(id) > 2 {
			assert.NotContains(t, err.Error(), id, "the error never repeats the id")
		}
	}
}

// FuzzUserPrefix: an accepted id is one EscapeUserID leaves unchanged, so the
// prefix is the same whether the policy substitutes the raw id or the escaped
// one, and it holds no "/", wildcard or variable.
func FuzzUserPrefix(f *testing.F) {
	for _, s := range []string{"alice", "alice/", "*", "..", "eu-west-1:x", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		p, err := UserPrefix(id)
		if err != nil {
			if p != "" {
				t.Fatalf("refusal %v with prefix %q", err, p)
			}
			return
		}
		if p != id+"/" || EscapeUserID(id) != id || strings.ContainsAny(id, "/*?$\\") {
			t.Fatalf("UserPrefix(%q) = %q", id, p)
		}
	})
}
