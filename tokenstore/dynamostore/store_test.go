package dynamostore_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/internal/testenv"
	"github.com/pubauth/awsauth/tokenstore"
	"github.com/pubauth/awsauth/tokenstore/dynamostore"
	"github.com/pubauth/awsauth/tokenstore/storetest"
)

// The tests run dynalite, a local server of the DynamoDB API
// (internal/testenv; scripts/deps.d/dynamodb.sh installs it): a missing
// install fails them.

func startDynamoDB(t testing.TB, dir string) *testenv.DynamoDB {
	t.Helper()
	var d *testenv.DynamoDB
	var err error
	if dir == "" {
		d, err = testenv.StartDynamoDB(context.Background())
	} else {
		d, err = testenv.StartDynamoDBAt(context.Background(), dir)
	}
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Stop() })
	return d
}

func newStore(t testing.TB, d *testenv.DynamoDB, table string, optFns ...func(*dynamodb.Options)) *dynamostore.Store {
	t.Helper()
	s, err := dynamostore.New(d.Client(optFns...), table)
	require.NoError(t, err)
	return s
}

func createTable(t testing.TB, d *testenv.DynamoDB, table string) {
	t.Helper()
	require.NoError(t, d.CreateTable(context.Background(), dynamostore.TableDefinition(table, "")))
}

func TestConformance(t *testing.T) {
	d := startDynamoDB(t, "")
	createTable(t, d, "tokens")
	// Two API clients, as two instances have: the Indexer cases use both.
	stores := []tokenstore.Store{newStore(t, d, "tokens"), newStore(t, d, "tokens")}
	var n atomic.Uint64
	storetest.Run(t, func(*testing.T) tokenstore.Store { return stores[(n.Add(1)-1)%2] })
}

func TestNewRejectsBadArguments(t *testing.T) {
	_, err := dynamostore.New(nil, "t")
	require.ErrorContains(t, err, "dynamostore:")
	_, err = dynamostore.New(&dynamodb.Client{}, "")
	require.ErrorContains(t, err, "dynamostore: empty table")
}

// hookAPI runs the real client, calling before ahead of each request.
type hookAPI struct {
	dynamostore.API
	beforePut func(*dynamodb.PutItemInput)
}

func (h *hookAPI) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if h.beforePut != nil {
		h.beforePut(in)
	}
	return h.API.PutItem(ctx, in, optFns...)
}

// A holder whose lease lapses between SetFenced's lease check and its write,
// while a newer holder writes the entry, is refused by the entry itself.
func TestSetFencedRefusedByNewerWrite(t *testing.T) {
	ctx := t.Context()
	d := startDynamoDB(t, "")
	createTable(t, d, "race")
	hook := &hookAPI{API: d.Client()}
	var offset time.Duration // the clock of the "later" instance
	later, err := dynamostore.New(d.Client(), "race", func(o *dynamostore.Options) {
		o.Now = func() time.Time { return time.Now().Add(offset) }
	})
	require.NoError(t, err)
	s, err := dynamostore.New(hook, "race")
	require.NoError(t, err)

	old, err := s.Acquire(ctx, "lease/k", time.Minute)
	require.NoError(t, err)
	require.NoError(t, s.SetFenced(ctx, old, "k", []byte("v1"), time.Time{}))

	var newer tokenstore.Lease
	hook.beforePut = func(*dynamodb.PutItemInput) {
		hook.beforePut = nil
		// Two minutes on, old's lease has lapsed: a newer holder takes
		// over and writes before old's write lands.
		offset = 2 * time.Minute
		var err error
		newer, err = later.Acquire(ctx, "lease/k", time.Hour)
		require.NoError(t, err)
		require.Greater(t, newer.Token, old.Token)
		require.NoError(t, later.SetFenced(ctx, newer, "k", []byte("v2"), time.Time{}))
	}
	err = s.SetFenced(ctx, old, "k", []byte("stale"), time.Time{})
	require.ErrorIs(t, err, tokenstore.ErrLeaseLost)
	got, err := s.Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, "v2", string(got))
	// A plain Set is not fenced, and a later fenced write still works.
	require.NoError(t, later.SetFenced(ctx, newer, "k", []byte("v3"), time.Time{}))
}

