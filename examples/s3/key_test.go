package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestObjectKey(t *testing.T) {
	good := []struct{ name, key string }{
		{"notes.md", "alice/notes.md"},
		{"2026/report.pdf", "alice/2026/report.pdf"},
		{"a..b", "alice/a..b"},
		{".profile", "alice/.profile"},
		{"café ☕.txt", "alice/café ☕.txt"},
		{strings.Repeat("x", maxNameBytes), "alice/" + strings.Repeat("x", maxNameBytes)},
	}
	for _, tc := range good {
		t.Run("accepts "+tc.name[:min(len(tc.name), 20)], func(t *testing.T) {
			key, err := objectKey("alice/", tc.name)
			require.NoError(t, err)
			assert.Equal(t, tc.key, key)
		})
	}
	bad := []struct{ what, name string }{
		{"empty", ""},
		{"parent", ".."},
		{"current", "."},
		{"parent first", "../bob/secret.txt"},
		{"parent inside", "x/../../bob/secret.txt"},
		{"parent last", "x/.."},
		{"dot segment", "x/./y"},
		{"leading slash", "/bob/secret.txt"},
		{"trailing slash", "dir/"},
		{"double slash", "a//b"},
		{"backslash", `..\bob\secret.txt`},
		{"NUL", "a\x00b"},
		{"newline", "a\nb"},
		{"DEL", "a\x7fb"},
		{"C1 control", "a\u0085b"},
		{"not UTF-8", "a\xffb"},
		{"too long", strings.Repeat("x", maxNameBytes+1)},
	}
	for _, tc := range bad {
		t.Run("refuses "+tc.what, func(t *testing.T) {
			key, err := objectKey("alice/", tc.name)
			require.ErrorIs(t, err, errInvalidName)
			assert.Empty(t, key)
			assert.True(t, strings.HasPrefix(err.Error(), "examples/s3: "), err.Error())
			if len(tc.name) > 2 {
				assert.NotContains(t, err.Error(), tc.name, "the reason does not repeat the name")
			}
		})
	}
}

// FuzzObjectKey: no panic, and an accepted name's key stays under the prefix
// with no segment that a path normalizer would collapse.
func FuzzObjectKey(f *testing.F) {
	for _, s := range []string{"notes.md", "../x", "a//b", "/x", "a/./b", "x\x00", "dir/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		key, err := objectKey("alice/", name)
		if err != nil {
			if !errors.Is(err, errInvalidName) || key != "" {
				t.Fatalf("refusal %v with key %q", err, key)
			}
			return
		}
		rest, ok := strings.CutPrefix(key, "alice/")
		if !ok || rest != name {
			t.Fatalf("key %q not alice/ + name", key)
		}
		for seg := range strings.SplitSeq(rest, "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("accepted %q with segment %q", name, seg)
			}
		}
	})
}
