// Package storeurl opens a tokenstore.Store from a URL, so that a program (the
// examples' -tokenstore flag and TOKENSTORE_URL variable) runs on any backend:
//
//	memory://                                  tokenstore.NewMemory()
//	redis://[user:pass@]host:port/db           redisstore on one server (go-redis ParseURL;
//	rediss://...                               its query options apply: dial_timeout=3s, ...)
//	redis://host:port?master_name=M&addr=...   redisstore through Sentinel (ParseFailoverURL)
//	redis://host:port?cluster=true&addr=...    redisstore on a Cluster (ParseClusterURL)
//	postgres://user@host:port/db?sslmode=...   sqlstore on PostgreSQL (pgx stdlib); also postgresql://
//	sqlite://PATH                              sqlstore on SQLite (modernc.org/sqlite): sqlite://tokens.db,
//	                                           sqlite:///var/lib/app/tokens.db
//	dynamodb://TABLE?region=R&endpoint=URL     dynamostore; endpoint (for a local server) is optional,
//	                                           credentials and region otherwise come from the AWS SDK's
//	                                           default chain
//
// Options of this package, removed before the URL reaches a driver:
// prefix=P (redis: redisstore.Options.Prefix), table=T (postgres, sqlite:
// sqlstore.Options.Table), max_conns=N (postgres, sqlite: the *sql.DB's
// SetMaxOpenConns; default 20 for postgres, which refuses clients beyond its
// max_connections, and none for sqlite). Open creates the SQL schema (CreateSchema is
// idempotent) but never a DynamoDB table (see dynamostore.TableDefinition).
//
// Encryption at rest is the caller's: wrap the Store in tokenstore.NewEncrypted
// with keys from its secret manager, never from a URL.
package storeurl

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/redis/go-redis/v9"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/pubauth/awsauth/tokenstore"
	"github.com/pubauth/awsauth/tokenstore/dynamostore"
	"github.com/pubauth/awsauth/tokenstore/redisstore"
	"github.com/pubauth/awsauth/tokenstore/sqlstore"
)

// ErrUnsupported is returned, wrapped, for a URL whose scheme this package
// does not know.
var ErrUnsupported = errors.New("storeurl: unsupported store URL scheme")

// Open returns the store rawURL names, after checking that the backend
// answers (PING, a SQL ping and CreateSchema, or DescribeTable) within ctx.
// The returned close releases the connections Open made; call it once the
// store is no longer used. Errors name the URL with its password redacted.
func Open(ctx context.Context, rawURL string) (store tokenstore.Store, close func() error, err error) {
	scheme, _, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, nil, fmt.Errorf("storeurl: %q is not a store URL (scheme://rest)", redact(rawURL))
	}
	switch strings.ToLower(scheme) {
	case "memory":
		return tokenstore.NewMemory(), func() error { return nil }, nil
	case "redis", "rediss":
		return openRedis(ctx, rawURL)
	case "postgres", "postgresql":
		return openPostgres(ctx, rawURL)
	case "sqlite":
		return openSQLite(ctx, rawURL)
	case "dynamodb":
		return openDynamoDB(ctx, rawURL)
	}
	return nil, nil, fmt.Errorf("%w: %q", ErrUnsupported, scheme)
}

// redact returns rawURL with any password replaced, for errors and logs.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// takeParams removes this package's own query parameters from u and returns
// their values.
func takeParams(u *url.URL, names ...string) map[string]string {
	q := u.Query()
	got := make(map[string]string, len(names))
	for _, n := range names {
		if q.Has(n) {
			got[n] = q.Get(n)
			q.Del(n)
		}
	}
	u.RawQuery = q.Encode()
	return got
}

