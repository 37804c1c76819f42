package jwks

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"strings"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
)

// b64 is base64url without padding (RFC 7515 §2), strict about the unused trailing bits so that
// each part has exactly one encoding.
var b64 = base64.RawURLEncoding.Strict()

// isBase64URL reports, per byte, whether it is in the base64url alphabet (RFC 4648 §5).
var isBase64URL = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[c] = true
	}
	return t
}()

// compact is a token split into its parts; the strings point into the token.
type compact struct {
	header, payload, signature string
	signingInput               string // header + "." + payload
}

// splitCompact checks the shape of a JWS Compact Serialization (RFC 7515 §7.1) before any
// decoding: at most max bytes, exactly two dots, three non-empty parts of base64url characters of
// a decodable length. With Padded, a part may also end in the padding of RFC 4648 §5 (see
// trimPadding); the parts returned are without it, the signing input is as sent. It allocates
// nothing, hostile input included.
func splitCompact(token string, max int, enc Encoding) (compact, error) {
	if len(token) > max {
		return compact{}, errTooLong
	}
	dot1, dot2 := -1, -1
	for i := 0; i < len(token); i++ {
		c := token[i]
		if isBase64URL[c] {
			continue // a table lookup: a chain of range checks mispredicts on random text
		}
		switch {
		case c == '.' && dot1 < 0:
			dot1 = i
		case c == '.' && dot2 < 0:
			dot2 = i
		case c == '=' && enc == Padded:
			// checked per part by trimPadding
		default: // a third dot, padding, whitespace, '{' of the JSON serialization, ...
			return compact{}, errNotCompact
		}
	}
	if dot2 < 0 {
		return compact{}, errNotCompact
	}
	t := compact{
		header:       token[:dot1],
		payload:      token[dot1+1 : dot2],
		signature:    token[dot2+1:],
		signingInput: token[:dot2],
	}
	if enc == Padded {
		var ok1, ok2, ok3 bool
		t.header, ok1 = trimPadding(t.header)
		t.payload, ok2 = trimPadding(t.payload)
		t.signature, ok3 = trimPadding(t.signature)
		if !ok1 || !ok2 || !ok3 {
			return compact{}, errBase64
		}
	}
	if t.header == "" || t.payload == "" || t.signature == "" {
		return compact{}, errEmptyPart
	}
	// A length of 1 mod 4 can't come from any bytes.
	if len(t.header)%4 == 1 || len(t.payload)%4 == 1 || len(t.signature)%4 == 1 {
		return compact{}, errBase64
	}
	return t, nil
}

// Encoding is how the parts of a JWS Compact Serialization are base64url-encoded.
type Encoding uint8

const (
	// Unpadded is RFC 7515 §2: base64url with every trailing "=" omitted. Every token but the
	// AWS ALB's.
	Unpadded Encoding = iota
	// Padded also accepts each part padded with "=" as RFC 4648 §5 pads it (the padding a
	// part needs, at its end, nothing more): what an AWS Application Load Balancer sends in
	// x-amzn-oidc-data. The padding of the header and payload is part of the signing input;
	// the signature's is not, so "sig" and "sig==" are one signature.
	Padded
)

// trimPadding returns part without its padding, and false when the padding is not exactly what
// RFC 4648 §5 would add to the unpadded part: "=" only at the end, and only to a multiple of 4.
func trimPadding(part string) (string, bool) {
	n := len(part)
	for n > 0 && part[n-1] == '=' {
		n--
	}
	pad := len(part) - n
	if strings.IndexByte(part[:n], '=') >= 0 {
		return "", false
	}
	if pad > 0 && (pad > 2 || len(part)%4 != 0 || pad != 4-n%4) {
		return "", false
	}
	return part[:n], true
}

// header holds what the key set uses from a JWS protected header.
type header struct {
	alg, kid, typ string
	// signer and client are the AWS ALB's members: the load balancer's ARN and the IdP's
	// client id (Elastic Load Balancing User Guide, "Authenticate users using an Application
	// Load Balancer").
	signer, client string
}

