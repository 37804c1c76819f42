package awscreds

import (
	"crypto/sha256"
	"encoding/base32"
	"strings"
	"unicode/utf8"
)

// Limits of STS's RoleSessionName: [\w+=,.@-]{2,64}.
const (
	minRoleSessionName = 2
	maxRoleSessionName = 64

	// sessionNameMark separates a rewritten name from its hash. A name that is returned
	// unchanged never contains it, which keeps rewritten and unchanged names apart.
	sessionNameMark = '='
	// sessionNameHashLen is 10 bytes of SHA-256 in base32: 80 bits, 16 characters.
	sessionNameHashLen = 16
)

// SanitizeRoleSessionName maps s to a valid STS RoleSessionName, which must match
// [\w+=,.@-]{2,64} (\w is [A-Za-z0-9_]).
//
// A string that already matches and contains no '=' is returned unchanged. Any other string
// (too short, too long, a disallowed character, or an '=') becomes a prefix of it in which
// every disallowed character and every '=' is replaced by '-' (one '-' per rune; invalid UTF-8
// counts one per byte), cut to 47 bytes, followed by '=' and 16 lowercase base32 characters
// of the SHA-256 of the whole of s. For example "alice" stays "alice", while "alice/x" becomes
// "alice-x=" followed by its hash and so differs from "alice-x".
//
// Distinct inputs give distinct names unless two 80-bit hashes collide: unchanged names
// contain no '=', rewritten ones end in '=' and the hash of the original. By the same token
// the function is not idempotent (a rewritten name contains '=' and is rewritten again), which
// is what keeps an input that looks like someone else's rewritten name from colliding with it.
// It never panics and runs in time linear in len(s).
func SanitizeRoleSessionName(s string) string {
	if validRoleSessionName(s) && !strings.ContainsRune(s, sessionNameMark) {
		return s
	}
	const prefixLen = maxRoleSessionName - 1 - sessionNameHashLen
	var b strings.Builder
	b.Grow(maxRoleSessionName)
	for _, r := range s {
		if b.Len() == prefixLen {
			break
		}
		if r < utf8.RuneSelf && r != sessionNameMark && roleSessionNameByte(byte(r)) {
			b.WriteByte(byte(r))
		} else {
			b.WriteByte('-')
		}
	}
	sum := sha256.Sum256([]byte(s))
	b.WriteRune(sessionNameMark)
	b.WriteString(strings.ToLower(base32.StdEncoding.EncodeToString(sum[:10])))
	return b.String()
}

// validRoleSessionName reports whether s matches [\w+=,.@-]{2,64}.
func validRoleSessionName(s string) bool {
	if len(s) < minRoleSessionName || len(s) > maxRoleSessionName {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !roleSessionNameByte(s[i]) {
			return false
		}
	}
	return true
}

func roleSessionNameByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("_+=,.@-", c) >= 0
}
