package authflow

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// G.30
func TestCheckReturnTo(t *testing.T) {
	good := []string{"/", "/app", "/app/x?y=1&z=%2F", "/a/b.c/d", "/search?q=a+b#frag", "/~user/..x"}
	bad := []string{
		"", "x", "//evil.example", "/\\evil.example", "\\\\evil", "/%09/evil.example", "/%2F/evil.example",
		"/%5Cevil.example", "https:evil", "https://evil.example", "javascript:alert(1)", "/..//evil.example",
		"/a/../b", "/./x", "/%2e%2e/x", "/@evil.example", "/x@y", "/a\r\nSet-Cookie: x=y", "/a%0d%0aX: y",
		"/a b", "/\x00", "/%00", "/%252F%252Fevil", "/%25252F", "/é", strings.Repeat("/a", 2000),
	}
	for _, s := range good {
		assert.NoError(t, checkReturnTo(s), "%q", s)
	}
	for _, s := range bad {
		assert.ErrorIs(t, checkReturnTo(s), ErrInvalidReturnTo, "%q", s)
	}
}

func TestLoginRefusesUnsafeReturnTo(t *testing.T) {
	op := newTestOP(t)
	app := newTestApp(t, op)
	for _, rt := range []string{"//evil.example", "https://evil.example/", "/\\evil"} {
		resp := app.get(app.browser(), "/login?return_to="+url.QueryEscape(rt))
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, rt)
		assert.Empty(t, resp.Cookies(), "no flow started")
	}
	resp := app.get(app.browser(), "/login?return_to=/a&return_to=/b")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

// FuzzCheckReturnTo: whatever is accepted stays on the app's origin however
// it is resolved or decoded.
func FuzzCheckReturnTo(f *testing.F) {
	for _, s := range []string{"/", "/a?b", "//x", "/\\x", "/%2F%2Fx", "/..//x", "/%09/x"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://app.example/")
	f.Fuzz(func(t *testing.T, s string) {
		if checkReturnTo(s) != nil {
			return
		}
		for _, cand := range []string{s, mustUnescape(s)} {
			u, err := url.Parse(cand)
			if err != nil {
				continue
			}
			r := base.ResolveReference(u)
			if r.Host != "app.example" || r.Scheme != "https" || r.User != nil {
				t.Fatalf("%q escapes to %v", s, r)
			}
			if strings.ContainsAny(cand, "\\\r\n\t") {
				t.Fatalf("%q carries a dangerous character", s)
			}
		}
	})
}

func mustUnescape(s string) string {
	d, err := url.PathUnescape(s)
	if err != nil {
		return s
	}
	return d
}
