// Package testenv starts the real local peers that awsauth's tests and demo talk
// to: an OpenID provider (node oidc-provider, StartOIDC), moto server (Cognito
// identity, STS and Glue, StartMoto), dynalite (DynamoDB, StartDynamoDB), Redis
// (StartRedis, StartRedisSentinel, StartRedisReplicated, StartRedisCluster) and PostgreSQL
// (StartPostgres).
//
// Every Start function picks a free loopback port (unless told one), waits until
// the peer answers, and returns a handle whose Stop kills the peer's whole process
// group. The context given to a Start function bounds the start only: the peer
// runs until Stop. A start that fails returns an error carrying the tail of the
// peer's output.
//
// The token stores' tests import this package, and `go mod tidy` in a module
// that imports a store loads those tests, so this package imports only what the
// store tests need (go-redis, pgx, the DynamoDB client). The peers that need
// more live in subpackages: minio (MinIO, with the S3 SDK), browser (headless
// Chromium, with chromedp) and stack (the quickstart's provider and MinIO
// together). deps_test.go keeps it that way.
//
// Each peer's binary is found through an environment override (AWSAUTH_NODE,
// AWSAUTH_REDIS, AWSAUTH_PGBIN, AWSAUTH_DYNALITE, AWSAUTH_MOTO), else where
// scripts/deps.sh installs it (the tools cache, ${AWSAUTH_TOOLS:-$HOME/.cache/awsauth},
// or the system's PostgreSQL 15), else PATH for peers whose version does not
// matter. Run `bash scripts/deps.sh` to install them.
package testenv
