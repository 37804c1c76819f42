// Package dynamostore is a tokenstore.Store, tokenstore.Locker and
// tokenstore.Indexer on Amazon DynamoDB, through aws-sdk-go-v2's dynamodb client (or anything with its
// GetItem, PutItem, UpdateItem and DeleteItem: the API interface).
//
// # Table
//
// One table with a string partition key (attribute "pk" unless
// Options.KeyAttribute says otherwise) and no sort key; TableDefinition
// returns its CreateTableInput (on-demand billing). Turn on DynamoDB's Time to
// Live on the attribute "ttl" (TTLAttribute) so that AWS deletes expired items:
//
//	aws dynamodb update-time-to-live --table-name TABLE \
//	    --time-to-live-specification Enabled=true,AttributeName=ttl
//
// TTL deletion runs within days, not seconds, so reads never trust it: Get
// checks each entry's own expiry. Items:
//
//	pk = "e/" + key    an entry: v (B, the value; absent when empty),
//	                   x (N, expiry in Unix µs; absent: never), ttl (N, expiry
//	                   in Unix seconds, rounded up; absent: never), and after a
//	                   SetFenced fn (S, the lease name) and ft (N, its token)
//	pk = "l/" + name   a lease: tok (N, the fencing token), lx (N, expiry in
//	                   Unix µs; 0 once released), ttl (N, an hour after lx)
//	pk = "i/" + index  an index: m (M, member → expiry in Unix µs, 0: never),
//	                   ver (N, the item's version, one more at each write),
//	                   ttl (N, the last member's expiry in Unix seconds,
//	                   rounded up; absent when a member never expires)
//
// # Leases and fencing
//
// Acquire, Extend and Release are single conditional UpdateItems. A fencing
// token is the last token of the name plus one, or the grant's time in
// microseconds plus one when the name's item is new (or was removed by TTL,
// an hour after its lease lapsed), so tokens grow per name. Times come from
// the client's clock (DynamoDB has none to offer): instances sharing a table
// need clocks in sync well within a lease's ttl.
//
// SetFenced is two conditional requests, as it must also work on servers
// without TransactWriteItems (dynalite, the local server the tests use): a
// consistent read that finds the lease current, then a write conditioned on
// the entry not having been written under a newer token of the same lease
// name. A holder whose lease lapses between the two can land its write only
// while no newer holder has written the entry; once one has, the entry
// refuses every older token.
//
// # Indexes
//
// The table has no sort key to list items by, so an index is one item and
// its members a map in it (at most tokenstore.MaxIndexLimit members of at
// most tokenstore.MaxIndexMemberLen bytes: well within an item's 400 KB).
// AddToIndex is optimistic: a consistent read, then a PutItem of the new map
// conditioned on ver being the version read; a writer that loses reads again
// (up to 32 times, a few random milliseconds apart), so concurrent adds from
// many instances all land and the limit holds. RemoveFromIndex is one
// UpdateItem that removes the map key and increments ver, so an add that read
// the member before cannot write it back. Reads drop expired members
// themselves; an index item emptied by removals stays, with an empty map,
// until TTL deletes it.
package dynamostore
