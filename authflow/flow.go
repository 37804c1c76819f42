package authflow

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"

	"github.com/pubauth/awsauth/pkce"
)

// maxFlowCookieLen bounds a flow cookie before it is decoded.
const maxFlowCookieLen = 4096

// flow is what a login must remember until its callback: the values the
// authorization request committed to, and where to go afterwards.
type flow struct {
	State    string
	Nonce    string
	Verifier string
	ReturnTo string
	Created  time.Time
}

// newFlow makes a flow with 256-bit state and nonce from crypto/rand.
func newFlow(returnTo string, now time.Time) flow {
	return flow{
		State:    randomToken(),
		Nonce:    randomToken(),
		Verifier: pkce.NewVerifier(),
		ReturnTo: returnTo,
		Created:  now,
	}
}

// randomToken returns 32 random bytes as base64url (43 characters).
func randomToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

const flowVersion = 1

func (f flow) marshal() []byte {
	b := []byte{flowVersion}
	b = binary.AppendVarint(b, f.Created.UnixNano())
	for _, s := range []string{f.State, f.Nonce, f.Verifier, f.ReturnTo} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

var errFlowCorrupt = errors.New("authflow: corrupt flow record")

func (f *flow) unmarshal(b []byte) error {
	if len(b) == 0 || b[0] != flowVersion {
		return errFlowCorrupt
	}
	b = b[1:]
	created, n := binary.Varint(b)
	if n <= 0 {
		return errFlowCorrupt
	}
	b = b[n:]
	var fields [4]string
	for i := range fields {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return errFlowCorrupt
		}
		fields[i] = string(b[n : n+int(l)])
		b = b[n+int(l):]
	}
	if len(b) != 0 {
		return errFlowCorrupt
	}
	*f = flow{
		State: fields[0], Nonce: fields[1], Verifier: fields[2], ReturnTo: fields[3],
		Created: time.Unix(0, created),
	}
	return nil
}
