package testenv

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pubauth/awsauth/internal/testenv/internal/peer"
)

// DynaliteVersion is the pinned dynalite (npm) that scripts/deps.d/dynamodb.sh
// installs as dynalite-<DynaliteVersion> in the tools cache.
const DynaliteVersion = "4.0.0"

// DynamoDBRegion is the region to sign DynamoDB requests for. The local server
// takes any region and any credentials.
const DynamoDBRegion = "us-east-1"

// DynamoDB is a running local DynamoDB: dynalite, a Node.js implementation of
// the DynamoDB JSON protocol on LevelDB. (Amazon's DynamoDB Local is not used:
// it ships under Amazon's own licence terms, not an open-source one.)
//
// Like DynamoDB Local with -sharedDb, it keeps one database for every access
// key and region, and like DynamoDB Local it checks no IAM policy: a request
// signed with any credentials may touch any table. As on AWS, a new table is
// CREATING when CreateTable returns, here for milliseconds only: use
// [DynamoDB.CreateTable], or the SDK's TableExistsWaiter with a short MinDelay
// (its default is 20 s). It has no TTL expiry and no streams.
type DynamoDB struct {
	// Endpoint is the API's base URL, http://127.0.0.1:PORT.
	Endpoint string
	// Region is DynamoDBRegion.
	Region string
	// Dir holds the data (LevelDB files).
	Dir string

	proc *peer.Process
}

// StartDynamoDB starts a local DynamoDB with its data in a new temporary
// directory, removed by Stop, and returns once it answers ListTables. ctx
// bounds the start only.
func StartDynamoDB(ctx context.Context) (*DynamoDB, error) {
	dir, err := os.MkdirTemp("", "awsauth-dynamodb-")
	if err != nil {
		return nil, err
	}
	d, err := runDynamoDB(ctx, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	d.proc.Cleanup = func() error { return os.RemoveAll(dir) }
	return d, nil
}

// StartDynamoDBAt is StartDynamoDB with the data in dir, which it creates if
// needed and which Stop keeps: a server started again on the same dir (after
// Stop: one server per dir at a time) finds the tables and items of the last
// and listens on the same port, so clients of the last reconnect to it.
func StartDynamoDBAt(ctx context.Context, dir string) (*DynamoDB, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("testenv: DynamoDB data dir: %w", err)
	}
	return runDynamoDB(ctx, dir)
}

func runDynamoDB(ctx context.Context, dir string) (*DynamoDB, error) {
	node, err := peer.FindBinary("AWSAUTH_NODE", "", "node", "nodejs")
	if err != nil {
		return nil, err
	}
	cli, err := dynaliteCLI()
	if err != nil {
		return nil, err
	}
	port, err := dirPort(dir) // a restart on dir listens where the last server did
	if err != nil {
		return nil, err
	}
	d := &DynamoDB{Endpoint: peer.LoopbackURL(port), Region: DynamoDBRegion, Dir: dir}
	cmd := exec.Command(node, cli,
		"--host", "127.0.0.1",
		"--port", strconv.Itoa(port),
		"--path", filepath.Join(dir, "leveldb"),
		// Tables and indexes change state within milliseconds, not the
		// default half second.
		"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0",
	)
	cmd.Dir = dir
	cmd.Env = peer.Environ([]string{"NODE_OPTIONS="})
	d.proc, err = peer.Start("dynalite", cmd, peer.NewOutput())
	if err != nil {
		return nil, err
	}

	ctx, cancel := context.WithTimeout(ctx, peer.StartTimeout)
	defer cancel()
	probe := d.client(func(o *dynamodb.Options) {
		o.Retryer = aws.NopRetryer{}
		o.HTTPClient = &http.Client{Timeout: time.Second}
	})
	err = d.proc.WaitReady(ctx, func(ctx context.Context) error {
		_, err := probe.ListTables(ctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)})
		return err
	})
	if err != nil {
		d.proc.Stop()
		return nil, err
	}
	return d, nil
}

// dynaliteCLI finds dynalite's cli.js: $AWSAUTH_DYNALITE, else the tools cache.
func dynaliteCLI() (string, error) {
	if p := os.Getenv("AWSAUTH_DYNALITE"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("testenv: AWSAUTH_DYNALITE=%s: %w (run scripts/deps.sh)", p, err)
		}
		return p, nil
	}
	p := filepath.Join(peer.ToolsDir(), "dynalite-"+DynaliteVersion, "node_modules", "dynalite", "cli.js")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("testenv: dynalite %s is not installed (%s missing): run scripts/deps.sh", DynaliteVersion, p)
	}
	return p, nil
}

// Client returns a DynamoDB client for this server, signing with fixed test
// credentials (any would do).
func (d *DynamoDB) Client(optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	return d.client(optFns...)
}

func (d *DynamoDB) client(optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		BaseEndpoint: aws.String(d.Endpoint),
		Region:       d.Region,
		Credentials:  credentials.NewStaticCredentialsProvider("testenv", "testenv", ""),
	}, optFns...)
}

// CreateTable creates a table and waits until it is ACTIVE.
func (d *DynamoDB) CreateTable(ctx context.Context, in *dynamodb.CreateTableInput) error {
	c := d.client()
	if _, err := c.CreateTable(ctx, in); err != nil {
		return fmt.Errorf("testenv: create table %s: %w", aws.ToString(in.TableName), err)
	}
	w := dynamodb.NewTableExistsWaiter(c, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 100*time.Millisecond
	})
	err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: in.TableName}, peer.StartTimeout)
	if err != nil {
		return fmt.Errorf("testenv: table %s not ACTIVE: %w", aws.ToString(in.TableName), err)
	}
	return nil
}

// Logs returns the tail of the server's output.
func (d *DynamoDB) Logs() string { return d.proc.Logs() }

// Stop stops the server; a server from StartDynamoDB also loses its data.
// Safe to call more than once.
func (d *DynamoDB) Stop() error { return d.proc.Stop() }
