package authflow

import "github.com/pubauth/awsauth/authflow/bearer"

// KeySet returns the key set of h's issuer (its discovery document's
// jwks_uri; a Cognito user pool's <issuer>/.well-known/jwks.json, known
// without discovery; primed with Config.JWKS when set), for an API served
// beside the login flow: set it as
// bearer.Issuer.KeySet of the bearer.Issuer whose Issuer is h's Config.Issuer,
// and the callback's ID tokens and the API's bearer tokens share one cache of
// keys and one budget of refetches for unknown kids, with no second
// discovery. The set keeps h's settings (its refetch interval, its
// algorithms from discovery); the bearer.Issuer's Algorithms still bound what
// the verifier accepts. Use it for no other issuer.
func (h *Handler) KeySet() *bearer.KeySet { return h.keySet }
