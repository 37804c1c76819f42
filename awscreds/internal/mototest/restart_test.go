package mototest

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentity"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/pubauth/awsauth/awscreds"
	"github.com/pubauth/awsauth/tokenstore/sqlstore"
)

// restartChildEnv makes the test binary act as one run of an application process instead of
// running tests: see TestIdentityIDSurvivesProcessRestart.
const restartChildEnv = "AWSCREDS_MOTOTEST_RESTART_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(restartChildEnv); spec != "" {
		os.Exit(restartChild(spec))
	}
	os.Exit(m.Run())
}

type childSpec struct {
	Endpoint, Region, PoolID, DB, Provider, Token string
}

type childResult struct {
	IdentityID string
	GetID      int32
	HasKeys    bool
	Error      string
}

// restartChild is one process of the application: it opens the SQLite store, retrieves the
// user's credentials from moto, prints what it did as JSON, and exits.
func restartChild(spec string) int {
	var s childSpec
	var res childResult
	defer func() { json.NewEncoder(os.Stdout).Encode(res) }()
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		res.Error = err.Error()
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sql.Open("sqlite", "file:"+s.DB+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		res.Error = err.Error()
		return 0
	}
	defer db.Close()
	store, err := sqlstore.New(db, sqlstore.SQLite)
	if err == nil {
		err = store.CreateSchema(ctx)
	}
	if err != nil {
		res.Error = err.Error()
		return 0
	}
	client := &countingCognito{Client: cognitoidentity.New(cognitoidentity.Options{
		Region: s.Region, BaseEndpoint: aws.String(s.Endpoint), Credentials: aws.AnonymousCredentials{},
	})}
	p := awscreds.NewIdentityPool(client, s.PoolID, func(o *awscreds.IdentityPoolOptions) {
		o.Logins = staticLogins(s.Provider, s.Token)
		o.Store = store
	})
	creds, err := p.Retrieve(ctx)
	if err != nil {
		res.Error = err.Error()
		return 0
	}
	res.HasKeys = creds.HasKeys()
	if res.IdentityID, err = p.IdentityID(ctx); err != nil {
		res.Error = err.Error()
	}
	res.GetID = client.getID.Load()
	return 0
}

// The identity id survives a real process restart: two runs of an application process
// (this test binary, re-executed) share a SQLite store file; the first calls GetId, the
// second finds the id in the store and calls GetId no more.
func TestIdentityIDSurvivesProcessRestart(t *testing.T) {
	mp := newMotoPool(t)
	spec, err := json.Marshal(childSpec{
		Endpoint: mp.moto.Endpoint, Region: mp.moto.Region, PoolID: mp.poolID,
		DB:       filepath.Join(t.TempDir(), "tokens.db"),
		Provider: "cognito-idp.us-east-1.amazonaws.com/us-east-1_AwsAuth1",
		Token:    fakeJWT(`{"iss":"` + motoUserPoolIssuer + `","sub":"alice"}`),
	})
	require.NoError(t, err)
	run := func(n int) childResult {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), restartChildEnv+"="+string(spec))
		out, err := cmd.Output()
		require.NoError(t, err, "process %d", n)
		var res childResult
		require.NoError(t, json.Unmarshal(out, &res), "process %d printed %q", n, out)
		require.Empty(t, res.Error, "process %d", n)
		require.True(t, res.HasKeys, "process %d got no credentials", n)
		return res
	}
	first := run(1)
	second := run(2)
	assert.Equal(t, first.IdentityID, second.IdentityID, "the same identity after the restart")
	assert.Equal(t, int32(1), first.GetID, "the first process resolved the identity")
	assert.Equal(t, int32(0), second.GetID, "the restarted process found it in the store")
	assert.Contains(t, first.IdentityID, ":", fmt.Sprint(first))
}
