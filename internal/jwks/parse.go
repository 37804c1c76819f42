package jwks

import "context"

// JWS is a JWS Compact Serialization (RFC 7515 §7.1) taken apart by Parse: its protected header
// read and its payload decoded, its signature not yet checked. Nothing in it is to be trusted
// until KeySet.Verify has returned nil for it. Callers that need a claim before the signature
// check (the issuer, to pick the key set) must treat it as the attacker's.
type JWS struct {
	// Alg, Kid and Typ are the protected header's alg, kid and typ ("" when absent).
	Alg, Kid, Typ string
	// Signer and Client are the AWS ALB's header members signer (the load balancer's ARN) and
	// client (the IdP client id); "" when absent.
	Signer, Client string
	// Padded reports that some part carried base64 padding (ParseEncoding with Padded).
	Padded bool
	// Payload is the decoded payload, a fresh slice the caller may keep.
	Payload []byte

	signingInput, signature string
}

// Parse checks the shape of token (at most maxBytes bytes, DefaultMaxTokenBytes when maxBytes is
// zero or less), parses its protected header strictly (see VerifySignature) and decodes its
// payload. It fetches nothing and checks no signature. Errors wrap ErrMalformed or
// ErrUnsupportedHeader and never contain the token.
func Parse(token string, maxBytes int) (JWS, error) {
	return ParseEncoding(token, maxBytes, Unpadded)
}

// ParseEncoding is Parse for parts in the encoding enc: Parse is ParseEncoding with Unpadded;
// only the AWS ALB's tokens are read with Padded.
func ParseEncoding(token string, maxBytes int, enc Encoding) (JWS, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxTokenBytes
	}
	t, err := splitCompact(token, maxBytes, enc)
	if err != nil {
		return JWS{}, err
	}
	h, err := decodeHeader(t.header)
	if err != nil {
		return JWS{}, err
	}
	payload, err := b64.AppendDecode(make([]byte, 0, b64.DecodedLen(len(t.payload))), []byte(t.payload))
	if err != nil {
		return JWS{}, errBase64
	}
	return JWS{
		Alg: h.alg, Kid: h.kid, Typ: h.typ, Signer: h.signer, Client: h.client,
		Padded:  len(t.header)+len(t.payload)+len(t.signature)+2 != len(token),
		Payload: payload, signingInput: t.signingInput, signature: t.signature,
	}, nil
}

// Verify checks t's signature with the key its (kid, alg) selects from the set, fetching or
// refetching the set as r allows (see Refetch). It returns nil only when t.alg is in the
// allow-list and the signature verifies. Errors wrap ErrUnsupportedAlgorithm, ErrInvalidSignature, ErrMalformed
// (a signature that is not base64url, or a JWS not made by Parse), or one of Key's errors.
func (k *KeySet) Verify(ctx context.Context, t *JWS, r Refetch) error {
	if t.signingInput == "" {
		return errNotCompact
	}
	if len(t.signingInput)+1+len(t.signature) > k.maxTokenBytes {
		return errTooLong
	}
	a := k.algs[t.Alg]
	if a == nil {
		return ErrUnsupportedAlgorithm
	}
	wk, err := k.lookup(ctx, t.Kid, a, r)
	if err != nil {
		return err
	}
	var sbuf [512]byte
	sig := sbuf[:0]
	if n := b64.DecodedLen(len(t.signature)); n > len(sbuf) {
		sig = make([]byte, 0, n)
	}
	sig, err = b64.AppendDecode(sig, []byte(t.signature))
	if err != nil {
		return errBase64
	}
	return a.verify(wk.pub, t.signingInput, sig)
}
