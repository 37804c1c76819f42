// Package tokenstore is the server-side storage under authflow's sessions and
// awscreds' cached identity ids: expiring records of bytes behind one small
// interface.
//
// A Store knows bytes and expiry and nothing else: the layer that owns a record
// encodes it (authflow its sessions and token sets, awscreds its identity ids).
// Optional abilities are separate interfaces found by type assertion: Locker,
// the cross-instance lease with fencing tokens used by refresh, and Indexer,
// bounded sets of members with their own expiry, which keep the sessions of
// each user so that all of them can be listed and ended. Encryption at rest is
// just another Store wrapped around a backend (NewEncrypted,
// NewEnvelopeEncrypted), with the inner store's abilities. Backends live in
// subpackages (redisstore, sqlstore, dynamostore; storeurl opens one from a
// URL); all of them, and Memory, implement Locker and Indexer, and storetest
// is the conformance suite each of them runs.
//
// # Indexes
//
// An index is named like a store key and holds at most a caller-given limit
// of members, each a short non-secret string with its own expiry. The member
// added is always kept; when that overfills the index, the members that
// expire soonest leave, and AddToIndex returns them so the caller can end
// what they name. Expired members are neither listed nor counted, and every
// call is atomic across instances. Indexes and members are not encrypted by
// NewEncrypted: members must be one-way functions of secrets (authflow's
// session store keys, hashes of session ids), never the secrets.
package tokenstore

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by Get when the key is absent or its entry has expired.
var ErrNotFound = errors.New("tokenstore: not found")

// ErrCorrupt is returned, wrapped, when what a store holds cannot be read
// back: an encrypted record that does not authenticate for its entry or was
// sealed by a key not in the ring, or a backend's item or reply of the wrong
// shape.
var ErrCorrupt = errors.New("tokenstore: corrupt record")

// ErrLeaseHeld is returned by Locker.Acquire when another holder's lease on the
// same name has not yet expired.
var ErrLeaseHeld = errors.New("tokenstore: lease held by another holder")

// ErrLeaseLost is returned by Locker.Extend and Locker.SetFenced when the lease
// has expired or a newer lease (a higher fencing token) has been granted since.
var ErrLeaseLost = errors.New("tokenstore: lease lost")

// Store is a key-value store for opaque, expiring records. Implementations are
// safe for concurrent use and honour ctx cancellation and deadlines on every call.
type Store interface {
	// Get returns the value stored under key. It returns ErrNotFound when the
	// key is absent or its expiry has passed. The caller owns the returned slice.
	Get(ctx context.Context, key string) ([]byte, error)

	// Set stores value under key, replacing any previous value, until expiry.
	// A zero expiry means the entry does not expire. The store keeps its own
	// copy of value.
	Set(ctx context.Context, key string, value []byte, expiry time.Time) error

	// Delete removes key. Deleting a missing key returns nil.
	Delete(ctx context.Context, key string) error
}

// Lease is a time-bounded, exclusive right to act on a name (for example, to
// redeem a session's refresh token) across every process sharing a store.
type Lease struct {
	// Name is the lease's name, as passed to Acquire.
	Name string
	// Token is the fencing token: it grows with every grant of Name, so a
	// write conditioned on it is refused once a newer lease exists.
	Token uint64
	// Expiry is when the lease lapses unless extended, in the store's clock.
	Expiry time.Time
}

// Locker is implemented by stores that can grant leases with fencing tokens.
// Refresh uses it so that, of many instances seeing one expired session, one
// redeems the refresh token and the others adopt its result.
//
// A lease's TTL must exceed the time the holder needs for its work; nothing
// should be written or retried after the lease lapses. SetFenced makes that
// rule enforceable: the store refuses a write whose lease is no longer current.
type Locker interface {
	// Acquire grants a lease on name for ttl. It returns ErrLeaseHeld when a
	// live lease on name is held by someone else.
	Acquire(ctx context.Context, name string, ttl time.Duration) (Lease, error)

	// Extend renews a lease still held for another ttl from now. It returns
	// ErrLeaseLost when the lease has lapsed or been superseded.
	Extend(ctx context.Context, lease Lease, ttl time.Duration) (Lease, error)

	// Release ends the lease if it is still current. Releasing a lease that
	// has lapsed or been superseded returns nil.
	Release(ctx context.Context, lease Lease) error

	// SetFenced is Store.Set conditioned on lease being current (same token,
	// not expired) at the moment of the write. Otherwise it writes nothing and
	// returns ErrLeaseLost.
	SetFenced(ctx context.Context, lease Lease, key string, value []byte, expiry time.Time) error
}
