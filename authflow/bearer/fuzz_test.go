package bearer

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
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

// FuzzBearerClaims checks parseClaims differentially against encoding/json:
// whatever it accepts, encoding/json reads as the same object with the same
// registered claims (so Claims.Decode agrees with what was checked), and a
// payload with a duplicate member is never accepted.
func FuzzBearerClaims(f *testing.F) {
	for _, s := range []string{
		`{"iss":"https://idp","sub":"a","aud":["x","y"],"exp":1.5,"iat":0,"scope":"a b","cognito:groups":["g"]}`,
		`{"iss":"a","iss":"b"}`, `{"ISS":"a"}`, `{"scope":"a","ſcope":"b"}`, `{"iss":"a","\u017fub":"b"}`, `{"iss":"\u0061"}`, `{"exp":"1"}`, `{"exp":1e400}`, `{"aud":[]}`,
		`{"x":{"y":[1,2,{"z":null}]}}`, `{} `, `{"a":1}x`, "{\"sub\":\"\xff\"}", `{"sub":"a\u0000"}`, `[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		c, err := parseClaims(payload, nil)
		if err != nil {
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(payload, &m); err != nil {
			t.Fatalf("accepted what encoding/json refuses: %v", err)
		}
		if hasDuplicateName(payload) {
			t.Fatal("accepted a duplicate member")
		}
		str := func(name string) string {
			var s string
			if raw, ok := m[name]; ok {
				if err := json.Unmarshal(raw, &s); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}
			return s
		}
		if c.Issuer != str("iss") || c.Subject != str("sub") || c.ClientID != str("client_id") ||
			c.TokenUse != str("token_use") || c.ID != str("jti") || c.AuthorizedParty != str("azp") {
			t.Fatalf("string claims differ from encoding/json: %+v", c)
		}
		var want []string // RFC 6749 §3.3: delimited by spaces, and only by spaces
		for _, tok := range strings.Split(str("scope"), " ") {
			if tok != "" {
				want = append(want, tok)
			}
		}
		if len(want) > 0 && !reflect.DeepEqual(c.Scopes, want) {
			t.Fatalf("scope %q vs %q", c.Scopes, want)
		}
		for name, got := range map[string]time.Time{"exp": c.Expiry, "iat": c.IssuedAt, "nbf": c.NotBefore} {
			raw, ok := m[name]
			if !ok {
				if !got.IsZero() {
					t.Fatalf("%s set without a member", name)
				}
				continue
			}
			var f float64
			if err := json.Unmarshal(raw, &f); err != nil || f < 0 || f > maxNumericDate {
				t.Fatalf("%s accepted as %v from %s", name, got, raw)
			}
			if d := got.Sub(time.Unix(0, 0)).Seconds() - f; d > 1e-3 || d < -1e-3 {
				t.Fatalf("%s = %v, encoding/json %v", name, got, f)
			}
		}
		// Claims.Decode into a struct with the registered names sees the same values.
		var viaJSON struct {
			Iss   string   `json:"iss"`
			Sub   string   `json:"sub"`
			Scope string   `json:"scope"`
			Aud   any      `json:"aud"`
			Grps  []string `json:"cognito:groups"`
		}
		if err := c.Decode(&viaJSON); err == nil {
			if viaJSON.Iss != c.Issuer || viaJSON.Sub != c.Subject || viaJSON.Scope != str("scope") {
				t.Fatalf("Decode disagrees: %+v vs %+v", viaJSON, c)
			}
			if len(c.Groups) > 0 && !reflect.DeepEqual(viaJSON.Grps, c.Groups) {
				t.Fatalf("groups: %v vs %v", viaJSON.Grps, c.Groups)
			}
		}
	})
}

// hasDuplicateName reports whether any object in the JSON document repeats a
// member name (after unescaping), by encoding/json's own token stream.
func hasDuplicateName(doc []byte) bool {
	dec := json.NewDecoder(strings.NewReader(string(doc)))
	type frame struct {
		names map[string]bool
		obj   bool
		key   bool // the next token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top != nil && top.obj {
					top.key = true
				}
				stack = append(stack, &frame{names: map[string]bool{}, obj: v == '{', key: v == '{'})
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		case string:
			if top != nil && top.obj && top.key {
				if top.names[v] {
					return true
				}
				top.names[v] = true
				top.key = false
				continue
			}
		}
		if top != nil && top.obj {
			top.key = true
		}
	}
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
