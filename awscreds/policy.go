package awscreds

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// PolicyVersion is the IAM policy language version of every document built here.
const PolicyVersion = "2012-10-17"

// Policy variables that name the user in a role's or a session's policy.
const (
	// IdentityPoolSubVariable resolves to the caller's Cognito identity id (REGION:GUID) in
	// credentials from an identity pool.
	IdentityPoolSubVariable = "${cognito-identity.amazonaws.com:sub}"
)

// ErrInvalidPolicy is wrapped by the policy helpers' errors: an argument that would make a
// document IAM refuses or one that grants more than it says.
var ErrInvalidPolicy = errors.New("awscreds: invalid policy")

// Effect is a statement's Effect.
type Effect string

// The two effects.
const (
	Allow Effect = "Allow"
	Deny  Effect = "Deny"
)

// PolicyDocument is an IAM policy document
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html), typed so
// that its JSON is exact and stable: fields in the order below, condition operators and keys
// sorted, every Action, Resource and condition value a list.
type PolicyDocument struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a PolicyDocument.
type Statement struct {
	Sid       string    `json:"Sid,omitempty"`
	Effect    Effect    `json:"Effect"`
	Action    []string  `json:"Action"`
	Resource  []string  `json:"Resource"`
	Condition Condition `json:"Condition,omitempty"`
}

// Condition maps a condition operator to condition keys and their values, e.g.
// {"StringLike": {"s3:prefix": {"alice/*"}}}. encoding/json writes map keys sorted.
type Condition map[string]map[string][]string

// JSON returns the document as compact JSON, as STS's Policy parameter and IAM's
// PolicyDocument take it (a session policy may be at most 2,048 characters once packed).
// Characters such as '<' and '&' are written as they are, not as \u escapes.
func (d PolicyDocument) JSON() (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return "", fmt.Errorf("awscreds: encode policy: %w", err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// PolicyUser names the user inside a policy: a policy variable that IAM resolves for each
// request, or a literal, escaped user id. Build one with [IdentityPoolUser], [PrincipalTagUser]
// or [LiteralUser].
type PolicyUser struct {
	value string
	err   error
}

// String returns what the policy contains for the user.
func (u PolicyUser) String() string { return u.value }

// IdentityPoolUser is ${cognito-identity.amazonaws.com:sub}: the caller's identity id, in a
// policy of an identity pool's role. The app stores the user's data under the identity id
// (IdentityPool.IdentityID).
func IdentityPoolUser() PolicyUser { return PolicyUser{value: IdentityPoolSubVariable} }

// tagKey is STS's tag key syntax, without the characters that would end a policy variable.
var tagKey = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$`)

// PrincipalTagUser is ${aws:PrincipalTag/KEY}: a session tag of the caller, such as the tag
// [AssumeRole] sets from a verified claim (its values are EscapeUserID of the claim, so the
// app keys a DynamoDB partition by EscapeUserID(sub), and names an S3 prefix with
// UserPrefix(sub), which refuses a sub that escaping would change). key must be a valid tag key.
func PrincipalTagUser(key string) PolicyUser {
	if !tagKey.MatchString(key) || strings.HasPrefix(strings.ToLower(key), "aws:") {
		return PolicyUser{err: fmt.Errorf("%w: %q is not a session tag key", ErrInvalidPolicy, key)}
	}
	return PolicyUser{value: "${aws:PrincipalTag/" + key + "}"}
}

// LiteralUser is the user id itself, escaped with EscapeUserID, for a policy written for one
// user (a session policy passed to AssumeRole). An empty id is refused.
func LiteralUser(id string) PolicyUser {
	if id == "" {
		return PolicyUser{err: fmt.Errorf("%w: empty user id", ErrInvalidPolicy)}
	}
	return PolicyUser{value: EscapeUserID(id)}
}

func (u PolicyUser) check() error {
	if u.err != nil {
		return u.err
	}
	if u.value == "" {
		return fmt.Errorf("%w: zero PolicyUser (use IdentityPoolUser, PrincipalTagUser or LiteralUser)", ErrInvalidPolicy)
	}
	return nil
}

// S3PrefixOptions configures S3PrefixPolicy.
type S3PrefixOptions struct {
	// Prefix goes before the user's folder: "users/" gives users/<user>/…. Empty or ending in
	// '/', without wildcards or variables.
	Prefix string
	// ObjectActions are allowed on the user's objects. Default s3:DeleteObject, s3:GetObject,
	// s3:PutObject. Each must be an s3: action without wildcards.
	ObjectActions []string
	// Partition of the ARNs; default "aws".
	Partition string
}

var (
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	s3Prefix   = regexp.MustCompile(`^([A-Za-z0-9_.:@+=-]+/)*$`)
	action     = regexp.MustCompile(`^[a-z0-9-]+:[A-Za-z0-9]+$`)
	partition  = regexp.MustCompile(`^aws(-[a-z]+)*$`)
	tableName  = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,255}$`)
)

