package infra

// cfn-lint on template.yaml. The binary is the one scripts/deps.d/cfnlint.sh
// installs (run `make deps`), or $AWSAUTH_CFNLINT; a missing one fails the
// test.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// CFNLintVersion is the cfn-lint release the template is checked with. It
// must equal CFNLINT_VERSION in scripts/deps.d/cfnlint.sh (a test checks).
const CFNLintVersion = "1.58.0"

// lintTimeout bounds one cfn-lint run (about 4 s here).
const lintTimeout = 2 * time.Minute

func cfnLint(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("AWSAUTH_CFNLINT"); p != "" {
		return p
	}
	tools := os.Getenv("AWSAUTH_TOOLS")
	if tools == "" {
		home, err := os.UserHomeDir()
		require.NoError(t, err)
		tools = filepath.Join(home, ".cache", "awsauth")
	}
	p := filepath.Join(tools, "bin", "cfn-lint-"+CFNLintVersion)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("cfn-lint %s not installed at %s: run `make deps` (scripts/deps.d/cfnlint.sh) or set AWSAUTH_CFNLINT: %v", CFNLintVersion, p, err)
	}
	return p
}

// lint runs cfn-lint with every rule class, informational ones included,
// and a non-zero exit on any finding. It returns the findings, one a line.
func lint(t *testing.T, template string) (findings string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), lintTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, cfnLint(t),
		"--include-checks", "I", "--non-zero-exit-code", "informational", "--format", "parseable", "--", template)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func TestCFNLint(t *testing.T) {
	findings, err := lint(t, "template.yaml")
	if err != nil || findings != "" {
		t.Fatalf("cfn-lint %s on template.yaml: %v\n%s", CFNLintVersion, err, findings)
	}
}

// The harness fails on findings: a template with a bad property, and one
// with only an informational finding, both make cfn-lint exit non-zero.
func TestCFNLintReportsFindings(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, body, rule string }{
		{"error", "Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n    Properties:\n      NoSuchProperty: 1\n", "E3002"},
		{"informational", "Resources:\n  Table:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      BillingMode: PAY_PER_REQUEST\n" +
			"      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]\n      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n", "I3011"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".yaml")
			require.NoError(t, os.WriteFile(path, []byte(tc.body), 0o600))
			findings, err := lint(t, path)
			var exit *exec.ExitError
			require.True(t, errors.As(err, &exit), "cfn-lint must exit non-zero, got %v", err)
			assert.Contains(t, findings, ":"+tc.rule+":")
		})
	}
}

// iamActions reads the pinned cfn-lint's copy of IAM's Service Authorization
// Reference: service prefix → action → the resource types it can be scoped
// to (none: "*" only).
func iamActions(t *testing.T) map[string]map[string][]string {
	t.Helper()
	bin, err := filepath.EvalSymlinks(cfnLint(t))
	require.NoError(t, err)
	venv := filepath.Dir(filepath.Dir(bin))
	paths, err := filepath.Glob(filepath.Join(venv, "lib", "python3*", "site-packages", "cfnlint", "data", "AdditionalSpecs", "Policies.json"))
	require.NoError(t, err)
	require.Len(t, paths, 1, "cfn-lint's Policies.json under %s", venv)
	b, err := os.ReadFile(paths[0])
	require.NoError(t, err)
	var data map[string]struct {
		Actions map[string]struct{ Resources []string }
	}
	require.NoError(t, json.Unmarshal(b, &data))
	out := map[string]map[string][]string{}
	for svc, d := range data {
		out[svc] = map[string][]string{}
		for a, v := range d.Actions {
			out[svc][strings.ToLower(a)] = v.Resources
		}
	}
	return out
}

// Every action exists, and each is granted on "*" exactly when IAM can't
// scope it; unscopable (policy_test.go) lists those.
func TestActionsMatchResourceTypes(t *testing.T) {
	tpl, err := loadTemplate("template.yaml")
	require.NoError(t, err)
	actions := iamActions(t)
	seen := 0
	for id, r := range tpl.resources() {
		if resourceType(r) != "AWS::IAM::Role" {
			continue
		}
		trust, perms := roleStatements(id, r)
		for _, s := range append(trust, perms...) {
			for _, a := range s.actions() {
				seen++
				svc, name, _ := strings.Cut(a, ":")
				types, ok := actions[svc][strings.ToLower(name)]
				if !assert.True(t, ok, "%s: no IAM action %s", s.where, a) {
					continue
				}
				assert.Equal(t, len(types) == 0, slices.Contains(unscopable, a), "%s: %s has resource types %v", s.where, a, types)
				if len(types) == 0 && s.effect() == "Allow" {
					assert.Equal(t, []string{"*"}, s.resources(), "%s: %s is granted on \"*\" or not at all", s.where, a)
				}
			}
		}
	}
	assert.Greater(t, seen, 20, "the roles' actions were read")
}

func TestCFNLintIsThePinnedVersion(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), lintTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, cfnLint(t), "--version").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Regexp(t, `(^|\s)`+regexp.QuoteMeta(CFNLintVersion)+`\s*$`, string(out))
}

func TestDepsScriptPinsCFNLintVersion(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "scripts", "deps.d", "cfnlint.sh"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^CFNLINT_VERSION=(\S+)$`).FindSubmatch(b)
	require.NotNil(t, m, "scripts/deps.d/cfnlint.sh sets no CFNLINT_VERSION")
	assert.Equal(t, CFNLintVersion, string(m[1]), "CFNLintVersion and scripts/deps.d/cfnlint.sh disagree")
}

// Example lists the stack's outputs: the settings the examples read.
func Example() {
	tpl, err := loadTemplate("template.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.Join(tpl.outputNames(), "\n"))
	// Output:
	// ClientId
	// CognitoDomain
	// DynamoDBRoleArn
	// DynamoDBTable
	// GlueDatabaseName
	// GlueJobName
	// GlueRoleArn
	// IdentityPoolId
	// Issuer
	// OrdersScope
	// Region
	// S3Bucket
	// S3RoleArn
	// UserPoolId
}