// refused lists the header members this package never accepts (lower case). crit: no
// extension is understood (RFC 7515 §4.1.11); jwk, jku, x5u, x5c: keys named by the token
// itself (RFC 8725 §3.10); enc, zip: a JWE header; b64: RFC 7797 unencoded payloads.
var refused = [...]string{"crit", "jwk", "jku", "x5u", "x5c", "enc", "zip", "b64"}

// known lists the members read here; with refused, the names whose case variants are refused.
var known = [...]string{"alg", "kid", "typ", "cty"}

// decoderPool recycles the JSON decoders of parseHeader.
var decoderPool = sync.Pool{New: func() any { return new(headerDecoder) }}

type headerDecoder struct {
	buf []byte // the decoded header
	r   bytes.Reader
	dec jsontext.Decoder
}

// decodeHeader base64url-decodes and parses a protected header with a pooled buffer and decoder.
func decodeHeader(encoded string) (header, error) {
	hd := decoderPool.Get().(*headerDecoder)
	defer decoderPool.Put(hd)
	var err error
	hd.buf, err = b64.AppendDecode(hd.buf[:0], []byte(encoded))
	if err != nil {
		return header{}, errBase64
	}
	h, err := hd.parse(hd.buf)
	if cap(hd.buf) > 4<<10 {
		hd.buf = nil // don't pin a hostile header's buffer in the pool
	}
	return h, err
}

// parseHeader parses a decoded protected header strictly: one JSON object with no duplicate
// member (after unescaping), valid UTF-8, alg and kid strings, typ and cty strings when present,
// no refused member, and no member equal to a registered name but for case (encoding/json would
// match "ALG" to alg; go-jose would not: the two must never disagree on a header this accepts).
// Other members are skipped.
func parseHeader(data []byte) (header, error) {
	hd := decoderPool.Get().(*headerDecoder)
	defer decoderPool.Put(hd)
	return hd.parse(data)
}

func (hd *headerDecoder) parse(data []byte) (header, error) {
	defer hd.r.Reset(nil)
	hd.r.Reset(data)
	hd.dec.Reset(&hd.r) // default options: duplicate names and invalid UTF-8 are errors
	dec := &hd.dec

	var h header
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return header{}, errHeaderJSON
	}
	hasAlg := false
	for dec.PeekKind() == '"' {
		name, err := dec.ReadToken()
		if err != nil {
			return header{}, errHeaderJSON
		}
		switch n := name.String(); n {
		case "alg", "kid", "typ", "cty", "signer", "client":
			v, err := dec.ReadToken()
			if err != nil {
				return header{}, errHeaderJSON
			}
			if v.Kind() != '"' {
				return header{}, errHeaderType
			}
			switch n {
			case "alg":
				h.alg, hasAlg = v.String(), true
			case "kid":
				h.kid = v.String()
			case "typ":
				h.typ = v.String()
			case "signer":
				h.signer = v.String()
			case "client":
				h.client = v.String()
			}
		default:
			for _, r := range refused {
				if strings.EqualFold(n, r) {
					return header{}, ErrUnsupportedHeader
				}
			}
			for _, r := range known {
				if strings.EqualFold(n, r) {
					return header{}, errHeaderFolded
				}
			}
			if err := dec.SkipValue(); err != nil {
				return header{}, errHeaderJSON
			}
		}
	}
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '}' {
		return header{}, errHeaderJSON
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return header{}, errHeaderJSON
	}
	if !hasAlg {
		return header{}, errNoAlg
	}
	return h, nil
}

// VerifySignature verifies a JWS Compact Serialization with the key its header selects, an
// unknown kid refetching under RefetchLimited, and returns the decoded payload. It checks the
// signature and the header only, never claims: tokens are verified by internal/jwt. Errors wrap ErrMalformed,
// ErrUnsupportedAlgorithm, ErrUnsupportedHeader, ErrInvalidSignature, or one of Key's errors.
func (k *KeySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	t, err := Parse(jwt, k.maxTokenBytes)
	if err != nil {
		return nil, err
	}
	if err := k.Verify(ctx, &t, RefetchLimited); err != nil {
		return nil, err
	}
	return t.Payload, nil
}
