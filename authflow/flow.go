package authflow

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
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

	// What the authorization request asked of the authentication, which the
	// callback checks the ID token against (stepup.go): prompt as sent,
	// max_age (0: not sent) and acr_values.
	Prompt    string
	MaxAge    time.Duration
	ACRValues []string
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

// The flow cookie's record, version 3 (codec.go): Created as a time, then
// State, Nonce, Verifier, ReturnTo and Prompt as strings, MaxAge in seconds
// as a uint, and ACRValues as one space-separated string (acr_values' own
// form: a value holds no space).
const flowVersion = 3

func (f flow) marshal() []byte {
	acr := strings.Join(f.ACRValues, " ")
	w := newRecordWriter(flowVersion, timeSize+7*lengthSize+len(f.State)+len(f.Nonce)+len(f.Verifier)+
		len(f.ReturnTo)+len(f.Prompt)+len(acr))
	w.time(f.Created)
	w.string(f.State)
	w.string(f.Nonce)
	w.string(f.Verifier)
	w.string(f.ReturnTo)
	w.string(f.Prompt)
	w.uint(uint64(f.MaxAge / time.Second))
	w.string(acr)
	return w.b
}

// unmarshal decodes a record written by marshal into f. It returns an error
// wrapping errCorruptRecord when b is not exactly one flow record; f is then
// unchanged.
func (f *flow) unmarshal(b []byte) error {
	r := readRecord("flow cookie", b, flowVersion, maxFlowCookieLen)
	var d flow
	d.Created = r.time()
	d.State = r.string()
	d.Nonce = r.string()
	d.Verifier = r.string()
	d.ReturnTo = r.string()
	d.Prompt = r.string()
	maxAge := r.uint()
	if acr := r.string(); acr != "" {
		d.ACRValues = strings.Fields(acr)
	}
	if maxAge > maxMaxAge {
		r.fail("max_age out of range")
	}
	d.MaxAge = time.Duration(maxAge) * time.Second
	if err := r.done(); err != nil {
		return err
	}
	*f = d
	return nil
}
