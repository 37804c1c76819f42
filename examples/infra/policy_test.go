package infra

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The IAM variables the per-user statements must be keyed on.
const (
	identityIDVar = "${cognito-identity.amazonaws.com:sub}" // the identity pool's identity id
	userTagVar    = "${aws:PrincipalTag/sub}"               // the DynamoDB session's sub tag
)

// unscopable are the actions the template uses that IAM authorizes on "*"
// only: they have no resource types in the Service Authorization Reference
// (TestActionsMatchResourceTypes checks this list against cfn-lint's copy).
var unscopable = []string{"glue:GetJobs"}

func onlyUnscopable(actions []string) bool {
	return len(actions) > 0 && !slices.ContainsFunc(actions, func(a string) bool { return !slices.Contains(unscopable, a) })
}

// leastPrivilegeFindings lists what is wrong with the template's IAM
// statements; none means least privilege as the examples define it.
func leastPrivilegeFindings(t template) []string {
	var f []string
	add := func(format string, args ...any) { f = append(f, fmt.Sprintf(format, args...)) }
	res := t.resources()
	for id, r := range res {
		switch resourceType(r) {
		case "AWS::IAM::OIDCProvider":
			add("%s: an IAM OIDC provider; web identity goes through the identity pool", id)
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::User", "AWS::IAM::Group":
			add("%s: %s outside the roles", id, resourceType(r))
		}
	}
	byRole := map[string][]statement{}
	for id, r := range res {
		if resourceType(r) != "AWS::IAM::Role" {
			continue
		}
		trust, perms := roleStatements(id, r)
		if _, ok := properties(r)["ManagedPolicyArns"]; ok {
			add("%s: managed policies", id)
		}
		for _, s := range append(trust, perms...) {
			if _, ok := s.m["NotAction"]; ok {
				add("%s: NotAction", s.where)
			}
			if _, ok := s.m["NotResource"]; ok {
				add("%s: NotResource", s.where)
			}
			for _, a := range s.actions() {
				if strings.Contains(a, "*") {
					add("%s: wildcard action %q", s.where, a)
				}
			}
		}
		for _, s := range trust {
			if s.effect() != "Allow" {
				continue
			}
			p, _ := s.m["Principal"].(map[string]any)
			if f := strs(p["Federated"]); f != nil && !slices.Equal(f, []string{"cognito-identity.amazonaws.com"}) {
				add("%s: federated principal %v", s.where, f)
			}
			if slices.Contains(strs(p["Federated"]), "cognito-identity.amazonaws.com") {
				if !slices.Equal(s.condition("StringEquals", "cognito-identity.amazonaws.com:aud"), []string{"Ref:IdentityPool"}) {
					add("%s: trusts Cognito identities without aud = this identity pool", s.where)
				}
				if len(s.condition("ForAnyValue:StringLike", "cognito-identity.amazonaws.com:amr")) != 1 {
					add("%s: trusts Cognito identities without an amr condition", s.where)
				}
			}
			aws, federated := strs(p["AWS"]), strs(p["Federated"])
			if len(p) != 1 || (aws == nil && federated == nil) || slices.Contains(aws, "*") {
				add("%s: principal %v, want one AWS principal or the identity pool", s.where, s.m["Principal"])
			}
		}
		for _, s := range perms {
			if s.effect() == "Allow" && slices.Contains(s.resources(), "*") && !onlyUnscopable(s.actions()) {
				add("%s: Allow on Resource \"*\"", s.where)
			}
		}
		byRole[id] = perms
	}
	f = append(f, s3Findings(byRole["S3Role"])...)
	f = append(f, dynamoDBFindings(byRole["DynamoDBRole"])...)
	f = append(f, glueFindings(byRole["GlueRole"])...)
	if gr := res["GuestRole"]; gr != nil {
		if _, perms := roleStatements("GuestRole", gr); len(perms) > 0 {
			add("GuestRole: guests get permissions")
		}
	}
	slices.Sort(f)
	return f
}

func allowed(perms []statement) []string {
	var acts []string
	for _, s := range perms {
		if s.effect() == "Allow" {
			acts = append(acts, s.actions()...)
		}
	}
	slices.Sort(acts)
	return slices.Compact(acts)
}

