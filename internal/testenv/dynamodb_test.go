package testenv

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// These tests run dynalite (scripts/deps.d/dynamodb.sh installs it); a missing
// install fails them.

func startDynamoDB(t *testing.T, dir string) *DynamoDB {
	t.Helper()
	var d *DynamoDB
	var err error
	if dir == "" {
		d, err = StartDynamoDB(t.Context())
	} else {
		d, err = StartDynamoDBAt(t.Context(), dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Stop(); err != nil {
			t.Errorf("stop dynamodb: %v", err)
		}
	})
	return d
}

func createItemsTable(ctx context.Context, d *DynamoDB, name string) error {
	return d.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
		},
	})
}

func item(pk, sk, body string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk":   &types.AttributeValueMemberS{Value: pk},
		"sk":   &types.AttributeValueMemberS{Value: sk},
		"body": &types.AttributeValueMemberS{Value: body},
	}
}

func TestDynamoDB(t *testing.T) {
	ctx := t.Context()
	d := startDynamoDB(t, "")
	if !strings.HasPrefix(d.Endpoint, "http://127.0.0.1:") || d.Region != DynamoDBRegion {
		t.Errorf("Endpoint = %q, Region = %q", d.Endpoint, d.Region)
	}
	c := d.Client()
	if err := createItemsTable(ctx, d, "items"); err != nil {
		t.Fatal(err)
	}
	desc, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("items")})
	if err != nil {
		t.Fatal(err)
	}
	if desc.Table.TableStatus != types.TableStatusActive {
		t.Errorf("TableStatus = %s after CreateTable, want ACTIVE", desc.Table.TableStatus)
	}
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("items"), Item: item("alice", "1", "hello")}); err != nil {
		t.Fatal(err)
	}

	// A conditional write that fails: what a store relies on for leases.
	_, err = c.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String("items"),
		Item:                item("alice", "1", "overwrite"),
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Errorf("conditional put on an existing item: %v, want ConditionalCheckFailedException", err)
	}

	// One database for every access key and region (DynamoDB Local's -sharedDb).
	other := dynamodb.New(dynamodb.Options{
		BaseEndpoint: aws.String(d.Endpoint),
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIAOTHER", "other-secret", "a-session-token"),
	})
	out, err := other.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String("items"),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "alice"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Items) != 1 || out.Items[0]["body"].(*types.AttributeValueMemberS).Value != "hello" {
		t.Errorf("query with other credentials = %v", out.Items)
	}

	dir := d.Dir
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := d.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := http.Get(d.Endpoint); err == nil {
		t.Error("dynalite still answers after Stop")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary data dir %s left after Stop: %v", dir, err)
	}
}

// A server restarted on the same directory finds its data: what a test of a
// store that must survive a restart needs.
func TestDynamoDBRestartKeepsData(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	first := startDynamoDB(t, dir)
	c := first.Client()
	if err := createItemsTable(ctx, first, "items"); err != nil {
		t.Fatal(err)
	}
	for _, it := range []map[string]types.AttributeValue{item("alice", "1", "a1"), item("bob", "1", "b1")} {
		if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("items"), Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("StartDynamoDBAt's dir is gone after Stop: %v", err)
	}

	second := startDynamoDB(t, dir)
	got, err := second.Client().GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String("items"),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "bob"},
			"sk": &types.AttributeValueMemberS{Value: "1"},
		},
	})
	if err != nil {
		t.Fatalf("GetItem after a restart: %v\n%s", err, second.Logs())
	}
	if b, ok := got.Item["body"].(*types.AttributeValueMemberS); !ok || b.Value != "b1" {
		t.Errorf("item after a restart = %v, want body b1", got.Item)
	}
}

func TestDynamoDBMissingInstall(t *testing.T) {
	t.Setenv("AWSAUTH_DYNALITE", "")
	t.Setenv("AWSAUTH_TOOLS", t.TempDir())
	_, err := StartDynamoDB(t.Context())
	if err == nil || !strings.Contains(err.Error(), "run scripts/deps.sh") {
		t.Errorf("StartDynamoDB without dynalite: %v, want a hint to run scripts/deps.sh", err)
	}
}

func TestDynamoDBStartFailureShowsOutput(t *testing.T) {
	fake := t.TempDir() + "/cli.js"
	if err := os.WriteFile(fake, []byte("console.log('boom: no leveldb'); process.exit(3)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWSAUTH_DYNALITE", fake)
	_, err := StartDynamoDB(t.Context())
	if err == nil || !strings.Contains(err.Error(), "dynalite output (tail)") || !strings.Contains(err.Error(), "boom: no leveldb") {
		t.Errorf("StartDynamoDB with a failing server: %v, want its output", err)
	}
}

func TestDepsScriptPinsDynaliteVersion(t *testing.T) {
	b, err := os.ReadFile("../../scripts/deps.d/dynamodb.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\nDYNALITE_VERSION="+DynaliteVersion+"\n") {
		t.Errorf("scripts/deps.d/dynamodb.sh does not pin DYNALITE_VERSION=%s", DynaliteVersion)
	}
}
