package authflow

import (
	"bytes"
	"reflect"
	"testing"
	"time"
)

// FuzzParseCallback: any query parses or fails cleanly, and what parses is
// well-formed.
func FuzzParseCallback(f *testing.F) {
	f.Add("code=abc&state=def&iss=https%3A%2F%2Fidp")
	f.Add("error=access_denied&error_description=%3Cb%3E&state=x")
	f.Add("code=a&code=b&state=s")
	f.Add("%zz=1")
	f.Fuzz(func(t *testing.T, q string) {
		p, err := parseCallback(q)
		if err != nil {
			return
		}
		if p.Error != "" {
			if !errorCodeRE.MatchString(p.Error) {
				t.Fatalf("unchecked error code %q", p.Error)
			}
			return
		}
		if p.Code == "" || p.State == "" {
			t.Fatalf("accepted without code or state: %q", q)
		}
	})
}

// FuzzOpenFlowCookie: arbitrary cookie values never open, never panic, and a
// sealed value opens only under its own name.
func FuzzOpenFlowCookie(f *testing.F) {
	ring, err := newKeyRing([][]byte{bytes.Repeat([]byte{1}, 32)})
	if err != nil {
		f.Fatal(err)
	}
	// Fixed values: fuzz workers rebuild this setup and must agree on name.
	good := flow{State: "s", Nonce: "n", Verifier: "v", ReturnTo: "/x", Created: time.Unix(1700000000, 0)}
	name := (&Handler{cfg: Config{FlowCookiePrefix: defaultFlowCookiePrefix}}).flowCookieName(good.State)
	f.Add(name, ring.seal(name, good.marshal()))
	f.Add(name, "")
	f.Add("other", ring.seal(name, good.marshal()))
	f.Fuzz(func(t *testing.T, cookieName, value string) {
		pt, err := ring.open(cookieName, value, maxFlowCookieLen)
		if err != nil {
			return
		}
		// Only something we sealed under this very name opens.
		if cookieName != name {
			t.Fatalf("opened under another name %q", cookieName)
		}
		var fl flow
		if err := fl.unmarshal(pt); err != nil {
			t.Fatalf("sealed flow does not decode: %v", err)
		}
	})
}

// FuzzFlowUnmarshal: the flow decoder survives any bytes.
func FuzzFlowUnmarshal(f *testing.F) {
	f.Add(newFlow("/", time.Unix(0, 0)).marshal())
	f.Add([]byte{flowVersion, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var fl flow
		if fl.unmarshal(b) == nil && !bytes.Equal(fl.marshal(), b) {
			// Varint encodings are canonical for what marshal writes; a
			// non-canonical input that decodes is fine, so only check it
			// round-trips through a second decode.
			var again flow
			if err := again.unmarshal(fl.marshal()); err != nil || !reflect.DeepEqual(again, fl) {
				t.Fatalf("round trip changed the flow")
			}
		}
	})
}

// FuzzSessionUnmarshal: stored session records are decoded defensively, and
// what decodes re-encodes, no longer, to a record that decodes to the same.
func FuzzSessionUnmarshal(f *testing.F) {
	s := &Session{Subject: "alice", claims: []byte(`{"sub":"alice"}`), Expiry: time.Unix(1, 0)}
	rec, _ := s.marshal()
	f.Add(rec)
	f.Add(rec[:len(rec)/2])
	f.Add([]byte{sessionVersion})
	f.Add([]byte{sessionVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Session
		if s.unmarshal(b) != nil {
			return
		}
		again, err := s.marshal()
		if err != nil {
			t.Fatalf("a decoded session does not encode: %v", err)
		}
		if len(again) > len(b) {
			t.Fatalf("re-encoding grew from %d to %d bytes", len(b), len(again))
		}
		var back Session
		if err := back.unmarshal(again); err != nil || !sameRecord(&s, &back) {
			t.Fatalf("round trip changed the session: %v", err)
		}
	})
}
