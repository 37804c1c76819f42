// Package mototest holds awscreds' tests against moto server (internal/testenv.StartMoto;
// scripts/deps.d/moto.sh installs it, and a missing install fails them), apart from the
// package's own tests so that those need no peer. Moto checks no logins and verifies no
// token: these tests show the wire protocol, each flow's calls in order, the real expiry, the
// identity id cache across a restart, and the refresh under aws.CredentialsCache.
package mototest
