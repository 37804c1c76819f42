// Package sqlstore is a tokenstore.Store, tokenstore.Locker and
// tokenstore.Indexer on a SQL database through database/sql: PostgreSQL (pgx's stdlib driver, "pgx") or
// SQLite (modernc.org/sqlite, "sqlite"). The package imports no driver: the
// program does, and opens the *sql.DB.
//
// # Schema
//
// CreateSchema creates, if missing, three tables (names from Options; shown
// with the defaults) and two indexes, for PostgreSQL:
//
//	CREATE TABLE awsauth_tokens (
//	    key        text COLLATE "C" PRIMARY KEY, -- the store key, compared byte by byte
//	    value      bytea  NOT NULL,
//	    expires_at bigint NOT NULL               -- Unix µs; 9223372036854775807: never
//	);
//	CREATE INDEX awsauth_tokens_expires_at ON awsauth_tokens (expires_at);
//	CREATE TABLE awsauth_tokens_leases (
//	    name       text COLLATE "C" PRIMARY KEY, -- the lease name
//	    token      bigint NOT NULL,              -- the fencing token
//	    expires_at bigint NOT NULL               -- Unix µs; 0 once released
//	);
//	CREATE TABLE awsauth_tokens_idx (            -- tokenstore.Indexer's indexes
//	    name       text COLLATE "C" NOT NULL,    -- the index
//	    member     text COLLATE "C" NOT NULL,
//	    expires_at bigint NOT NULL,              -- Unix µs; 9223372036854775807: never
//	    PRIMARY KEY (name, member)
//	);
//	CREATE INDEX awsauth_tokens_idx_exp ON awsauth_tokens_idx (expires_at);
//
// and for SQLite the same with TEXT, BLOB and INTEGER (SQLite's default BINARY
// collation compares bytes). A program that manages its schema with
// migrations may run these statements itself instead.
//
// # Time, expiry and purging
//
// Times are Unix microseconds in the database server's clock: a row is live
// while expires_at > the server's now (PostgreSQL now(), SQLite
// unixepoch('subsec')), so instances with skewed clocks agree on leases. Get
// and Index never return an expired row. Expired rows are deleted by Purge,
// and a few at a time by every 64th Set (best effort: a failed purge does not
// fail the Set), and an index's own by each AddToIndex to it; a program with
// many writes and few reads may run Purge periodically.
//
// # Indexes
//
// AddToIndex is one transaction: on PostgreSQL it first takes an advisory
// lock on the index (pg_advisory_xact_lock with the table's and the index's
// hashtext), on SQLite its first statement is a write, which SQLite's single
// writer serialises; then it deletes the index's expired rows, evicts the
// soonest to expire beyond the limit (DELETE … RETURNING) and upserts the
// member. Concurrent adds to one index therefore run one after the other,
// and adds to different indexes in parallel on PostgreSQL.
//
// # Leases
//
// Acquire is one upsert that takes a lapsed or released lease row over;
// Extend and Release are conditional UPDATEs; SetFenced is a transaction whose
// first statement locks the current lease row (an UPDATE that matches only the
// lease's token and an unexpired row) and whose second writes the entry, so no
// newer lease can be granted in between. A fencing token is the grant's time
// in microseconds or the row's last token plus one, whichever is larger; lease
// rows are purged only a minute after both their grant and their expiry, so
// tokens grow per name while the database's clock does not step back by more
// than that.
//
// SQLite allows one writer at a time: open it with a busy timeout and WAL,
// for example "file:tokens.db?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)",
// so concurrent writers wait rather than fail with SQLITE_BUSY.
package sqlstore
