package awscreds

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stubAssumeRole implements stscreds.AssumeRoleAPIClient.
type stubAssumeRole struct {
	respond func(in *sts.AssumeRoleInput) (*sts.AssumeRoleOutput, error)

	mu     sync.Mutex
	inputs []*sts.AssumeRoleInput
}

func (s *stubAssumeRole) AssumeRole(_ context.Context, in *sts.AssumeRoleInput, _ ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	s.mu.Lock()
	s.inputs = append(s.inputs, in)
	s.mu.Unlock()
	if s.respond != nil {
		return s.respond(in)
	}
	return &sts.AssumeRoleOutput{
		Credentials: &types.Credentials{
			AccessKeyId: aws.String("ASIAROLE"), SecretAccessKey: aws.String("s"), SessionToken: aws.String("t"),
			Expiration: aws.Time(time.Date(2030, 1, 2, 15, 4, 5, 0, time.UTC)),
		},
		AssumedRoleUser: &types.AssumedRoleUser{Arn: aws.String("arn:aws:sts::123456789012:assumed-role/items/" + aws.ToString(in.RoleSessionName))},
	}, nil
}

func (s *stubAssumeRole) calls() []*sts.AssumeRoleInput {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*sts.AssumeRoleInput(nil), s.inputs...)
}

const itemsRoleARN = "arn:aws:iam::123456789012:role/items"

func TestAssumeRoleInput(t *testing.T) {
	policy, err := DynamoDBPartitionPolicy("arn:aws:dynamodb:eu-west-1:123456789012:table/items", PrincipalTagUser("sub"))
	require.NoError(t, err)
	policyJSON, err := policy.JSON()
	require.NoError(t, err)
	stub := &stubAssumeRole{}
	claims := VerifiedClaims{"sub": "auth0|alice", "email": "alice@example.com", "email_verified": true}
	p := NewAssumeRole(stub, itemsRoleARN, claims, func(o *AssumeRoleOptions) {
		o.Duration = time.Hour
		o.Policy = &policyJSON
		o.TagClaims = map[string]string{"sub": "sub", "email": "email"}
		o.TransitiveTagKeys = []string{"sub"}
		o.SourceIdentityClaim = "sub"
		o.ExternalID = aws.String("ext-1")
	})
	policyJSON = "changed after construction"
	creds, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, AssumeRoleProviderName, creds.Source)
	assert.Equal(t, "123456789012", creds.AccountID)
	assert.True(t, creds.CanExpire)
	assert.True(t, creds.Expires.Equal(time.Date(2030, 1, 2, 15, 4, 5, 0, time.UTC)))

	in := stub.calls()[0]
	assert.Equal(t, itemsRoleARN, aws.ToString(in.RoleArn))
	assert.Equal(t, SanitizeRoleSessionName("auth0|alice"), aws.ToString(in.RoleSessionName))
	assert.Equal(t, int32(3600), aws.ToInt32(in.DurationSeconds))
	want, _ := policy.JSON()
	assert.Equal(t, want, aws.ToString(in.Policy), "the policy as it was at construction")
	assert.Equal(t, []types.Tag{
		{Key: aws.String("email"), Value: aws.String("alice@example.com")},
		{Key: aws.String("sub"), Value: aws.String("auth0=7Calice")},
	}, in.Tags, "tags sorted by key, values escaped")
	assert.Equal(t, []string{"sub"}, in.TransitiveTagKeys)
	assert.Equal(t, SanitizeRoleSessionName("auth0|alice"), aws.ToString(in.SourceIdentity))
	assert.Equal(t, "ext-1", aws.ToString(in.ExternalId))

	// Concurrent Retrieve: no write to shared state (run with -race).
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			_, err := p.Retrieve(context.Background())
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	for _, in := range stub.calls() {
		assert.Equal(t, SanitizeRoleSessionName("auth0|alice"), aws.ToString(in.RoleSessionName))
	}
}

func TestAssumeRoleDefaults(t *testing.T) {
	stub := &stubAssumeRole{}
	_, err := NewAssumeRole(stub, itemsRoleARN, VerifiedClaims{"sub": "alice"}).Retrieve(context.Background())
	require.NoError(t, err)
	in := stub.calls()[0]
	assert.Equal(t, "alice", aws.ToString(in.RoleSessionName))
	assert.Equal(t, int32(900), aws.ToInt32(in.DurationSeconds))
	assert.Nil(t, in.Tags)
	assert.Nil(t, in.SourceIdentity)
	assert.Nil(t, in.Policy)
}

