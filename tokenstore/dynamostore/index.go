package dynamostore

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pubauth/awsauth/tokenstore"
	"github.com/pubauth/awsauth/tokenstore/internal/indexrule"
)

// indexAttempts bounds AddToIndex's read-and-conditional-write rounds when
// other writers keep changing the same index; each round that loses waits a
// few random milliseconds, so contenders spread out.
const indexAttempts = 32

// indexItem is an index as read: its members' expiries in Unix µs
// (math.MaxInt64: never) and its version, 0 when the item is absent.
type indexItem struct {
	members map[string]int64
	version int64
}

func (s *Store) readIndex(ctx context.Context, index string) (indexItem, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                aws.String(s.table),
		Key:                      s.key("i/", index),
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String("#m, #ver"),
		ExpressionAttributeNames: map[string]string{"#m": "m", "#ver": "ver"},
	})
	if err != nil {
		return indexItem{}, err
	}
	x := indexItem{members: map[string]int64{}}
	if out.Item == nil {
		return x, nil
	}
	ver, ok := numOf(out.Item["ver"])
	if !ok || ver < 1 {
		return indexItem{}, fmt.Errorf("%w: index version attribute ver is not a positive number", tokenstore.ErrCorrupt)
	}
	x.version = ver
	m, ok := out.Item["m"].(*types.AttributeValueMemberM)
	if !ok {
		return indexItem{}, fmt.Errorf("%w: index attribute m is not a map", tokenstore.ErrCorrupt)
	}
	for name, av := range m.Value {
		exp, ok := numOf(av)
		if !ok {
			return indexItem{}, fmt.Errorf("%w: index member's expiry is not a number", tokenstore.ErrCorrupt)
		}
		if exp == 0 {
			exp = math.MaxInt64
		}
		x.members[name] = exp
	}
	return x, nil
}

// live returns the members of x that expire after now (Unix µs).
func (x indexItem) live(now int64) []indexrule.Member {
	ms := make([]indexrule.Member, 0, len(x.members))
	for name, exp := range x.members {
		if exp > now {
			ms = append(ms, indexrule.Member{Name: name, Expiry: exp})
		}
	}
	return ms
}

// AddToIndex adds member to index until expiry, evicting the members that
// expire soonest beyond limit, as tokenstore.Indexer documents: a consistent
// read of the index's item, then a PutItem conditioned on the item's version
// being the one read; a write that loses to another reads again, up to 32
// times.
func (s *Store) AddToIndex(ctx context.Context, index, member string, expiry time.Time, limit int) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := indexrule.Check(member, limit); err != nil {
		return nil, fmt.Errorf("dynamostore: add to index: %w", err)
	}
	if !expiry.IsZero() && !expiry.After(s.now()) {
		// A past expiry removes the member, as Indexer documents.
		return nil, s.RemoveFromIndex(ctx, index, member)
	}
	exp := int64(math.MaxInt64)
	if !expiry.IsZero() {
		exp = expiry.UnixMicro()
	}
	for attempt := 1; ; attempt++ {
		x, err := s.readIndex(ctx, index)
		if err != nil {
			return nil, fmt.Errorf("dynamostore: add to index: %w", err)
		}
		live := x.live(s.now().UnixMicro())
		evicted := indexrule.Evict(live, member, limit)
		err = s.writeIndex(ctx, index, x.version, live, evicted, member, exp)
		if err == nil {
			return evicted, nil
		}
		if !isConditionFailed(err) {
			return nil, fmt.Errorf("dynamostore: add to index: %w", err)
		}
		if attempt == indexAttempts {
			return nil, fmt.Errorf("dynamostore: add to index: %d attempts lost to concurrent writers", attempt)
		}
		wait := time.Duration(1+rand.IntN(min(attempt, 10)*4)) * time.Millisecond
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// writeIndex puts the index's item: live without evicted, plus member until
// exp, conditioned on the item still being at version.
func (s *Store) writeIndex(ctx context.Context, index string, version int64, live []indexrule.Member, evicted []string, member string, exp int64) error {
	gone := make(map[string]bool, len(evicted))
	for _, name := range evicted {
		gone[name] = true
	}
	m := make(map[string]types.AttributeValue, len(live)+1)
	last := exp
	for _, mem := range live {
		if !gone[mem.Name] && mem.Name != member {
			m[mem.Name] = expiryValue(mem.Expiry)
			last = max(last, mem.Expiry)
		}
	}
	m[member] = expiryValue(exp)
	item := s.key("i/", index)
	item["m"] = &types.AttributeValueMemberM{Value: m}
	item["ver"] = num(version + 1)
	if last != math.MaxInt64 {
		item[TTLAttribute] = num(ttlSeconds(time.UnixMicro(last)))
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}
	if version == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(#pk)")
		in.ExpressionAttributeNames = map[string]string{"#pk": s.pk}
	} else {
		in.ConditionExpression = aws.String("#ver = :ver")
		in.ExpressionAttributeNames = map[string]string{"#ver": "ver"}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":ver": num(version)}
	}
	_, err := s.api.PutItem(ctx, in)
	return err
}

// expiryValue is a member's expiry in the item: Unix µs, 0 for never.
func expiryValue(exp int64) types.AttributeValue {
	if exp == math.MaxInt64 {
		return num(0)
	}
	return num(exp)
}

// RemoveFromIndex removes member from index: one UpdateItem that also moves
// the item's version on, so that an AddToIndex that read the member before
// cannot write it back. Removing a member that is not there returns nil.
func (s *Store) RemoveFromIndex(ctx context.Context, index, member string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      s.key("i/", index),
		UpdateExpression:         aws.String("REMOVE #m.#k SET #ver = #ver + :one"),
		ConditionExpression:      aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": s.pk, "#m": "m", "#k": member, "#ver": "ver"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": num(1),
		},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("dynamostore: remove from index: %w", err)
	}
	return nil
}

// Index returns the live members of index, soonest expiry first (one
// consistent GetItem).
func (s *Store) Index(ctx context.Context, index string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	x, err := s.readIndex(ctx, index)
	if err != nil {
		return nil, fmt.Errorf("dynamostore: index: %w", err)
	}
	live := x.live(s.now().UnixMicro())
	indexrule.Sort(live)
	names := make([]string, len(live))
	for i, m := range live {
		names[i] = m.Name
	}
	return names, nil
}
