package jwt

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzClaims checks the claims decoder differentially against encoding/json:
// whatever it accepts, encoding/json reads as the same object with the same
// registered claims (so Claims.Decode agrees with what was checked), and a
// payload with a duplicate member is never accepted.
func FuzzClaims(f *testing.F) {
	for _, s := range []string{
		`{"iss":"https://idp","sub":"a","aud":["x","y"],"exp":1.5,"iat":0,"scope":"a b","cognito:groups":["g"]}`,
		`{"nonce":"n","sid":"s","acr":"1","auth_time":12,"NONCE":"m"}`, `{"auth_time":"1"}`,
		`{"iss":"a","iss":"b"}`, `{"ISS":"a"}`, `{"scope":"a","ſcope":"b"}`, `{"iss":"a","\u017fub":"b"}`, `{"iss":"\u0061"}`, `{"exp":"1"}`, `{"exp":1e400}`, `{"aud":[]}`,
		`{"x":{"y":[1,2,{"z":null}]}}`, `{"events":{"http://schemas.openid.net/event/backchannel-logout":{}}}`,
		`{"events":{"a":{},"b":{"c":[1]}}}`, `{"events":{"a":1}}`, `{"events":[]}`, `{"EVENTS":{}}`, `{} `, `{"a":1}x`, "{\"sub\":\"\xff\"}", `{"sub":"a\u0000"}`, `[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		c := new(Claims)
		if err := decodeClaims(c, payload, nil); err != nil {
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
			c.TokenUse != str("token_use") || c.ID != str("jti") || c.AuthorizedParty != str("azp") ||
			c.Nonce != str("nonce") || c.SessionID != str("sid") || c.ACR != str("acr") {
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
		for name, got := range map[string]time.Time{"exp": c.Expiry, "iat": c.IssuedAt, "nbf": c.NotBefore, "auth_time": c.AuthTime} {
			raw, ok := m[name]
			if !ok {
				if !got.IsZero() || c.Has(claimID([]byte(name))) {
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
		// events: the member names, each value an object (RFC 8417 §2.2).
		if raw, ok := m["events"]; ok {
			var ev map[string]json.RawMessage
			if err := json.Unmarshal(raw, &ev); err != nil || len(ev) != len(c.Events) {
				t.Fatalf("events %v accepted from %s", c.Events, raw)
			}
			for _, name := range c.Events {
				if v, ok := ev[name]; !ok || !strings.HasPrefix(strings.TrimLeft(string(v), " \t\r\n"), "{") {
					t.Fatalf("events member %q not an object in %s", name, raw)
				}
			}
		} else if c.Events != nil || c.Has(ClaimEvents) {
			t.Fatal("events set without a member")
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

// FuzzVerify feeds arbitrary tokens to a verifier of each profile on an offline key set: no
// panic, an error in the sentinel set, and nothing accepted but the genuine tokens.
func FuzzVerify(f *testing.F) {
	ks := offlineKeys(f)
	id := newVerifier(f, ks, IDToken([]string{testClient}, nil, true))
	access := newVerifier(f, ks, AccessToken([]string{testClient}, nil, false, false))
	typed := newVerifier(f, ks, AccessToken([]string{testClient}, nil, true, true))
	goodID := mint(f, 0, nil, idClaims())
	goodAccess := mint(f, 0, nil, accessClaims())
	goodTyped := mint(f, 0, map[string]any{"typ": "at+jwt"}, accessClaims())
	logout := newVerifier(f, ks, LogoutToken([]string{testClient}, nil))
	goodLogout := mint(f, 0, map[string]any{"typ": "logout+jwt"}, logoutClaims())
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	alb, err := New(Config{Issuer: testIssuer, Keys: albKeys(f, ec), Profile: ALB([]string{testSigner}, []string{testClient}),
		Now: func() time.Time { return testNow }})
	if err != nil {
		f.Fatal(err)
	}
	goodALB := mintALB(f, ec, nil, albClaims(), padded)
	goodALBRawSig := strings.TrimRight(goodALB, "=") // the signature's padding is not signed
	for _, s := range []string{goodID, goodAccess, goodTyped, goodID + "=", "a.b.c", strings.Repeat(".", 64),
		"eyJhbGciOiJub25lIn0." + strings.Split(goodID, ".")[1] + ".", goodALB, strings.ReplaceAll(goodALB, "=", ""), goodLogout} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for name, c := range map[string]struct {
			v    *Verifier
			good []string
		}{"id": {id, []string{goodID}}, "access": {access, []string{goodAccess, goodTyped}}, "typed": {typed, []string{goodTyped}},
			"logout": {logout, []string{goodLogout}}, "alb": {alb, []string{goodALB, goodALBRawSig}}} {
			claims, err := c.v.Verify(t.Context(), raw, Options{})
			if err != nil {
				if claims != nil || !errors.Is(err, ErrInvalid) {
					t.Fatalf("%s: %v (claims %v)", name, err, claims != nil)
				}
				continue
			}
			if !slices.Contains(c.good, raw) {
				t.Fatalf("%s: accepted a token other than the genuine ones: %q", name, raw)
			}
		}
	})
}
