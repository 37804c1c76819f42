// Package dynamostore is a tokenstore.Store and tokenstore.Locker on Amazon
// DynamoDB, through aws-sdk-go-v2's dynamodb client (or anything with its
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
package dynamostore
