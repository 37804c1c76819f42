package tokenstore

import (
	"context"
	"time"

	"github.com/pubauth/awsauth/tokenstore/internal/indexrule"
)

// MaxIndexLimit, 1000, is the largest limit AddToIndex accepts: an index
// never holds more members than this.
const MaxIndexLimit = indexrule.MaxLimit

// MaxIndexMemberLen, 256, is the longest member, in bytes, AddToIndex
// accepts.
const MaxIndexMemberLen = indexrule.MaxMemberLen

// Indexer is implemented by stores that keep indexes: bounded sets of members
// under a name, each member with its own expiry. authflow keeps one index per
// user, whose members name the user's sessions, so that it can list them and
// end them all ("sign out everywhere", OIDC Back-Channel Logout by sub).
//
// Index names and members are a namespace of their own: an index and a store
// key of the same name are unrelated. Both are stored in the clear, also
// under NewEncrypted and NewEnvelopeEncrypted, so neither may be a secret:
// never index a session id (a bearer credential) but a one-way function of
// it, as authflow's session store keys already are. Index names follow the
// rules of store keys (valid UTF-8 without NUL bytes, at most 250 bytes);
// members are valid UTF-8 without NUL bytes, 1 to MaxIndexMemberLen bytes.
//
// An index holds only live members: one whose expiry has passed is no longer
// listed, counted or reported as evicted, whether or not the backend has yet
// reclaimed its space. A zero expiry means the member does not expire. A
// missing index is empty, not an error. Every call is atomic on the backend,
// so concurrent calls from many instances sharing the store (two logins of
// one user on two instances at once) all take effect.
//
// The interface has no call to drop a whole index: ending "every session"
// while a new login adds to the same index must not lose the new member, so
// callers remove the members they handled, one by one.
type Indexer interface {
	// AddToIndex adds member to index until expiry, or, when member is
	// already there, sets its expiry. The member added is always kept; when
	// that leaves more than limit live members, the others that expire
	// soonest (ties: the smaller member, byte by byte) are removed to make
	// room, and returned, so that the caller can end what they name. An
	// expiry already past removes member and evicts nothing.
	//
	// limit is 1 to MaxIndexLimit. AddToIndex returns an error, and writes
	// nothing, for a limit out of that range or a member that breaks the
	// rules above.
	AddToIndex(ctx context.Context, index, member string, expiry time.Time, limit int) (evicted []string, err error)

	// RemoveFromIndex removes member from index. Removing a member that is
	// not there, or from a missing index, returns nil.
	RemoveFromIndex(ctx context.Context, index, member string) error

	// Index returns the live members of index, those that expire soonest
	// first (ties: the smaller member first). A missing index returns an
	// empty result and a nil error.
	Index(ctx context.Context, index string) ([]string, error)
}
