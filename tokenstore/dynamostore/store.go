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

// API is the part of *dynamodb.Client a Store uses.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// DefaultKeyAttribute is the partition key's name when Options.KeyAttribute
// is empty.
const DefaultKeyAttribute = "pk"

// TTLAttribute is the attribute to enable DynamoDB Time to Live on.
const TTLAttribute = "ttl"

// leaseRetention is how long a lease's item outlives its lease, for TTL.
const leaseRetention = time.Hour

// Options configures a Store.
type Options struct {
	// KeyAttribute is the table's partition key, a string; empty means
	// DefaultKeyAttribute.
	KeyAttribute string

	// Now is the clock for expiry and leases; nil means time.Now.
	Now func() time.Time
}

// Store is a tokenstore.Store, tokenstore.Locker and tokenstore.Indexer on one
// DynamoDB table. It is safe for concurrent use. Reads are strongly
// consistent.
type Store struct {
	api   API
	table string
	pk    string
	now   func() time.Time
}

var (
	_ tokenstore.Store   = (*Store)(nil)
	_ tokenstore.Locker  = (*Store)(nil)
	_ tokenstore.Indexer = (*Store)(nil)
)

// New returns a Store on table through api. New does no I/O; the table must
// exist (see TableDefinition). It returns an error for a nil api or an empty
// table name.
func New(api API, table string, optFns ...func(*Options)) (*Store, error) {
	o := Options{KeyAttribute: DefaultKeyAttribute, Now: time.Now}
	for _, fn := range optFns {
		fn(&o)
	}
	if o.KeyAttribute == "" {
		o.KeyAttribute = DefaultKeyAttribute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if api == nil {
		return nil, errors.New("dynamostore: nil API client")
	}
	if table == "" {
		return nil, errors.New("dynamostore: empty table name")
	}
	return &Store{api: api, table: table, pk: o.KeyAttribute, now: o.Now}, nil
}

// TableDefinition returns the CreateTable input for a Store's table: a string
// partition key named keyAttribute ("" means DefaultKeyAttribute), on-demand.
func TableDefinition(table, keyAttribute string) *dynamodb.CreateTableInput {
	if keyAttribute == "" {
		keyAttribute = DefaultKeyAttribute
	}
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(keyAttribute), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(keyAttribute), KeyType: types.KeyTypeHash},
		},
	}
}

func (s *Store) key(kind, name string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{s.pk: &types.AttributeValueMemberS{Value: kind + name}}
}

func num(n int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func numOf(av types.AttributeValue) (int64, bool) {
	n, ok := av.(*types.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	return v, err == nil
}

// ttlSeconds is a DynamoDB TTL value: Unix seconds, rounded up.
func ttlSeconds(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// isConditionFailed reports a ConditionalCheckFailedException.
func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// Get returns the value stored under key, or tokenstore.ErrNotFound when the
// key is absent or its expiry has passed (whether or not TTL has deleted it).
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:            aws.String(s.table),
		Key:                  s.key("e/", key),
		ConsistentRead:       aws.Bool(true),
		ProjectionExpression: aws.String("#v, #x"),
		// Every attribute is named through a placeholder: DynamoDB's
		// reserved words are many, and change.
		ExpressionAttributeNames: map[string]string{"#v": "v", "#x": "x"},
	})
	if err != nil {
		return nil, fmt.Errorf("dynamostore: get: %w", err)
	}
	if out.Item == nil {
		return nil, tokenstore.ErrNotFound
	}
	if av, ok := out.Item["x"]; ok {
		x, ok := numOf(av)
		if !ok {
			return nil, fmt.Errorf("dynamostore: get: %w: expiry attribute x is not a number", tokenstore.ErrCorrupt)
		}
		if x <= s.now().UnixMicro() {
			return nil, tokenstore.ErrNotFound
		}
	}
	switch v := out.Item["v"].(type) {
	case nil:
		return []byte{}, nil
	case *types.AttributeValueMemberB:
		if v.Value == nil {
			return []byte{}, nil
		}
		return v.Value, nil
	default:
		return nil, fmt.Errorf("dynamostore: get: %w: value attribute v is not binary", tokenstore.ErrCorrupt)
	}
}

// entryItem is the item of an entry, without fencing attributes.
func (s *Store) entryItem(key string, value []byte, expiry time.Time) map[string]types.AttributeValue {
	item := s.key("e/", key)
	if len(value) > 0 {
		item["v"] = &types.AttributeValueMemberB{Value: value}
	}
	if !expiry.IsZero() {
		item["x"] = num(expiry.UnixMicro())
		item[TTLAttribute] = num(ttlSeconds(expiry))
	}
	return item
}

// Set stores value under key until expiry (one PutItem); a zero expiry means
// none, and an expiry already past deletes key.
func (s *Store) Set(ctx context.Context, key string, value []byte, expiry time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !expiry.IsZero() && !expiry.After(s.now()) {
		return s.Delete(ctx, key)
	}
	_, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item:      s.entryItem(key, value, expiry),
	})
	if err != nil {
		return fmt.Errorf("dynamostore: set: %w", err)
	}
	return nil
}

// Delete removes key. Deleting a missing key returns nil.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.table),
		Key:       s.key("e/", key),
	})
	if err != nil {
		return fmt.Errorf("dynamostore: delete: %w", err)
	}
	return nil
}
