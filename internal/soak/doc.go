// Package soak is awsauth's soak run (issue 12): the whole stack on loopback
// under hundreds of simulated users, with faults injected on a schedule, for
// a configurable time. TestSoak runs it; `make soak` runs it longer
// (SOAK_DURATION, SOAK_USERS), and `go test ./...` runs the short version
// (100 users, 28 s of load, three fault windows; about 35 s in all).
//
// What runs (Start):
//   - node oidc-provider (internal/testenv/stack) with 12 s access and ID
//     tokens and rotating refresh tokens (a reused refresh token revokes the
//     grant), and MinIO trusting it: STS AssumeRoleWithWebIdentity and S3
//     with a policy confining every user to the prefix "<sub>/", where the
//     user's marker object lies;
//   - Redis, the shared session store (redisstore), reached through a
//     toxiproxy (internal/testenv/toxi);
//   - three authflow Handlers on loopback servers sharing that store and
//     one cookie key ring; each reaches the provider through a second
//     toxiproxy (its HTTP transport dials the proxy for the issuer's
//     host:port, so URLs and Host stay the issuer's), and lists the user's
//     prefix in S3 with the user's own credentials: awscreds.WebIdentity
//     on the session's IDTokenFunc, one per session in an awscreds.UserCache
//     evicted by OnSessionEnd (app.go).
//
// What the users do (user.go): each has its own cookie jar; it signs in on a
// random instance (the app's /login, the provider's login form over plain
// HTTP with testenv.ProviderLoginHTTP, /callback, /me on another instance),
// then calls /me (3 in 4) and /files (1 in 4) on random instances with
// 300-900 ms pauses for 1.5 to 3 token lifetimes, so that every session is
// refreshed (authflow refreshes at half the lifetime), signs out with its
// CSRF token, checks that its old cookie is refused, and signs in again.
//
// Faults (faults.go): after a quiet gap of Duration/7 (4 s to 60 s), a
// window, a gap, and so on while a full gap still follows: Redis black-holed
// for 3 s, the provider's token endpoint slowed by 2 s each way for 5 s,
// Redis down for 3 s, in turn. Each window's start and end are recorded.
//
// What it asserts and prints (Report):
//   - no violation: outside every fault window widened by SettleMargin (2 s
//     after its end; a request counts as inside when its span meets the
//     widened window) no signed-in request answers 401 (a lost session), no
//     request answers 5xx or times out, every login and logout succeeds, and
//     a signed-out cookie is never served;
//   - no answer for another user: /me's sub and /files' sub and keys are the
//     user's own (a violation wherever it happens);
//   - no refresh token redeemed twice, counted at the provider
//     (OIDCProvider.RefreshRedeems), and refreshes did happen;
//   - heap and goroutines flat: the live heap after GC after the run at most
//     HeapTolerance plus half again the heap before it, and at most
//     HeapTolerance above the heap midway; goroutines (toxiproxy's own left
//     out) at most GoroutineTolerance above those before, idle connections
//     closed and Redis pools full at both points;
//   - p50, p99 and max latency per route, failures inside and outside
//     windows, the windows, the provider's and STS's call counts, and the
//     instances' warnings and errors by message.
package soak
