package jwt

import "errors"

// Reason names the class of a verification error in a small fixed set, for telemetry's
// error.type (never free text): "malformed", "type", "issuer", "algorithm", "signer",
// "signature", "expired", "not_yet_valid", "issued_at", "lifetime", "claims" (exp, iat, sub or
// a required jti missing), "event", "token_use", "client_id", "audience", "authorized_party", "nonce",
// "auth_time", "acr", "key_set_unavailable", or "invalid" for another refusal. nil gives "".
func Reason(err error) string {
	if err == nil {
		return ""
	}
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	return "invalid"
}

// reasons is searched in order: the specific sentinels before ErrMalformed, which wraps some.
var reasons = []struct {
	err  error
	name string
}{
	{ErrKeySetUnavailable, "key_set_unavailable"},
	{ErrExpired, "expired"},
	{ErrSignature, "signature"},
	{ErrIssuer, "issuer"},
	{ErrClientID, "client_id"},
	{ErrAudience, "audience"},
	{ErrAuthorizedParty, "authorized_party"},
	{ErrTokenUse, "token_use"},
	{ErrType, "type"},
	{ErrAlgorithm, "algorithm"},
	{ErrSigner, "signer"},
	{ErrNotYetValid, "not_yet_valid"},
	{ErrIssuedAt, "issued_at"},
	{ErrLifetime, "lifetime"},
	{ErrNoExpiry, "claims"},
	{ErrNoIssuedAt, "claims"},
	{ErrSubject, "claims"},
	{ErrNoID, "claims"},
	{ErrEvent, "event"},
	{ErrNonce, "nonce"},
	{ErrAuthTime, "auth_time"},
	{ErrACR, "acr"},
	{ErrMalformed, "malformed"},
}