func openRedis(ctx context.Context, rawURL string) (tokenstore.Store, func() error, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("storeurl: redis URL: %w", errors.New("does not parse"))
	}
	own := takeParams(u, "prefix", "cluster")
	var client redis.UniversalClient
	switch {
	case own["cluster"] == "true":
		o, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, nil, fmt.Errorf("storeurl: redis cluster URL %s: %w", u.Redacted(), err)
		}
		client = redis.NewClusterClient(o)
	case u.Query().Has("master_name"):
		o, err := redis.ParseFailoverURL(u.String())
		if err != nil {
			return nil, nil, fmt.Errorf("storeurl: redis sentinel URL %s: %w", u.Redacted(), err)
		}
		client = redis.NewFailoverClient(o)
	default:
		o, err := redis.ParseURL(u.String())
		if err != nil {
			return nil, nil, fmt.Errorf("storeurl: redis URL %s: %w", u.Redacted(), err)
		}
		client = redis.NewClient(o)
	}
	s, err := redisstore.New(client, func(o *redisstore.Options) { o.Prefix = own["prefix"] })
	if err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("storeurl: %w", err)
	}
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("storeurl: redis %s does not answer: %w", u.Redacted(), err)
	}
	return s, client.Close, nil
}

// defaultPostgresConns bounds a PostgreSQL pool: each connection is a
// server process, and the server refuses clients past max_connections (100
// by default), which a burst of requests on a few instances would reach.
const defaultPostgresConns = 20

func maxConns(v string, def int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("storeurl: max_conns=%q is not a positive integer", v)
	}
	return n, nil
}

func openSQL(ctx context.Context, driver, dsn, shown string, d sqlstore.Dialect, table string, conns int) (tokenstore.Store, func() error, error) {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("storeurl: %s: %w", shown, err)
	}
	if conns > 0 {
		db.SetMaxOpenConns(conns)
		db.SetMaxIdleConns(conns)
	}
	s, err := sqlstore.New(db, d, func(o *sqlstore.Options) { o.Table = table })
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("storeurl: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("storeurl: %s does not answer: %w", shown, err)
	}
	if err := s.CreateSchema(ctx); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("storeurl: %s: %w", shown, err)
	}
	return s, db.Close, nil
}

func openPostgres(ctx context.Context, rawURL string) (tokenstore.Store, func() error, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, errors.New("storeurl: postgres URL does not parse")
	}
	own := takeParams(u, "table", "max_conns")
	conns, err := maxConns(own["max_conns"], defaultPostgresConns)
	if err != nil {
		return nil, nil, err
	}
	return openSQL(ctx, "pgx", u.String(), "postgres "+u.Redacted(), sqlstore.Postgres, own["table"], conns)
}

func openSQLite(ctx context.Context, rawURL string) (tokenstore.Store, func() error, error) {
	rest := rawURL[len("sqlite://"):]
	path, query, _ := strings.Cut(rest, "?")
	if path == "" {
		return nil, nil, errors.New("storeurl: sqlite URL needs a path: sqlite://PATH")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, nil, fmt.Errorf("storeurl: sqlite URL query: %w", err)
	}
	for k := range q {
		if k != "table" && k != "max_conns" {
			return nil, nil, fmt.Errorf("storeurl: sqlite URL: unknown option %q", k)
		}
	}
	conns, err := maxConns(q.Get("max_conns"), 0)
	if err != nil {
		return nil, nil, err
	}
	// One writer at a time: concurrent writers wait (busy_timeout) and
	// readers do not block them (WAL).
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
	return openSQL(ctx, "sqlite", dsn, "sqlite "+path, sqlstore.SQLite, q.Get("table"), conns)
}

func openDynamoDB(ctx context.Context, rawURL string) (tokenstore.Store, func() error, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, errors.New("storeurl: dynamodb URL does not parse")
	}
	table := u.Host
	if table == "" || (u.Path != "" && u.Path != "/") {
		return nil, nil, errors.New("storeurl: dynamodb URL must be dynamodb://TABLE")
	}
	q := u.Query()
	for k := range q {
		if k != "region" && k != "endpoint" {
			return nil, nil, fmt.Errorf("storeurl: dynamodb URL: unknown option %q", k)
		}
	}
	var opts []func(*awsconfig.LoadOptions) error
	if r := q.Get("region"); r != "" {
		opts = append(opts, awsconfig.WithRegion(r))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("storeurl: dynamodb: AWS config: %w", err)
	}
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if e := q.Get("endpoint"); e != "" {
			o.BaseEndpoint = aws.String(e)
		}
	})
	if _, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}); err != nil {
		return nil, nil, fmt.Errorf("storeurl: dynamodb table %q: %w", table, err)
	}
	s, err := dynamostore.New(client, table)
	if err != nil {
		return nil, nil, fmt.Errorf("storeurl: %w", err)
	}
	return s, func() error { return nil }, nil
}