// switchAPI forwards to the client of whichever server is current: the
// restarted server listens on a new port, the Store stays the same.
type switchAPI struct {
	mu sync.Mutex
	dynamostore.API
}

func (s *switchAPI) set(api dynamostore.API) { s.mu.Lock(); s.API = api; s.mu.Unlock() }
func (s *switchAPI) cur() dynamostore.API    { s.mu.Lock(); defer s.mu.Unlock(); return s.API }
func (s *switchAPI) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return s.cur().GetItem(ctx, in, o...)
}
func (s *switchAPI) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return s.cur().PutItem(ctx, in, o...)
}
func (s *switchAPI) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return s.cur().UpdateItem(ctx, in, o...)
}
func (s *switchAPI) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return s.cur().DeleteItem(ctx, in, o...)
}

// Faults: with the server stopped every call fails with an error (no panic,
// no partial write); a server started again on the same data has the entries
// and the lease written before.
func TestServerStoppedAndRestarted(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	d := startDynamoDB(t, dir)
	createTable(t, d, "tokens")
	noRetry := func(o *dynamodb.Options) { o.Retryer = aws.NopRetryer{} }
	api := &switchAPI{API: d.Client(noRetry)}
	s, err := dynamostore.New(api, "tokens")
	require.NoError(t, err)

	require.NoError(t, s.Set(ctx, "kept", []byte("before"), time.Now().Add(time.Hour)))
	lease, err := s.Acquire(ctx, "lease/kept", time.Hour)
	require.NoError(t, err)
	require.NoError(t, d.Stop())

	_, err = s.Get(ctx, "kept")
	require.Error(t, err)
	require.NotErrorIs(t, err, tokenstore.ErrNotFound)
	require.ErrorContains(t, err, "dynamostore: get")
	require.ErrorContains(t, s.Set(ctx, "written-while-down", []byte("x"), time.Time{}), "dynamostore: set")
	require.ErrorContains(t, s.Delete(ctx, "kept"), "dynamostore: delete")
	require.ErrorContains(t, s.SetFenced(ctx, lease, "kept", []byte("x"), time.Time{}), "dynamostore: set fenced")
	_, err = s.Acquire(ctx, "other", time.Minute)
	require.ErrorContains(t, err, "dynamostore: acquire")

	d2 := startDynamoDB(t, dir)
	api.set(d2.Client(noRetry))
	got, err := s.Get(ctx, "kept")
	require.NoError(t, err)
	require.Equal(t, "before", string(got))
	_, err = s.Get(ctx, "written-while-down")
	require.ErrorIs(t, err, tokenstore.ErrNotFound)
	_, err = s.Acquire(ctx, "lease/kept", time.Minute)
	require.ErrorIs(t, err, tokenstore.ErrLeaseHeld)
	require.NoError(t, s.SetFenced(ctx, lease, "kept", []byte("after"), time.Time{}))
	got, err = s.Get(ctx, "kept")
	require.NoError(t, err)
	require.Equal(t, "after", string(got))
}

// The item layout the package doc promises, read back raw.
func TestItemLayout(t *testing.T) {
	ctx := t.Context()
	d := startDynamoDB(t, "")
	createTable(t, d, "layout")
	s := newStore(t, d, "layout")
	exp := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	require.NoError(t, s.Set(ctx, "awsauth/session/x", []byte("v"), exp))
	out, err := d.Client().GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String("layout"),
		Key:       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "e/awsauth/session/x"}},
	})
	require.NoError(t, err)
	require.Equal(t, []byte("v"), out.Item["v"].(*types.AttributeValueMemberB).Value)
	require.Equal(t, strconv.FormatInt(exp.UnixMicro(), 10), out.Item["x"].(*types.AttributeValueMemberN).Value)
	require.Equal(t, strconv.FormatInt(exp.Unix()+1, 10), out.Item[dynamostore.TTLAttribute].(*types.AttributeValueMemberN).Value)
}
