package testenv

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentity"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// These tests run moto server (scripts/deps.d/moto.sh installs it); a missing
// install fails them.

func startMoto(t *testing.T) *Moto {
	t.Helper()
	m, err := StartMoto(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Stop(); err != nil {
			t.Errorf("stop moto: %v", err)
		}
	})
	return m
}

// The behaviour the awscreds tests rely on: an identity pool, GetId, and
// credentials that expire 90 s after they are issued; STS AssumeRole keeping
// the session name; Reset dropping the pool.
func TestMoto(t *testing.T) {
	ctx := t.Context()
	m := startMoto(t)
	if !strings.HasPrefix(m.Endpoint, "http://127.0.0.1:") || m.Region != MotoRegion {
		t.Errorf("Endpoint = %q, Region = %q", m.Endpoint, m.Region)
	}
	cfg := m.Config()
	ci := cognitoidentity.NewFromConfig(cfg)
	pool, err := ci.CreateIdentityPool(ctx, &cognitoidentity.CreateIdentityPoolInput{
		IdentityPoolName:               aws.String("testenv"),
		AllowUnauthenticatedIdentities: true,
	})
	if err != nil {
		t.Fatalf("CreateIdentityPool: %v\n%s", err, m.Logs())
	}
	if !strings.HasPrefix(aws.ToString(pool.IdentityPoolId), MotoRegion+":") {
		t.Errorf("IdentityPoolId = %q", aws.ToString(pool.IdentityPoolId))
	}
	id, err := ci.GetId(ctx, &cognitoidentity.GetIdInput{IdentityPoolId: pool.IdentityPoolId})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	out, err := ci.GetCredentialsForIdentity(ctx, &cognitoidentity.GetCredentialsForIdentityInput{IdentityId: id.IdentityId})
	if err != nil {
		t.Fatal(err)
	}
	exp := aws.ToTime(out.Credentials.Expiration)
	// moto issues 90 s credentials; a second either side for clocks and rounding.
	if lo, hi := before.Add(89*time.Second), time.Now().Add(91*time.Second); exp.Before(lo) || exp.After(hi) {
		t.Errorf("Expiration = %v, want 90 s after the call (%v..%v)", exp, lo, hi)
	}
	if aws.ToString(out.IdentityId) != aws.ToString(id.IdentityId) || aws.ToString(out.Credentials.AccessKeyId) == "" {
		t.Errorf("GetCredentialsForIdentity = %+v", out)
	}

	stsc := sts.NewFromConfig(cfg)
	ar, err := stsc.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn:         aws.String("arn:aws:iam::123456789012:role/testenv"),
		RoleSessionName: aws.String("alice"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(ar.AssumedRoleUser.Arn); !strings.HasSuffix(got, ":assumed-role/testenv/alice") {
		t.Errorf("AssumedRoleUser.Arn = %q", got)
	}

	if err := m.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	list, err := ci.ListIdentityPools(ctx, &cognitoidentity.ListIdentityPoolsInput{MaxResults: aws.Int32(10)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.IdentityPools) != 0 {
		t.Errorf("%d identity pools after Reset, want 0", len(list.IdentityPools))
	}

	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := m.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := http.Get(m.Endpoint + "/moto-api/data.json"); err == nil {
		t.Error("moto still answers after Stop")
	}
}

func TestMotoMissingInstall(t *testing.T) {
	t.Setenv("AWSAUTH_MOTO", "")
	t.Setenv("AWSAUTH_TOOLS", t.TempDir())
	_, err := StartMoto(t.Context())
	if err == nil || !strings.Contains(err.Error(), "run scripts/deps.sh") {
		t.Errorf("StartMoto without moto: %v, want a hint to run scripts/deps.sh", err)
	}
}

func TestMotoStartFailureShowsOutput(t *testing.T) {
	fake := t.TempDir() + "/moto_server"
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'boom: no flask'\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWSAUTH_MOTO", fake)
	_, err := StartMoto(t.Context())
	if err == nil || !strings.Contains(err.Error(), "moto output (tail)") || !strings.Contains(err.Error(), "boom: no flask") {
		t.Errorf("StartMoto with a failing server: %v, want its output", err)
	}
}

func TestDepsScriptPinsMotoVersion(t *testing.T) {
	b, err := os.ReadFile("../../scripts/deps.d/moto.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\nMOTO_VERSION="+MotoVersion+"\n") {
		t.Errorf("scripts/deps.d/moto.sh does not pin MOTO_VERSION=%s", MotoVersion)
	}
}