// s3Findings: the S3 role lists, reads and writes only "<identity id>/".
func s3Findings(perms []statement) []string {
	var f []string
	if got, want := allowed(perms), []string{"s3:GetObject", "s3:ListBucket", "s3:PutObject"}; !slices.Equal(got, want) {
		f = append(f, fmt.Sprintf("S3Role: allows %v, want %v", got, want))
	}
	for _, s := range perms {
		if s.effect() != "Allow" {
			continue
		}
		for _, a := range s.actions() {
			switch a {
			case "s3:ListBucket":
				if p := s.condition("StringLike", "s3:prefix"); !slices.Equal(p, []string{identityIDVar + "/*"}) {
					f = append(f, fmt.Sprintf("%s: ListBucket with s3:prefix %v, want [%s/*]", s.where, p, identityIDVar))
				}
				if !slices.Equal(s.resources(), []string{"GetAtt:FilesBucket.Arn"}) {
					f = append(f, fmt.Sprintf("%s: ListBucket on %v", s.where, s.resources()))
				}
			default:
				for _, r := range s.resources() {
					if r != "${FilesBucket.Arn}/"+identityIDVar+"/*" {
						f = append(f, fmt.Sprintf("%s: %s on %q, want the identity's prefix", s.where, a, r))
					}
				}
			}
		}
	}
	return f
}

// dynamoDBFindings: the DynamoDB role touches only items whose partition key
// is the session's sub tag, and never reads without a key.
func dynamoDBFindings(perms []statement) []string {
	var f []string
	keyless := []string{"dynamodb:PartiQLDelete", "dynamodb:PartiQLInsert", "dynamodb:PartiQLSelect", "dynamodb:PartiQLUpdate", "dynamodb:Scan"}
	var denied []string
	for _, s := range perms {
		if s.effect() == "Deny" {
			denied = append(denied, s.actions()...)
			continue
		}
		for _, a := range s.actions() {
			if slices.Contains(keyless, a) {
				f = append(f, fmt.Sprintf("%s: allows %s, which ForAllValues on dynamodb:LeadingKeys does not limit", s.where, a))
			}
			if !strings.HasPrefix(a, "dynamodb:") {
				f = append(f, fmt.Sprintf("%s: allows %s", s.where, a))
			}
		}
		if k := s.condition("ForAllValues:StringEquals", "dynamodb:LeadingKeys"); !slices.Equal(k, []string{userTagVar}) {
			f = append(f, fmt.Sprintf("%s: dynamodb:LeadingKeys %v, want ForAllValues:StringEquals [%s]", s.where, k, userTagVar))
		}
		for _, r := range s.resources() {
			if r != "GetAtt:ItemsTable.Arn" {
				f = append(f, fmt.Sprintf("%s: on %q, want the items table", s.where, r))
			}
		}
	}
	if len(allowed(perms)) == 0 {
		f = append(f, "DynamoDBRole: allows nothing")
	}
	for _, a := range keyless {
		if !slices.Contains(denied, a) {
			f = append(f, fmt.Sprintf("DynamoDBRole: %s not denied", a))
		}
	}
	return f
}

// glueFindings: the Glue role calls three operations on named resources.
func glueFindings(perms []statement) []string {
	var f []string
	if got, want := allowed(perms), []string{"glue:GetDatabases", "glue:GetJobs", "glue:StartJobRun"}; !slices.Equal(got, want) {
		f = append(f, fmt.Sprintf("GlueRole: allows %v, want %v", got, want))
	}
	for _, s := range perms {
		if slices.Equal(s.actions(), []string{"glue:GetJobs"}) && slices.Equal(s.resources(), []string{"*"}) {
			continue // unscopable, see above
		}
		for _, r := range s.resources() {
			named := strings.HasSuffix(r, ":catalog") || strings.HasSuffix(r, ":database/${GlueDatabaseName}") || strings.HasSuffix(r, ":job/${GlueJobName}")
			if !named {
				f = append(f, fmt.Sprintf("%s: on %q, want a named catalog, database or job", s.where, r))
			}
		}
	}
	return f
}

func TestLeastPrivilege(t *testing.T) {
	tpl, err := loadTemplate("template.yaml")
	require.NoError(t, err)
	assert.Empty(t, leastPrivilegeFindings(tpl))
}

