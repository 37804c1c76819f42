package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pubauth/awsauth/tokenstore"
)

func tokenValue(t uint64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatUint(t, 10)}
}

func checkTTL(ttl time.Duration) error {
	if ttl < time.Microsecond {
		return errors.New("dynamostore: lease ttl must be at least 1µs")
	}
	return nil
}

// Acquire grants a lease on name for ttl, or returns tokenstore.ErrLeaseHeld
// while a live lease on name exists: one UpdateItem conditioned on the lease
// item being absent, lapsed or released.
func (s *Store) Acquire(ctx context.Context, name string, ttl time.Duration) (tokenstore.Lease, error) {
	if err := ctx.Err(); err != nil {
		return tokenstore.Lease{}, err
	}
	if err := checkTTL(ttl); err != nil {
		return tokenstore.Lease{}, err
	}
	now := s.now()
	exp := now.Add(ttl)
	out, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 s.key("l/", name),
		UpdateExpression:    aws.String("SET #tok = if_not_exists(#tok, :now) + :one, #lx = :exp, #ttl = :ttl"),
		ConditionExpression: aws.String("attribute_not_exists(#pk) OR #lx <= :now"),
		ExpressionAttributeNames: map[string]string{
			"#pk": s.pk, "#ttl": TTLAttribute, "#tok": "tok", "#lx": "lx",
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now": num(now.UnixMicro()),
			":one": num(1),
			":exp": num(exp.UnixMicro()),
			":ttl": num(ttlSeconds(exp.Add(leaseRetention))),
		},
		ReturnValues: types.ReturnValueUpdatedNew,
	})
	if isConditionFailed(err) {
		return tokenstore.Lease{}, tokenstore.ErrLeaseHeld
	}
	if err != nil {
		return tokenstore.Lease{}, fmt.Errorf("dynamostore: acquire: %w", err)
	}
	tok, ok := numOf(out.Attributes["tok"])
	if !ok || tok <= 0 {
		return tokenstore.Lease{}, fmt.Errorf("dynamostore: acquire: %w: no fencing token in the reply", tokenstore.ErrCorrupt)
	}
	return tokenstore.Lease{Name: name, Token: uint64(tok), Expiry: time.UnixMicro(exp.UnixMicro())}, nil
}

// Extend renews lease for ttl from now, or returns tokenstore.ErrLeaseLost
// when it has lapsed, been released or been superseded.
func (s *Store) Extend(ctx context.Context, lease tokenstore.Lease, ttl time.Duration) (tokenstore.Lease, error) {
	if err := ctx.Err(); err != nil {
		return tokenstore.Lease{}, err
	}
	if err := checkTTL(ttl); err != nil {
		return tokenstore.Lease{}, err
	}
	now := s.now()
	exp := now.Add(ttl)
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      s.key("l/", lease.Name),
		UpdateExpression:         aws.String("SET #lx = :exp, #ttl = :ttl"),
		ConditionExpression:      aws.String("#tok = :tok AND #lx > :now"),
		ExpressionAttributeNames: map[string]string{"#ttl": TTLAttribute, "#tok": "tok", "#lx": "lx"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":tok": tokenValue(lease.Token),
			":now": num(now.UnixMicro()),
			":exp": num(exp.UnixMicro()),
			":ttl": num(ttlSeconds(exp.Add(leaseRetention))),
		},
	})
	if isConditionFailed(err) {
		return tokenstore.Lease{}, tokenstore.ErrLeaseLost
	}
	if err != nil {
		return tokenstore.Lease{}, fmt.Errorf("dynamostore: extend: %w", err)
	}
	lease.Expiry = time.UnixMicro(exp.UnixMicro())
	return lease, nil
}

// Release ends lease if it is still current; otherwise it does nothing and
// returns nil. The item stays (until TTL) so the name's tokens keep growing.
func (s *Store) Release(ctx context.Context, lease tokenstore.Lease) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      s.key("l/", lease.Name),
		UpdateExpression:         aws.String("SET #lx = :zero"),
		ConditionExpression:      aws.String("#tok = :tok"),
		ExpressionAttributeNames: map[string]string{"#tok": "tok", "#lx": "lx"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":tok": tokenValue(lease.Token), ":zero": num(0),
		},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("dynamostore: release: %w", err)
	}
	return nil
}

// SetFenced is Set, done only while lease is current: a consistent read of
// the lease, then a write that the entry refuses if it was written under a
// newer token of lease.Name (see the package doc). Otherwise it writes
// nothing and returns tokenstore.ErrLeaseLost.
func (s *Store) SetFenced(ctx context.Context, lease tokenstore.Lease, key string, value []byte, expiry time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                aws.String(s.table),
		Key:                      s.key("l/", lease.Name),
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String("#tok, #lx"),
		ExpressionAttributeNames: map[string]string{"#tok": "tok", "#lx": "lx"},
	})
	if err != nil {
		return fmt.Errorf("dynamostore: set fenced: %w", err)
	}
	tok, ok1 := numOf(out.Item["tok"])
	lx, ok2 := numOf(out.Item["lx"])
	now := s.now()
	if !ok1 || !ok2 || strconv.FormatInt(tok, 10) != strconv.FormatUint(lease.Token, 10) || lx <= now.UnixMicro() {
		return tokenstore.ErrLeaseLost
	}

	cond := aws.String("attribute_not_exists(#fn) OR #fn <> :fn OR #ft <= :ft")
	names := map[string]string{"#fn": "fn", "#ft": "ft"}
	values := map[string]types.AttributeValue{
		":fn": &types.AttributeValueMemberS{Value: lease.Name},
		":ft": tokenValue(lease.Token),
	}
	if !expiry.IsZero() && !expiry.After(now) {
		_, err = s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: aws.String(s.table), Key: s.key("e/", key),
			ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		})
	} else {
		item := s.entryItem(key, value, expiry)
		item["fn"] = values[":fn"]
		item["ft"] = values[":ft"]
		_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(s.table), Item: item,
			ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		})
	}
	if isConditionFailed(err) {
		return tokenstore.ErrLeaseLost
	}
	if err != nil {
		return fmt.Errorf("dynamostore: set fenced: %w", err)
	}
	return nil
}
