package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/pubauth/awsauth/tokenstore/sqlstore"
)

// A store on SQLite. For PostgreSQL, import _ "github.com/jackc/pgx/v5/stdlib"
// and open sql.Open("pgx", "postgres://...") with sqlstore.Postgres.
func Example() {
	dir, _ := os.MkdirTemp("", "sqlstore-example-")
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "tokens.db")+
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()

	ctx := context.Background()
	store, err := sqlstore.New(db, sqlstore.SQLite)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := store.CreateSchema(ctx); err != nil {
		fmt.Println(err)
		return
	}
	if err := store.Set(ctx, "awsauth/session/abc", []byte("record"), time.Now().Add(time.Hour)); err != nil {
		fmt.Println(err)
		return
	}
	v, err := store.Get(ctx, "awsauth/session/abc")
	fmt.Println(string(v), err)
	// Output: record <nil>
}