func TestAssumeRoleConfigAndClaimErrors(t *testing.T) {
	stub := &stubAssumeRole{}
	alice := VerifiedClaims{"sub": "alice", "n": 42.0, "long": strings.Repeat("/", 100)}
	tests := []struct {
		name    string
		client  *stubAssumeRole
		role    string
		claims  VerifiedClaims
		opt     func(*AssumeRoleOptions)
		wantErr error
	}{
		{name: "nil client", role: itemsRoleARN, claims: alice, wantErr: ErrConfiguration},
		{name: "not a role", client: stub, role: "arn:aws:iam::123456789012:user/x", claims: alice, wantErr: ErrConfiguration},
		{name: "2 h: role chaining", client: stub, role: itemsRoleARN, claims: alice, opt: func(o *AssumeRoleOptions) { o.Duration = 2 * time.Hour }, wantErr: ErrConfiguration},
		{name: "5 min", client: stub, role: itemsRoleARN, claims: alice, opt: func(o *AssumeRoleOptions) { o.Duration = 5 * time.Minute }, wantErr: ErrConfiguration},
		{name: "bad session name", client: stub, role: itemsRoleARN, claims: alice, opt: func(o *AssumeRoleOptions) { o.RoleSessionName = "a b" }, wantErr: ErrConfiguration},
		{name: "aws: tag", client: stub, role: itemsRoleARN, claims: alice, opt: func(o *AssumeRoleOptions) { o.TagClaims = map[string]string{"aws:x": "sub"} }, wantErr: ErrConfiguration},
		{name: "transitive key not tagged", client: stub, role: itemsRoleARN, claims: alice, opt: func(o *AssumeRoleOptions) { o.TransitiveTagKeys = []string{"sub"} }, wantErr: ErrConfiguration},
		{name: "no sub", client: stub, role: itemsRoleARN, claims: VerifiedClaims{"email": "a@b"}, wantErr: ErrInvalidClaims},
		{name: "numeric sub", client: stub, role: itemsRoleARN, claims: VerifiedClaims{"sub": 1.0}, wantErr: ErrInvalidClaims},
		{name: "nil claims", client: stub, role: itemsRoleARN, wantErr: ErrInvalidClaims},
		{name: "tag from missing claim", client: stub, role: itemsRoleARN, claims: alice, opt: func(o *AssumeRoleOptions) { o.TagClaims = map[string]string{"email": "email"} }, wantErr: ErrInvalidClaims},
		{name: "tag from number", client: stub, role: itemsRoleARN, claims: alice, opt: func(o *AssumeRoleOptions) { o.TagClaims = map[string]string{"n": "n"} }, wantErr: ErrInvalidClaims},
		{name: "tag too long escaped", client: stub, role: itemsRoleARN, claims: alice, opt: func(o *AssumeRoleOptions) { o.TagClaims = map[string]string{"l": "long"} }, wantErr: ErrInvalidClaims},
		{name: "source identity missing", client: stub, role: itemsRoleARN, claims: alice, opt: func(o *AssumeRoleOptions) { o.SourceIdentityClaim = "email" }, wantErr: ErrInvalidClaims},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []func(*AssumeRoleOptions)
			if tt.opt != nil {
				opts = append(opts, tt.opt)
			}
			// A nil *stubAssumeRole in the interface would not be a nil client.
			var p *AssumeRole
			if tt.client == nil {
				p = NewAssumeRole(nil, tt.role, tt.claims, opts...)
			} else {
				p = NewAssumeRole(tt.client, tt.role, tt.claims, opts...)
			}
			_, err := p.Retrieve(context.Background())
			assert.ErrorIs(t, err, tt.wantErr)
			if err != nil {
				assert.True(t, strings.HasPrefix(err.Error(), "awscreds: AssumeRole: "), err.Error())
			}
		})
	}
	assert.Empty(t, stub.calls(), "STS called despite a configuration or claims error")
}

func TestAssumeRoleAWSErrors(t *testing.T) {
	tests := map[string]struct {
		err        error
		wantConfig bool
	}{
		"AccessDenied": {err: &smithy.OperationError{ServiceID: "STS", OperationName: "AssumeRole",
			Err: &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform sts:TagSession"}}, wantConfig: true},
		"MalformedPolicyDocument": {err: &types.MalformedPolicyDocumentException{Message: aws.String("bad")}, wantConfig: true},
		"PackedPolicyTooLarge":    {err: &types.PackedPolicyTooLargeException{Message: aws.String("too large")}, wantConfig: true},
		"Throttling":              {err: &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}},
		"500":                     {err: &smithy.GenericAPIError{Code: "InternalFailure", Message: "oops", Fault: smithy.FaultServer}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			stub := &stubAssumeRole{respond: func(*sts.AssumeRoleInput) (*sts.AssumeRoleOutput, error) { return nil, tt.err }}
			_, err := NewAssumeRole(stub, itemsRoleARN, VerifiedClaims{"sub": "alice"}).Retrieve(context.Background())
			require.ErrorIs(t, err, tt.err)
			assert.Equal(t, tt.wantConfig, errors.Is(err, ErrConfiguration))
			assert.True(t, strings.HasPrefix(err.Error(), "awscreds: AssumeRole: "), err.Error())
			assert.Len(t, stub.calls(), 1)
		})
	}
	// stscreds checks only that Credentials is present: a response without Expiration would
	// be credentials with CanExpire and a zero Expires, and one without a secret key unusable.
	for name, c := range map[string]*types.Credentials{
		"no expiration": {AccessKeyId: aws.String("ASIAROLE"), SecretAccessKey: aws.String("s"), SessionToken: aws.String("t")},
		"no secret key": {AccessKeyId: aws.String("ASIAROLE"), SessionToken: aws.String("t"), Expiration: aws.Time(time.Now().Add(time.Hour))},
		"no access key": {SecretAccessKey: aws.String("s"), SessionToken: aws.String("t"), Expiration: aws.Time(time.Now().Add(time.Hour))},
	} {
		t.Run(name, func(t *testing.T) {
			stub := &stubAssumeRole{respond: func(*sts.AssumeRoleInput) (*sts.AssumeRoleOutput, error) {
				return &sts.AssumeRoleOutput{Credentials: c}, nil
			}}
			creds, err := NewAssumeRole(stub, itemsRoleARN, VerifiedClaims{"sub": "alice"}).Retrieve(context.Background())
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "awscreds: AssumeRole: "), err.Error())
			assert.Equal(t, aws.Credentials{}, creds)
		})
	}
	t.Run("response without credentials", func(t *testing.T) {
		stub := &stubAssumeRole{respond: func(*sts.AssumeRoleInput) (*sts.AssumeRoleOutput, error) { return &sts.AssumeRoleOutput{}, nil }}
		creds, err := NewAssumeRole(stub, itemsRoleARN, VerifiedClaims{"sub": "alice"}).Retrieve(context.Background())
		require.Error(t, err)
		assert.False(t, creds.HasKeys())
	})
}
