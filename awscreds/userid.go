package awscreds

import "strings"

// userIDEscape starts an escaped byte in EscapeUserID's output.
const userIDEscape = '='

// EscapeUserID maps a user id (a sub, a username) to the form awscreds uses wherever the id
// becomes part of an S3 key, a DynamoDB partition key, an STS session tag value or an IAM
// policy: every byte outside [A-Za-z0-9_.:@+-] becomes '=' and two uppercase hex digits. So
// "alice" stays "alice", "alice/" becomes "alice=2F" and "alice%2F" becomes "alice=252F": distinct ids stay distinct (the mapping is injective), and no id can reach into
// another user's prefix ("alice/" would otherwise own "alice//…", which "alice/*" matches), or
// carry a policy wildcard (*, ?) or variable (${…}).
//
// A Cognito identity id (REGION:GUID) and a Cognito user pool sub (a UUID) are returned
// unchanged, so the key the app writes under equals what ${cognito-identity.amazonaws.com:sub}
// or a session tag holding the escaped sub resolves to.
//
// The output uses only characters that STS allows in tag values. It is at most three times as
// long as id; the empty string stays empty (the policy helpers refuse it).
func EscapeUserID(id string) string {
	n := 0
	for i := 0; i < len(id); i++ {
		if !userIDSafe(id[i]) {
			n++
		}
	}
	if n == 0 {
		return id
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(id) + 2*n)
	for i := 0; i < len(id); i++ {
		c := id[i]
		if userIDSafe(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte(userIDEscape)
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}

func userIDSafe(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c == '_' || c == '.' || c == ':' || c == '@' || c == '+' || c == '-'
}
