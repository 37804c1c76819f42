// Package faults holds the fault matrix of issue 12: each peer of the module
// (the session stores, the provider's token endpoint, the AWS endpoints)
// behind a toxiproxy (internal/testenv/toxi) or restarted for real, and for
// every cell the behaviour written down here first, then asserted by one
// subtest named "<peer>/<fault>". The package has tests only.
//
// The expectations live in three places, each beside its tests:
//
//   - the session stores (Redis, PostgreSQL, dynalite): below, for
//     TestStoreFaults;
//   - the provider's token endpoint and moto (STS, Cognito Identity):
//     EXPECTED_provider.md, for TestPeerFaults;
//   - failover under load (a Redis master killed under Sentinel, PostgreSQL
//     restarted, three app instances and many users refreshing): the doc
//     comments of TestRedisFailover and TestPostgresRestart.
//
// The soak run, all of it at once on a schedule, is internal/soak.
//
// # Session stores (store_*_test.go)
//
// TestStoreFaults runs a real authflow Handler against one oidc-provider
// (testenv.StartOIDC, refresh tokens rotated: a reused one revokes the
// grant), signing users in over plain HTTP (testenv.ProviderLoginHTTP), with
// Config.Store one of:
//
//   - redis: redisstore on go-redis with its default options (ReadTimeout 3 s,
//     3 retries, context deadlines ignored: ContextTimeoutEnabled false);
//   - postgres: sqlstore on database/sql with pgx's stdlib driver;
//   - dynamo: dynamostore on aws-sdk-go-v2's dynamodb client (its standard
//     retryer) against dynalite;
//
// each dialled through a toxi proxy. Config.StoreTimeout is left at its
// default, 3 s: the bound of every single store operation, whatever the
// backend's client does (authflow abandons a call still running at the
// bound; its goroutine ends when the client gives up or is closed).
//
// Faults (the columns; a cell is "<store>/<fault>"):
//
//   - latency-2s: every round trip to the store takes 2 s longer (1 s each
//     way), below StoreTimeout. Behind -faults.long (about 12 s a store).
//   - latency-beyond: 5 s each way (10 s a round trip), beyond StoreTimeout.
//   - reset: requests reach the store, the connection is reset as the answer
//     starts (the store acted; the app never learns the outcome).
//   - blackhole: connections open, no byte passes.
//   - restart: the server process is stopped and started again on the same
//     port and data directory (not through toxi).
//   - fenced-write: a refresh whose token request succeeded (the provider has
//     rotated the refresh token) finds the store unreachable for its fenced
//     write (Locker.SetFenced): the proxy closes every connection and refuses
//     new ones (toxi.Down), so the write can't land late. The cell's app has
//     RefreshTimeout 4 s (the refresh lease's TTL) to keep it short.
//     fenced-write-brief heals the link while the write is being retried.
//
// What every cell checks, during the fault (the signed-in request, a login
// callback and a logout run at once, each from its own browser):
//
//  1. Signed-in request (RequireLogin, a session stored before the fault):
//     latency-2s: 200, the user's own page. latency-beyond, blackhole: 503
//     temporarily_unavailable after StoreTimeout (between 3 s and 4 s), the
//     session kept. reset, restart (while the server is down): 503 within
//     StoreTimeout (the clients' own retries fail sooner), the session kept.
//  2. Login callback during the fault: latency-2s: redis 303 with a session
//     cookie (its index write and its record write are one round trip each,
//     2 s, under the bound); postgres and dynamo 503 (the index write is a
//     transaction of several round trips, or GetItem + PutItem: over 3 s). Every
//     other fault: 503 within StoreTimeout. A callback that answers 503 sets
//     no session cookie, and no session it names can be used afterwards: no
//     half-written session.
//  3. Logout during the fault (a second session): latency-2s: 303 to the
//     provider's logout, cookie cleared, the session gone; postgres may
//     instead answer 503 as below (corrected after the first run: pgx
//     prepares a statement on its first use on a connection, a second round
//     trip, 4 s, over the bound). Every other fault:
//     503 within StoreTimeout, the cookie kept and the session still there
//     after the fault: the user is still signed in and can log out then.
//  4. After the fault ends (Heal, or the restarted server accepts
//     connections), the session stored before the fault is served (200)
//     within 1 s: no session lost outside the fault window. restart: the
//     stores keep their data across the restart (Redis: an append-only file
//     fsynced on every write; PostgreSQL: committed rows; dynalite: its
//     LevelDB).
//  5. No goroutine leak: once the cell's app, store client and proxy are
//     closed, runtime.NumGoroutine is back to what it was before the cell
//     (within a bounded wait).
//  6. No token in the logs: the captured slog output (Debug level) holds none
//     of the cell's session ids, authorization codes, access, ID or refresh
//     tokens.
//
// fenced-write, in detail: the provider has spent the old refresh token, so
// giving up on the write would bring it back. The library tries the fenced
// write again, with backoff (100 ms doubling to 1 s), until it lands, the
// lease is lost, or RefreshTimeout ends; it does not keep the rotated tokens
// in process memory: the lease and the fenced write make the store the one
// source of truth across instances, and tokens held in one process would fork
// the session between instances and be lost at its next restart anyway.
//
//   - fenced-write-brief: the store comes back within RefreshTimeout (healed
//     once the first failed write is logged): the write lands, the request is
//     served (200, within RefreshTimeout), the rotated tokens are stored, the
//     next refresh presents the new refresh token: no reuse at the provider,
//     the user stays signed in. Nothing is lost.
//   - fenced-write: the store stays unreachable for all of RefreshTimeout:
//     the request that triggered the refresh is served with the current
//     access token while it is valid (200, within RefreshTimeout plus one
//     StoreTimeout for the lease's release, which fails too), else 503; the
//     error is logged without a token. The lease's release failed too: it
//     is tried again in the background until the store answers (or the
//     lease lapses), so a refresh of that session waits for it only while the
//     store is away.
//     After the fault the session is served with its old tokens (200) until
//     they near expiry. The first refresh after the lease lapsed presents the
//     spent refresh token: oidc-provider revokes the grant (counted at the
//     provider as one reuse) and answers invalid_grant, and the session ends
//     (401 login_required, cookie cleared): the user signs in again. That one
//     session is what is lost, and only when the outage outlasts the
//     refresh's RefreshTimeout; no other session, and no token reaches a log.
//     With a provider that does not rotate refresh tokens nothing is lost.
//
// Run: go test -race ./internal/faults/ -run TestStoreFaults (about a minute
// on two cores); -faults.long adds the latency-2s cells.
package faults
