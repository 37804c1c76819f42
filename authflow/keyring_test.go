package authflow

import (
	"bytes"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
)

// G.29: the flow cookie opens under any key in the ring and under no other;
// a key rotated in first seals new flows while the old one still opens.
func TestCookieKeyRotation(t *testing.T) {
	keyA := bytes.Repeat([]byte{'a'}, 32)
	keyB := bytes.Repeat([]byte{'b'}, 32)
	tests := []struct {
		name   string
		ring   [][]byte
		status int
	}{
		{"new key first, old key kept", [][]byte{keyB, keyA}, http.StatusSeeOther},
		{"old key retired", [][]byte{keyB}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := newTestOP(t)
			started := newTestApp(t, op, func(c *Config) { c.CookieKeys = [][]byte{keyA} })
			c := started.browser()
			cb := started.startLogin(c, "/")

			// Another instance, behind the same public URL, completes it.
			other := newTestApp(t, op, func(c *Config) {
				c.CookieKeys = tt.ring
				c.RedirectURL = started.h.cfg.RedirectURL
			})
			u, _ := url.Parse(cb)
			u.Host = other.srv.Listener.Addr().String()
			resp := other.get(c, u.String())
			assert.Equal(t, tt.status, resp.StatusCode)
		})
	}
}

func TestKeyRingCSRF(t *testing.T) {
	old, err := newKeyRing([][]byte{bytes.Repeat([]byte{1}, 32)})
	assert.NoError(t, err)
	rotated, err := newKeyRing([][]byte{bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{1}, 32)})
	assert.NoError(t, err)
	id := randomToken()
	tok := old.csrfToken(id)
	assert.True(t, rotated.checkCSRF(id, tok), "a token under the previous key still works")
	assert.False(t, rotated.checkCSRF(randomToken(), tok), "bound to its session")
	assert.False(t, old.checkCSRF(id, rotated.csrfToken(id)), "a newer key is unknown to the old ring")
}