// The checks catch what they are for: each edit of the real template must
// produce the finding named.
func TestLeastPrivilegeFindsViolations(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(tpl template)
		want string
	}{
		{"a wildcard action", func(tpl template) {
			perm(tpl, "S3Role", 1)["Action"] = []any{"s3:*"}
		}, `wildcard action "s3:*"`},
		{"a bare * action", func(tpl template) {
			perm(tpl, "GlueRole", 0)["Action"] = "*"
		}, `wildcard action "*"`},
		{"the prefix condition gone", func(tpl template) {
			delete(perm(tpl, "S3Role", 0), "Condition")
		}, "ListBucket with s3:prefix []"},
		{"objects outside the prefix", func(tpl template) {
			perm(tpl, "S3Role", 1)["Resource"] = map[string]any{"Fn::Sub": "${FilesBucket.Arn}/*"}
		}, `s3:GetObject on "${FilesBucket.Arn}/*"`},
		{"the prefix keyed on the user pool sub, unescaped", func(tpl template) {
			perm(tpl, "S3Role", 1)["Resource"] = map[string]any{"Fn::Sub": "${FilesBucket.Arn}/${sub}/*"}
		}, "want the identity's prefix"},
		{"the LeadingKeys condition gone", func(tpl template) {
			delete(perm(tpl, "DynamoDBRole", 0), "Condition")
		}, "dynamodb:LeadingKeys [], want"},
		{"LeadingKeys with ForAnyValue", func(tpl template) {
			c := perm(tpl, "DynamoDBRole", 0)["Condition"].(map[string]any)
			c["ForAnyValue:StringEquals"] = c["ForAllValues:StringEquals"]
			delete(c, "ForAllValues:StringEquals")
		}, "want ForAllValues:StringEquals"},
		{"Scan allowed", func(tpl template) {
			s := perm(tpl, "DynamoDBRole", 0)
			s["Action"] = append(s["Action"].([]any), "dynamodb:Scan")
		}, "allows dynamodb:Scan"},
		{"PartiQL no longer denied", func(tpl template) {
			perm(tpl, "DynamoDBRole", 1)["Action"] = []any{"dynamodb:Scan"}
		}, "dynamodb:PartiQLSelect not denied"},
		{"an extra Glue operation", func(tpl template) {
			s := perm(tpl, "GlueRole", 1)
			s["Action"] = append(s["Action"].([]any), "glue:DeleteJob")
		}, "GlueRole: allows"},
		{"a Glue job wildcard", func(tpl template) {
			perm(tpl, "GlueRole", 2)["Resource"] = []any{map[string]any{"Fn::Sub": "arn:aws:glue:r:a:job/*"}}
		}, "want a named catalog, database or job"},
		{"Resource *", func(tpl template) {
			perm(tpl, "GlueRole", 2)["Resource"] = "*"
		}, `Allow on Resource "*"`},
		{"a scopable action beside GetJobs on *", func(tpl template) {
			s := perm(tpl, "GlueRole", 1)
			s["Action"] = append(s["Action"].([]any), "glue:StartJobRun")
		}, `Allow on Resource "*"`},
		{"identity pool trust without aud", func(tpl template) {
			s := docStatements(properties(tpl.resource("S3Role"))["AssumeRolePolicyDocument"])[0]
			delete(s["Condition"].(map[string]any), "StringEquals")
		}, "without aud = this identity pool"},
		{"an IAM OIDC provider", func(tpl template) {
			tpl["Resources"].(map[string]any)["Provider"] = map[string]any{"Type": "AWS::IAM::OIDCProvider"}
		}, "an IAM OIDC provider"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tpl, err := loadTemplate("template.yaml")
			require.NoError(t, err)
			tc.edit(tpl)
			findings := leastPrivilegeFindings(tpl)
			assert.True(t, slices.ContainsFunc(findings, func(f string) bool { return strings.Contains(f, tc.want) }),
				"want a finding with %q, got %q", tc.want, findings)
		})
	}
}

// perm returns statement i of role's first inline policy.
func perm(tpl template, role string, i int) map[string]any {
	pols := properties(tpl.resource(role))["Policies"].([]any)
	return docStatements(pols[0].(map[string]any)["PolicyDocument"])[i]
}

