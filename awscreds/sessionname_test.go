package awscreds

import (
	"regexp"
	"strings"
	"testing"
)

var roleSessionNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

func TestSanitizeRoleSessionName(t *testing.T) {
	long := strings.Repeat("a", 200)
	tests := []struct {
		name, in string
		want     string // exact output, or "" to check only the prefix
		prefix   string // expected part before '=' when the input is rewritten
	}{
		{name: "plain", in: "alice", want: "alice"},
		{name: "all allowed characters", in: "A_z0+,.@-9", want: "A_z0+,.@-9"},
		{name: "uuid", in: "7f3c2a1e-9b1d-4c7e-8a55-0d2f6e4b9c13", want: "7f3c2a1e-9b1d-4c7e-8a55-0d2f6e4b9c13"},
		{name: "64 chars", in: strings.Repeat("b", 64), want: strings.Repeat("b", 64)},
		{name: "trailing slash", in: "alice/", prefix: "alice-"},
		{name: "percent encoded", in: "alice%2F", prefix: "alice-2F"},
		{name: "slash", in: "alice/x", prefix: "alice-x"},
		{name: "auth0 subject", in: "auth0|64f1c2", prefix: "auth0-64f1c2"},
		{name: "contains mark", in: "a=b", prefix: "a-b"},
		{name: "unicode", in: "José🙂", prefix: "Jos--"},
		{name: "invalid utf-8", in: "a\xff\xfeb", prefix: "a--b"},
		{name: "empty", in: "", prefix: ""},
		{name: "one char", in: "a", prefix: "a"},
		{name: "65 chars", in: strings.Repeat("b", 65), prefix: strings.Repeat("b", 47)},
		{name: "200 chars", in: long, prefix: strings.Repeat("a", 47)},
		{name: "control characters", in: "a\r\n\x00b", prefix: "a---b"},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SanitizeRoleSessionName(tt.in)
			if !roleSessionNameRE.MatchString(got) {
				t.Fatalf("SanitizeRoleSessionName(%q) = %q, not a valid RoleSessionName", tt.in, got)
			}
			if tt.want != "" {
				if got != tt.want {
					t.Fatalf("SanitizeRoleSessionName(%q) = %q, want %q", tt.in, got, tt.want)
				}
			} else {
				pre, hash, ok := strings.Cut(got, "=")
				if !ok || pre != tt.prefix || len(hash) != sessionNameHashLen || strings.Contains(hash, "=") {
					t.Fatalf("SanitizeRoleSessionName(%q) = %q, want %q + '=' + %d-char hash", tt.in, got, tt.prefix, sessionNameHashLen)
				}
			}
			if again := SanitizeRoleSessionName(tt.in); again != got {
				t.Fatalf("not deterministic: %q then %q", got, again)
			}
			if prev, dup := seen[got]; dup {
				t.Fatalf("%q and %q both map to %q", prev, tt.in, got)
			}
			seen[got] = tt.in
		})
	}
}

// Inputs that look alike, or that look like another input's output, stay apart.
func TestSanitizeRoleSessionNameDistinct(t *testing.T) {
	inputs := []string{
		"alice", "alice/", "alice%2F", "alice-", "alice/x", "alice-x", "alice|x", "alice x",
		"Alice", "alice=", "a", "a-", "", "-",
		strings.Repeat("a", 64), strings.Repeat("a", 65), strings.Repeat("a", 66),
		strings.Repeat("a", 47) + "/", strings.Repeat("a", 47) + "-",
	}
	// Each rewritten output is itself an input a hostile IdP user could pick as a subject.
	for _, in := range inputs[:len(inputs):len(inputs)] {
		inputs = append(inputs, SanitizeRoleSessionName(in))
	}
	seen := map[string]string{}
	for _, in := range inputs {
		got := SanitizeRoleSessionName(in)
		if prev, dup := seen[got]; dup && prev != in {
			t.Errorf("%q and %q both map to %q", prev, in, got)
		}
		seen[got] = in
	}
}

func FuzzSanitizeRoleSessionName(f *testing.F) {
	for _, s := range []string{"", "a", "alice", "alice/", "alice%2F", "José", strings.Repeat("x", 200), "a=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := SanitizeRoleSessionName(s)
		if !roleSessionNameRE.MatchString(got) {
			t.Fatalf("SanitizeRoleSessionName(%q) = %q, not valid", s, got)
		}
		unchanged := roleSessionNameRE.MatchString(s) && !strings.Contains(s, "=")
		if unchanged != (got == s) {
			t.Fatalf("SanitizeRoleSessionName(%q) = %q; input valid without '=': %v", s, got, unchanged)
		}
	})
}
