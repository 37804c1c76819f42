// Package optest holds authflow/bearer's tests against a real OpenID provider
// (oidc-provider, internal/testenv; scripts/deps.sh installs it, and a missing
// install fails them), apart from the package's own tests so that those need no
// peer: token introspection (RFC 7662) of a token active, then revoked at the
// provider's revocation endpoint (RFC 7009), refused within the revocation
// cache's bound.
package optest