func TestAppClient(t *testing.T) {
	tpl, err := loadTemplate("template.yaml")
	require.NoError(t, err)
	c := properties(tpl.resource("UserPoolClient"))
	assert.Equal(t, false, c["GenerateSecret"], "public client: PKCE, no secret")
	assert.Equal(t, []string{"code"}, strs(c["AllowedOAuthFlows"]), "authorization code only: no implicit flow")
	assert.Equal(t, []string{"openid", "email", "profile", "orders/read"}, strs(c["AllowedOAuthScopes"]))
	assert.Equal(t, []string{"Ref:CallbackURLs"}, strs(c["CallbackURLs"]))
	assert.Equal(t, []string{"Ref:LogoutURLs"}, strs(c["LogoutURLs"]))
	assert.Equal(t, true, c["EnableTokenRevocation"], "logout revokes the refresh token (RFC 7009)")

	rs := properties(tpl.resource("OrdersResourceServer"))
	assert.Equal(t, "orders", rs["Identifier"])
	assert.Equal(t, "read", rs["Scopes"].([]any)[0].(map[string]any)["ScopeName"])

	d := properties(tpl.resource("UserPoolDomain"))
	assert.Equal(t, []string{"Ref:DomainPrefix"}, strs(d["Domain"]))
	assert.Equal(t, 2, d["ManagedLoginVersion"], "managed login, not the classic hosted UI")

	ip := properties(tpl.resource("IdentityPool"))
	providers := ip["CognitoIdentityProviders"].([]any)
	require.Len(t, providers, 1)
	assert.Equal(t, []string{"Ref:UserPoolClient"}, strs(providers[0].(map[string]any)["ClientId"]))
	assert.Equal(t, true, providers[0].(map[string]any)["ServerSideTokenCheck"], "no credentials for a user signed out globally or deleted")
	assert.Equal(t, true, ip["AllowClassicFlow"], "the S3 role is assumed through the basic flow")

	roles := properties(tpl.resource("IdentityPoolRoles"))["Roles"].(map[string]any)
	assert.Equal(t, []string{"GetAtt:GlueRole.Arn"}, strs(roles["authenticated"]))
	assert.Equal(t, []string{"GetAtt:GuestRole.Arn", "Ref:AWS::NoValue"}, strs(roles["unauthenticated"]), "guests only when asked for")
}

// The identity pool gives every signed-in user the Glue role, whose
// glue:GetJobs IAM can only grant on "*" (every job definition of the
// region, default arguments included): with self sign-up open, that would
// be anyone on the internet. Users are created by an administrator.
func TestNoSelfSignUp(t *testing.T) {
	tpl, err := loadTemplate("template.yaml")
	require.NoError(t, err)
	cfg, _ := properties(tpl.resource("UserPool"))["AdminCreateUserConfig"].(map[string]any)
	assert.Equal(t, true, cfg["AllowAdminCreateUserOnly"], "UserPool: self sign-up must be off")
}

// Every setting the examples read from the stack is an output.
func TestOutputsCoverTheExamples(t *testing.T) {
	tpl, err := loadTemplate("template.yaml")
	require.NoError(t, err)
	for _, name := range []string{"Region", "Issuer", "ClientId", "CognitoDomain", "IdentityPoolId", "S3RoleArn", "S3Bucket",
		"DynamoDBRoleArn", "DynamoDBTable", "GlueRoleArn", "GlueDatabaseName", "GlueJobName", "OrdersScope"} {
		assert.Contains(t, tpl.outputNames(), name)
	}
}

func TestParseTemplateRefusesDuplicateKeys(t *testing.T) {
	_, err := parseTemplate([]byte("Resources:\n  A: {Type: X}\n  A: {Type: Y}\n"))
	assert.ErrorContains(t, err, `duplicate key "A"`)
}

func TestParseTemplateExpandsShortForms(t *testing.T) {
	tpl, err := parseTemplate([]byte("A: !Ref X\nB: !GetAtt R.Arn\nC: !Sub \"${!aws:x}/${Y}\"\nD: !If [C, 1, !Ref AWS::NoValue]\n"))
	require.NoError(t, err)
	b, err := json.Marshal(tpl)
	require.NoError(t, err)
	assert.JSONEq(t, `{"A":{"Ref":"X"},"B":{"Fn::GetAtt":["R","Arn"]},"C":{"Fn::Sub":"${!aws:x}/${Y}"},"D":{"Fn::If":["C",1,{"Ref":"AWS::NoValue"}]}}`, string(b))
	assert.Equal(t, []string{"${aws:x}/${Y}"}, strs(tpl["C"]))
}
