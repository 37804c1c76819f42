// Package jwt is the module's one JWT verification core: every JWT awsauth accepts (ID tokens at
// the login callback and after a refresh, bearer access and ID tokens of APIs, back-channel
// logout tokens) and the AWS ALB's x-amzn-oidc-data is parsed, verified and checked here, by
// profile.
//
// The layers, each in one file:
//
//   - Parse: the JWS Compact Serialization, bounded and strict (internal/jwks), and one strict
//     claims decoder (claims.go): duplicate and case-folded member names refused, NumericDate
//     typed (a number, never a string), fuzzed differentially against encoding/json.
//   - Verifier.VerifyParsed: explicit typing (typ, RFC 8725 §3.11), the exact issuer, the
//     ALB's signer, the algorithm allow-list, the signature with the issuer's KeySource (a
//     jwks.KeySet, whose refetch policy the caller picks per token, or the ALB's per-kid
//     jwks.PEMKeys), the registered claims with one clock skew (DefaultClockSkew) and one
//     lifetime bound, sub, then the Profile.
//   - Profile: what differs between kinds of token: accepted typ values, token_use, the
//     audience rule (IDToken: OIDC Core §3.1.3.7; AccessToken: Cognito and RFC 9068; ALB: the
//     signer header; LogoutToken: OIDC Back-Channel Logout 1.0, a Security Event Token with its
//     event, no nonce, a jti, a recent iat), iat required or not, base64 padding (ALB only). A new kind of token is a
//     new Profile constructor here, not a new verifier elsewhere.
//
// Errors form one sentinel set (errors.go): every refusal wraps ErrInvalid and one reason; a
// key set that could not be fetched is ErrKeySetUnavailable. Messages never carry the token or a
// claim value. go-oidc is used for discovery only.
package jwt
