// Package jwks is the one JSON Web Key Set (RFC 7517) the SDK trusts: the key set behind the
// verification core (internal/jwt), for ID tokens at the login callback and bearer tokens of APIs.
//
// A [KeySet] fetches its jwks_uri lazily, caches the keys and refetches only when a token names a
// key it does not hold, at most once per [Config.RefetchInterval], whoever asks: a flood of tokens
// with made-up kids costs one fetch per interval ([RefetchLimited]). A token straight from the
// issuer's token endpoint, which no stranger can send, may ask for its own fetch whatever the
// interval ([RefetchOnce]). A bad signature under a known kid never costs a
// fetch. A failed fetch keeps the cached keys in use; a successful one replaces the whole set, so a
// key the provider retired stops verifying at the next fetch. There is no periodic refresh.
//
// [KeySet.Verify] (and [KeySet.VerifySignature]) accepts only the JWS Compact
// Serialization (RFC 7515 §7.1) of at most [DefaultMaxTokenBytes], with an algorithm from the
// allow-list (asymmetric algorithms of RFC 7518 §3 and RFC 8037 only) and a protected header that
// carries no crit, jwk, jku, x5u, x5c, enc, zip or b64 member (RFC 8725 §3.1, §3.10).
//
// # Key selection
//
// A token's (kid, alg) selects a key as follows. A key is usable for an algorithm when its kty and
// curve fit the algorithm and its own "alg", if any, equals it.
//
//   - kid present (a non-empty string; "" counts as absent): the keys with that kid that are usable
//     for alg; a key published without a kid never matches a token that names one. One → it; several →
//     [ErrAmbiguousKey]; none although the kid is in the set → [ErrKeyMismatch], without a refetch
//     (the header is the attacker's, so it must not buy a fetch); kid not in the set → a refetch
//     if the interval allows it, else [ErrUnknownKey].
//   - kid absent: the set's keys usable for alg, whatever their kid. Exactly one → it (providers
//     with a single key often omit kid); several → [ErrAmbiguousKey], never "try each"; none → as
//     for an unknown kid.
//
// [PEMKeys] is the other key source of the core: keys published one per kid as PEM, the AWS
// Application Load Balancer's; [ParseEncoding] with [Padded] reads the ALB's padded base64url.
//
// Keys that are not for signatures (use other than "sig", key_ops without "verify"), of an unknown
// kty, with unparseable material, with private material, with an "alg" outside the allow-list, or
// RSA keys under 2048 bits are skipped when the set is loaded; they never make the whole set fail.
package jwks