// S3PrefixPolicy returns a policy that lets the user list, read, write and delete only under
// <Prefix><user>/ in bucket, where the app writes under Prefix + UserPrefix(id):
//
//   - s3:ListBucket on the bucket, with StringLike s3:prefix in ["<P><user>/", "<P><user>/*"]
//     (a listing without a prefix, or of another prefix, is refused);
//   - ObjectActions on arn:<partition>:s3:::<bucket>/<P><user>/*.
//
// Errors wrap ErrInvalidPolicy.
func S3PrefixPolicy(bucket string, user PolicyUser, optFns ...func(*S3PrefixOptions)) (PolicyDocument, error) {
	o := S3PrefixOptions{Partition: "aws"}
	for _, fn := range optFns {
		fn(&o)
	}
	if len(o.ObjectActions) == 0 {
		o.ObjectActions = []string{"s3:DeleteObject", "s3:GetObject", "s3:PutObject"}
	}
	switch err := user.check(); {
	case err != nil:
		return PolicyDocument{}, err
	case !bucketName.MatchString(bucket) || strings.Contains(bucket, ".."):
		return PolicyDocument{}, fmt.Errorf("%w: %q is not an S3 bucket name", ErrInvalidPolicy, bucket)
	case !s3Prefix.MatchString(o.Prefix):
		return PolicyDocument{}, fmt.Errorf("%w: Prefix %q must be empty or end in '/', without wildcards", ErrInvalidPolicy, o.Prefix)
	case !partition.MatchString(o.Partition):
		return PolicyDocument{}, fmt.Errorf("%w: partition %q", ErrInvalidPolicy, o.Partition)
	}
	if err := checkActions("s3", o.ObjectActions, nil); err != nil {
		return PolicyDocument{}, err
	}
	folder := o.Prefix + user.value + "/"
	bucketARN := "arn:" + o.Partition + ":s3:::" + bucket
	return PolicyDocument{
		Version: PolicyVersion,
		Statement: []Statement{
			{
				Sid:       "ListOwnPrefix",
				Effect:    Allow,
				Action:    []string{"s3:ListBucket"},
				Resource:  []string{bucketARN},
				Condition: Condition{"StringLike": {"s3:prefix": {folder, folder + "*"}}},
			},
			{
				Sid:      "OwnObjects",
				Effect:   Allow,
				Action:   sortedCopy(o.ObjectActions),
				Resource: []string{bucketARN + "/" + folder + "*"},
			},
		},
	}, nil
}

// DynamoDBPartitionOptions configures DynamoDBPartitionPolicy.
type DynamoDBPartitionOptions struct {
	// Actions are allowed on the user's items. Default dynamodb:BatchGetItem,
	// BatchWriteItem, ConditionCheckItem, DeleteItem, GetItem, PutItem, Query, UpdateItem.
	// Scan and the PartiQL actions are refused: they carry no dynamodb:LeadingKeys, and
	// ForAllValues:StringEquals holds for an absent key.
	Actions []string
	// Indexes also allows the actions on the table's indexes (<table ARN>/index/*), whose
	// partition key must then be the user's too.
	Indexes bool
}

// Actions DynamoDBPartitionPolicy refuses to allow, and denies.
var unscopedDynamoDBActions = []string{
	"dynamodb:PartiQLDelete", "dynamodb:PartiQLInsert", "dynamodb:PartiQLSelect", "dynamodb:PartiQLUpdate", "dynamodb:Scan",
}

// DynamoDBPartitionPolicy returns a policy that lets the user touch only the items of the
// table whose partition key is the user
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html):
//
//   - Actions on the table (and its indexes with Indexes), with ForAllValues:StringEquals
//     dynamodb:LeadingKeys = [user] and Null dynamodb:LeadingKeys = false (the key must be
//     present: ForAllValues alone holds for a request without one);
//   - an explicit Deny of Scan and PartiQL on the same resources, so that no other policy of
//     the role can open them.
//
// tableARN is arn:<partition>:dynamodb:<region>:<account>:table/<name>. Errors wrap
// ErrInvalidPolicy.
func DynamoDBPartitionPolicy(tableARN string, user PolicyUser, optFns ...func(*DynamoDBPartitionOptions)) (PolicyDocument, error) {
	var o DynamoDBPartitionOptions
	for _, fn := range optFns {
		fn(&o)
	}
	if len(o.Actions) == 0 {
		o.Actions = []string{
			"dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem",
			"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem",
		}
	}
	if err := user.check(); err != nil {
		return PolicyDocument{}, err
	}
	a, err := arn.Parse(tableARN)
	name, isTable := strings.CutPrefix(a.Resource, "table/")
	if err != nil || a.Service != "dynamodb" || !isTable || !tableName.MatchString(name) ||
		a.Region == "" || a.AccountID == "" || !partition.MatchString(a.Partition) {
		return PolicyDocument{}, fmt.Errorf("%w: %q is not a DynamoDB table ARN (arn:aws:dynamodb:REGION:ACCOUNT:table/NAME)", ErrInvalidPolicy, tableARN)
	}
	if err := checkActions("dynamodb", o.Actions, unscopedDynamoDBActions); err != nil {
		return PolicyDocument{}, err
	}
	resources := []string{tableARN}
	if o.Indexes {
		resources = append(resources, tableARN+"/index/*")
	}
	return PolicyDocument{
		Version: PolicyVersion,
		Statement: []Statement{
			{
				Sid:      "OwnPartition",
				Effect:   Allow,
				Action:   sortedCopy(o.Actions),
				Resource: resources,
				Condition: Condition{
					"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": {user.value}},
					"Null":                      {"dynamodb:LeadingKeys": {"false"}},
				},
			},
			{
				Sid:      "NoScanOrPartiQL",
				Effect:   Deny,
				Action:   slices.Clone(unscopedDynamoDBActions),
				Resource: slices.Clone(resources),
			},
		},
	}, nil
}

// checkActions requires service:Name actions without wildcards, none of them refused.
func checkActions(service string, actions, refused []string) error {
	for _, a := range actions {
		if !action.MatchString(a) || !strings.HasPrefix(a, service+":") {
			return fmt.Errorf("%w: action %q is not a %s: action without wildcards", ErrInvalidPolicy, a, service)
		}
		for _, r := range refused {
			if strings.EqualFold(a, r) {
				return fmt.Errorf("%w: %s can't be limited to the user's partition (no dynamodb:LeadingKeys)", ErrInvalidPolicy, a)
			}
		}
	}
	return nil
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return slices.Compact(c)
}
