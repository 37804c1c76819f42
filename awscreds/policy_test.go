package awscreds

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares the document's exact JSON with testdata/name (indented there for review:
// the comparison is of the indented form of the compact JSON, byte for byte).
func golden(t *testing.T, name string, d PolicyDocument) {
	t.Helper()
	compact, err := d.JSON()
	require.NoError(t, err)
	var indented bytes.Buffer
	require.NoError(t, json.Indent(&indented, []byte(compact), "", "  "))
	indented.WriteByte('\n')
	path := filepath.Join("testdata", name)
	if *updateGolden {
		require.NoError(t, os.WriteFile(path, indented.Bytes(), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./awscreds -run Golden -update to create it")
	assert.Equal(t, string(want), indented.String(), "policy JSON differs from %s", path)
	// The golden file, compacted, is the exact JSON sent to AWS.
	var back bytes.Buffer
	require.NoError(t, json.Compact(&back, want))
	assert.Equal(t, compact, back.String())
}

func TestGoldenS3PrefixPolicy(t *testing.T) {
	tests := []struct {
		file string
		user PolicyUser
		opt  func(*S3PrefixOptions)
	}{
		{file: "s3_prefix_identity_pool.json", user: IdentityPoolUser()},
		{file: "s3_prefix_principal_tag.json", user: PrincipalTagUser("sub"), opt: func(o *S3PrefixOptions) { o.Prefix = "users/" }},
		{file: "s3_prefix_literal_alice_slash.json", user: LiteralUser("alice/"), opt: func(o *S3PrefixOptions) {
			o.ObjectActions = []string{"s3:GetObject", "s3:PutObject", "s3:GetObject"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var opts []func(*S3PrefixOptions)
			if tt.opt != nil {
				opts = append(opts, tt.opt)
			}
			d, err := S3PrefixPolicy("demo-bucket", tt.user, opts...)
			require.NoError(t, err)
			golden(t, tt.file, d)
		})
	}
}

func TestGoldenDynamoDBPartitionPolicy(t *testing.T) {
	const table = "arn:aws:dynamodb:eu-west-1:123456789012:table/items"
	tests := []struct {
		file string
		user PolicyUser
		opt  func(*DynamoDBPartitionOptions)
	}{
		{file: "dynamodb_partition_identity_pool.json", user: IdentityPoolUser()},
		{file: "dynamodb_partition_principal_tag.json", user: PrincipalTagUser("sub"), opt: func(o *DynamoDBPartitionOptions) { o.Indexes = true }},
		{file: "dynamodb_partition_literal.json", user: LiteralUser("auth0|alice"), opt: func(o *DynamoDBPartitionOptions) {
			o.Actions = []string{"dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var opts []func(*DynamoDBPartitionOptions)
			if tt.opt != nil {
				opts = append(opts, tt.opt)
			}
			d, err := DynamoDBPartitionPolicy(table, tt.user, opts...)
			require.NoError(t, err)
			golden(t, tt.file, d)
		})
	}
}

func TestPolicyErrors(t *testing.T) {
	const table = "arn:aws:dynamodb:eu-west-1:123456789012:table/items"
	s3 := func(bucket string, u PolicyUser, opt func(*S3PrefixOptions)) error {
		var opts []func(*S3PrefixOptions)
		if opt != nil {
			opts = append(opts, opt)
		}
		_, err := S3PrefixPolicy(bucket, u, opts...)
		return err
	}
	ddb := func(arn string, u PolicyUser, opt func(*DynamoDBPartitionOptions)) error {
		var opts []func(*DynamoDBPartitionOptions)
		if opt != nil {
			opts = append(opts, opt)
		}
		_, err := DynamoDBPartitionPolicy(arn, u, opts...)
		return err
	}
	tests := map[string]error{
		"zero user":             s3("demo", PolicyUser{}, nil),
		"empty literal":         s3("demo", LiteralUser(""), nil),
		"tag key with brace":    s3("demo", PrincipalTagUser("sub}"), nil),
		"tag key with dollar":   s3("demo", PrincipalTagUser("$x"), nil),
		"aws: tag key":          s3("demo", PrincipalTagUser("aws:sub"), nil),
		"empty tag key":         s3("demo", PrincipalTagUser(""), nil),
		"bucket with wildcard":  s3("demo*", IdentityPoolUser(), nil),
		"bucket with slash":     s3("demo/x", IdentityPoolUser(), nil),
		"bucket upper case":     s3("Demo", IdentityPoolUser(), nil),
		"prefix without slash":  s3("demo", IdentityPoolUser(), func(o *S3PrefixOptions) { o.Prefix = "users" }),
		"prefix with wildcard":  s3("demo", IdentityPoolUser(), func(o *S3PrefixOptions) { o.Prefix = "*/" }),
		"prefix with variable":  s3("demo", IdentityPoolUser(), func(o *S3PrefixOptions) { o.Prefix = "${aws:username}/" }),
		"s3 wildcard action":    s3("demo", IdentityPoolUser(), func(o *S3PrefixOptions) { o.ObjectActions = []string{"s3:*"} }),
		"foreign action":        s3("demo", IdentityPoolUser(), func(o *S3PrefixOptions) { o.ObjectActions = []string{"iam:PassRole"} }),
		"bad partition":         s3("demo", IdentityPoolUser(), func(o *S3PrefixOptions) { o.Partition = "x" }),
		"table ARN of a bucket": ddb("arn:aws:s3:::demo", IdentityPoolUser(), nil),
		"table wildcard":        ddb("arn:aws:dynamodb:eu-west-1:123456789012:table/*", IdentityPoolUser(), nil),
		"index ARN":             ddb(table+"/index/byDate", IdentityPoolUser(), nil),
		"no account":            ddb("arn:aws:dynamodb:eu-west-1::table/items", IdentityPoolUser(), nil),
		"ddb zero user":         ddb(table, PolicyUser{}, nil),
		"Scan":                  ddb(table, IdentityPoolUser(), func(o *DynamoDBPartitionOptions) { o.Actions = []string{"dynamodb:Scan"} }),
		"PartiQLSelect":         ddb(table, IdentityPoolUser(), func(o *DynamoDBPartitionOptions) { o.Actions = []string{"dynamodb:GetItem", "dynamodb:PartiQLSelect"} }),
		"scan, other case":      ddb(table, IdentityPoolUser(), func(o *DynamoDBPartitionOptions) { o.Actions = []string{"dynamodb:scan"} }),
		"dynamodb:*":            ddb(table, IdentityPoolUser(), func(o *DynamoDBPartitionOptions) { o.Actions = []string{"dynamodb:*"} }),
		"s3 action on a table":  ddb(table, IdentityPoolUser(), func(o *DynamoDBPartitionOptions) { o.Actions = []string{"s3:GetObject"} }),
	}
	for name, err := range tests {
		t.Run(name, func(t *testing.T) {
			assert.ErrorIs(t, err, ErrInvalidPolicy)
			if err != nil {
				assert.True(t, strings.HasPrefix(err.Error(), "awscreds: "), err.Error())
			}
		})
	}
}

// The user's folder and partition can't reach another user's: alice, alice/ and alice%2F
// get three distinct resources, none a prefix of another's folder.
func TestPolicyLiteralUsersDistinct(t *testing.T) {
	var folders []string
	for _, id := range []string{"alice", "alice/", "alice%2F", "alice=2F", "alice*", "${aws:username}"} {
		d, err := S3PrefixPolicy("demo", LiteralUser(id))
		require.NoError(t, err)
		res := d.Statement[1].Resource[0]
		folder := strings.TrimSuffix(strings.TrimPrefix(res, "arn:aws:s3:::demo/"), "*")
		assert.Equal(t, 1, strings.Count(folder, "/"), "%q: one folder level", id)
		assert.NotContains(t, strings.TrimSuffix(folder, "/"), "*")
		assert.NotContains(t, folder, "$")
		for _, f := range folders {
			assert.False(t, strings.HasPrefix(f, folder) || strings.HasPrefix(folder, f), "%q and %q overlap", f, folder)
		}
		folders = append(folders, folder)
	}
}

func TestEscapeUserID(t *testing.T) {
	for in, want := range map[string]string{
		"alice":    "alice",
		"alice/":   "alice=2F",
		"alice%2F": "alice=252F",
		"alice=2F": "alice=3D2F",
		"auth0|u1": "auth0=7Cu1",
		"José":     "Jos=C3=A9",
		"a b*?${}": "a=20b=2A=3F=24=7B=7D",
		"eu-west-1:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee": "eu-west-1:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
		"user@example.com": "user@example.com",
		"":                 "",
	} {
		assert.Equal(t, want, EscapeUserID(in), "EscapeUserID(%q)", in)
	}
}

// unescapeUserID inverts EscapeUserID, to show it is injective.
func unescapeUserID(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != userIDEscape {
			if !userIDSafe(c) {
				return "", false
			}
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil || strings.ToUpper(s[i+1:i+3]) != s[i+1:i+3] {
			return "", false
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), true
}

// tagChars are the characters STS allows in a session tag value.
var tagChars = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

func FuzzEscapeUserID(f *testing.F) {
	for _, s := range []string{"alice", "alice/", "alice%2F", "=", "José", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		e := EscapeUserID(id)
		back, ok := unescapeUserID(e)
		if !ok || back != id {
			t.Fatalf("EscapeUserID(%q) = %q does not decode back (%q, %v)", id, e, back, ok)
		}
		if !tagChars.MatchString(e) {
			t.Fatalf("EscapeUserID(%q) = %q is not a valid tag value", id, e)
		}
		if len(e) > 3*len(id) {
			t.Fatalf("EscapeUserID(%q) is longer than 3x", id)
		}
	})
}
