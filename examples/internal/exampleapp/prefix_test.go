package exampleapp

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUserPrefix(t *testing.T) {
	for _, id := range []string{"alice", "eu-west-1:6f1c2a5e-0c1b-4f0e-9d7a-2b8e5f3c1a90", "a.b@example.com"} {
		p, err := UserPrefix(id)
		require.NoError(t, err, id)
		assert.Equal(t, id+"/", p)
	}
	// An id that would make one user's prefix contain another's, or escape
	// the bucket's layout, is refused, not rewritten.
	// So is one with a wildcard: the store substitutes the raw id into the
	// policy (MinIO's ${jwt:sub}) and then matches * and ? as wildcards, so a
	// user named "*" would be granted every user's prefix.
	for _, id := range []string{"", ".", "..", "alice/x", "alice\\x", "a\x00", "a\xff", strings.Repeat("x", MaxUserIDBytes+1),
		"*", "a*", "b?b", "?"} {
		p, err := UserPrefix(id)
		assert.ErrorIs(t, err, ErrUnsupportedUserID, "%q", id)
		assert.Empty(t, p)
	}
}
