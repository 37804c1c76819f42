package bearer

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// FuzzBearerToken: any Authorization value parses or fails with one of the
// sentinels, without panic; what parses is a b64token that round-trips.
func FuzzTokenFromHeader(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer a.b.c", "BEARER  x==", "Basic YQ==", "Bearer", "Bearer a b",
		"Bearer a,b", "Bearer\ta", " Bearer x", "Bearer é", "Bearer " + strings.Repeat("a", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		tok, err := TokenFromHeader(http.Header{"Authorization": {v}}, 256)
		if err != nil {
			if tok != "" {
				t.Fatal("token returned with an error")
			}
			if _, code := statusOf(err); code == "insufficient_scope" {
				t.Fatalf("unexpected class: %v", err)
			}
			return
		}
		if !isB64Token(tok) || len(v) > 256 {
			t.Fatalf("accepted %q from %q", tok, v)
		}
		again, err := TokenFromHeader(http.Header{"Authorization": {"Bearer " + tok}}, 0)
		if err != nil || again != tok {
			t.Fatalf("round trip of %q: %q %v", tok, again, err)
		}
	})
}

// FuzzBearerVerify feeds arbitrary tokens to an offline Bearer holding the
// fixed benchmark key: no panic, a clean error, and nothing accepted but the
// one genuine token (no forgery, no second encoding of it).
func FuzzBearerVerify(f *testing.F) {
	tok, doc := benchTestdata(f)
	b := benchBearer(f, doc, -1)
	parts := strings.Split(tok, ".")
	f.Add(tok)
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add(parts[0] + "." + parts[1] + "." + parts[2] + "=")
	f.Add("eyJhbGciOiJub25lIn0." + parts[1] + ".")
	f.Add(parts[0] + ".." + parts[2])
	f.Add(strings.Repeat(".", 64))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := b.Verify(ctx, raw)
		if err != nil {
			if c != nil {
				t.Fatal("claims with an error")
			}
			if status, _ := statusOf(err); status != http.StatusUnauthorized {
				t.Fatalf("offline verification gave status %d: %v", status, err)
			}
			return
		}
		if raw != tok {
			t.Fatalf("accepted a token other than the genuine one: %q", raw)
		}
	})
}
