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

	"github.com/pubauth/awsauth/internal/testenv/internal/peer"
)

// MotoVersion is the pinned moto[server] (PyPI) that scripts/deps.d/moto.sh
// installs in a virtual environment, linked as bin/moto_server-<MotoVersion>
// in the tools cache.
const MotoVersion = "5.2.5"

// MotoRegion is the region the examples and tests sign moto requests for.
// Moto keeps one backend per account and region: use the same region for
// creating a resource and for using it.
const MotoRegion = "us-east-1"

// Moto is a running moto server: one endpoint for every AWS service moto
// emulates (here cognito-identity, STS, Glue, IAM), told apart by the
// request's signature scope or X-Amz-Target header.
//
// What it does and does not check, as seen in moto 5.2.5's sources:
// cognito-identity checks no Logins, returns a random identity id from every
// GetId, and fixed credentials (AccessKeyId TESTACCESSKEY12345) that expire
// 90 seconds after GetCredentialsForIdentity; GetOpenIdToken and
// GetOpenIdTokenForDeveloperIdentity return a random "region:uuid", not a
// JWT. STS AssumeRole and AssumeRoleWithWebIdentity accept any role ARN and
// any token, ignore session tags and SourceIdentity, and remember the
// RoleSessionName (GetCallerIdentity with the returned keys shows it in the
// assumed-role ARN). No IAM policy is enforced anywhere.
type Moto struct {
	// Endpoint is the base URL of every service, http://127.0.0.1:PORT.
	Endpoint string
	// Region is MotoRegion.
	Region string

	bin  string
	port int
	proc *peer.Process
}

// StartMoto starts moto server on a free loopback port and returns once it
// answers HTTP. ctx bounds the start only.
func StartMoto(ctx context.Context) (*Moto, error) {
	bin, err := motoServer()
	if err != nil {
		return nil, err
	}
	port, err := peer.FreePort()
	if err != nil {
		return nil, err
	}
	m := &Moto{Endpoint: peer.LoopbackURL(port), Region: MotoRegion, bin: bin, port: port}
	if err := m.start(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// start runs moto_server on m.port and waits for it to answer.
func (m *Moto) start(ctx context.Context) error {
	cmd := exec.Command(m.bin, "-H", "127.0.0.1", "-p", strconv.Itoa(m.port))
	// A developer's AWS_* or MOTO_* settings (credentials, profiles, moto's
	// auth switches) must not change what the peer does.
	cmd.Env = peer.Environ([]string{"AWS_", "MOTO_", "TEST_SERVER_MODE"}, "PYTHONUNBUFFERED=1")
	proc, err := peer.Start("moto", cmd, peer.NewOutput())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, peer.StartTimeout)
	defer cancel()
	// moto-api/data.json is moto's own state dump: it answers 200 once the
	// server is up, without touching any service.
	if err := proc.WaitHTTP(ctx, m.Endpoint+"/moto-api/data.json"); err != nil {
		proc.Stop()
		return err
	}
	m.proc = proc
	return nil
}

// Restart stops the server and starts it again on the same port (Endpoint
// is unchanged), as a redeploy does: moto keeps everything in memory, so
// every resource (identity pools, identities, roles) is lost. Not safe for
// use concurrent with Logs or Stop. ctx bounds the start.
func (m *Moto) Restart(ctx context.Context) error {
	if err := m.proc.Stop(); err != nil {
		return fmt.Errorf("testenv: stopping moto: %w", err)
	}
	return m.start(ctx)
}

// motoServer finds moto_server: $AWSAUTH_MOTO, else the tools cache. PATH is
// not searched: a moto of another version behaves differently (moto 4 sent
// Expiration as a string).
func motoServer() (string, error) {
	if p := os.Getenv("AWSAUTH_MOTO"); p != "" {
		if !peer.IsExecutable(p) {
			return "", fmt.Errorf("testenv: AWSAUTH_MOTO=%s is not an executable file (run scripts/deps.sh)", p)
		}
		return p, nil
	}
	p := filepath.Join(peer.ToolsDir(), "bin", "moto_server-"+MotoVersion)
	if !peer.IsExecutable(p) {
		return "", fmt.Errorf("testenv: moto %s is not installed (%s missing): run scripts/deps.sh", MotoVersion, p)
	}
	return p, nil
}

// Config returns an aws.Config for this server: its region, its endpoint for
// every service, fixed test credentials (moto takes any) and a retryer that
// does not retry, so a test sees moto's first answer.
func (m *Moto) Config() aws.Config {
	return aws.Config{
		Region:       m.Region,
		BaseEndpoint: aws.String(m.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("testenv", "testenv", ""),
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
	}
}

// Reset drops every resource in every moto backend (POST /moto-api/reset),
// so tests sharing one server can start clean.
func (m *Moto) Reset(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.Endpoint+"/moto-api/reset", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("testenv: moto reset: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("testenv: moto reset: %s", resp.Status)
	}
	return nil
}

// Logs returns the tail of the server's output.
func (m *Moto) Logs() string { return m.proc.Logs() }

// Stop stops the server, which loses every resource. Safe to call more than
// once.
func (m *Moto) Stop() error { return m.proc.Stop() }
