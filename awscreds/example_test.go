package awscreds_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentity"
	citypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentity/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/pubauth/awsauth/awscreds"
	"github.com/pubauth/awsauth/tokenstore"
)

// The wiring for one signed-in user: an STS client (here pointed at a MinIO server through
// BaseEndpoint; leave BaseEndpoint unset for AWS), the provider, the cache with an expiry window
// and jitter, and an S3 client that signs with the user's credentials. It needs a server and a
// signed-in user, so it is compiled but not run.
func ExampleNewWebIdentity() {
	ctx := context.Background()

	// In an application idToken is authflow's h.IDTokenFunc(sess.ID): it loads the user's
	// session, refreshes the ID token when needed and uses each call's ctx.
	var idToken awscreds.IDTokenFunc = func(ctx context.Context) (string, error) {
		return "", errors.New("no signed-in user in this example")
	}

	// AssumeRoleWithWebIdentity is not signed: the STS client needs no credentials.
	cfg := aws.Config{Region: "us-east-1"}
	stsClient := sts.NewFromConfig(cfg, func(o *sts.Options) {
		o.BaseEndpoint = aws.String("http://127.0.0.1:9000") // MinIO; omit for AWS STS
	})

	provider := awscreds.NewWebIdentity(stsClient, "arn:minio:iam:::role/dummy-internal", idToken,
		func(o *awscreds.WebIdentityOptions) {
			o.Duration = time.Hour // MinIO: at least 15 min, or the credentials die with the ID token
			o.Timeout = 5 * time.Second
		})

	// One cache per user. ExpiryWindow refreshes 30-60 s before expiry; without it the cache
	// hands out credentials up to the instant they expire.
	userCfg := cfg.Copy()
	userCfg.Credentials = aws.NewCredentialsCache(provider, func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = 1 * time.Minute
		o.ExpiryWindowJitterFrac = 0.5
	})
	s3Client := s3.NewFromConfig(userCfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String("http://127.0.0.1:9000")
		o.UsePathStyle = true
	})

	out, err := s3Client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket: aws.String("demo"),
		Prefix: aws.String("alice/"),
	})
	if errors.Is(err, awscreds.ErrIDTokenRejected) {
		log.Print("sign the user in again")
		return
	}
	if err != nil {
		log.Print(err)
		return
	}
	for _, obj := range out.Contents {
		fmt.Println(aws.ToString(obj.Key))
	}
}

// fakeSTS answers AssumeRoleWithWebIdentity the way AWS does, without a network.
type fakeSTS struct{}

func (fakeSTS) AssumeRoleWithWebIdentity(ctx context.Context, in *sts.AssumeRoleWithWebIdentityInput, _ ...func(*sts.Options)) (*sts.AssumeRoleWithWebIdentityOutput, error) {
	fmt.Println("RoleSessionName:", aws.ToString(in.RoleSessionName))
	fmt.Println("DurationSeconds:", aws.ToInt32(in.DurationSeconds))
	return &sts.AssumeRoleWithWebIdentityOutput{
		Credentials: &types.Credentials{
			AccessKeyId:     aws.String("ASIAEXAMPLE"),
			SecretAccessKey: aws.String("secret"),
			SessionToken:    aws.String("session"),
			Expiration:      aws.Time(time.Date(2030, 1, 2, 15, 4, 5, 0, time.UTC)),
		},
		AssumedRoleUser: &types.AssumedRoleUser{
			Arn: aws.String("arn:aws:sts::123456789012:assumed-role/web-users/" + aws.ToString(in.RoleSessionName)),
		},
	}, nil
}

func ExampleWebIdentity_Retrieve() {
	// An ID token whose sub is "auth0|alice"; STS would verify it, the provider only reads sub.
	enc := base64.RawURLEncoding.EncodeToString
	token := enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(`{"sub":"auth0|alice"}`)) + ".sig"
	idToken := func(ctx context.Context) (string, error) { return token, nil }

	p := awscreds.NewWebIdentity(fakeSTS{}, "arn:aws:iam::123456789012:role/web-users", idToken,
		func(o *awscreds.WebIdentityOptions) { o.Duration = 30 * time.Minute })
	creds, err := p.Retrieve(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("Source:", creds.Source)
	fmt.Println("AccountID:", creds.AccountID)
	fmt.Println("CanExpire:", creds.CanExpire, "Expires:", creds.Expires.Format(time.RFC3339))
	// Output:
	// RoleSessionName: auth0-alice=jj3bur2s623ujemg
	// DurationSeconds: 1800
	// Source: awscreds.WebIdentity
	// AccountID: 123456789012
	// CanExpire: true Expires: 2030-01-02T15:04:05Z
}

func ExampleSanitizeRoleSessionName() {
	for _, sub := range []string{"alice", "alice/x", "alice-x", "auth0|alice"} {
		fmt.Println(awscreds.SanitizeRoleSessionName(sub))
	}
	// Output:
	// alice
	// alice-x=zvfuipkd7lzn7sxb
	// alice-x
	// auth0-alice=jj3bur2s623ujemg
}

// fakeCognito answers the identity pool calls the way Cognito does, without a network.
type fakeCognito struct{}

func (fakeCognito) GetId(_ context.Context, in *cognitoidentity.GetIdInput, _ ...func(*cognitoidentity.Options)) (*cognitoidentity.GetIdOutput, error) {
	for provider := range in.Logins {
		fmt.Println("GetId Logins:", provider)
	}
	return &cognitoidentity.GetIdOutput{IdentityId: aws.String("eu-west-1:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")}, nil
}

func (fakeCognito) GetCredentialsForIdentity(_ context.Context, in *cognitoidentity.GetCredentialsForIdentityInput, _ ...func(*cognitoidentity.Options)) (*cognitoidentity.GetCredentialsForIdentityOutput, error) {
	fmt.Println("GetCredentialsForIdentity:", aws.ToString(in.IdentityId))
	return &cognitoidentity.GetCredentialsForIdentityOutput{
		IdentityId: in.IdentityId,
		Credentials: &citypes.Credentials{
			AccessKeyId: aws.String("ASIACOGNITO"), SecretKey: aws.String("secret"), SessionToken: aws.String("session"),
			Expiration: aws.Time(time.Date(2030, 1, 2, 15, 4, 5, 0, time.UTC)),
		},
	}, nil
}

func (fakeCognito) GetOpenIdToken(context.Context, *cognitoidentity.GetOpenIdTokenInput, ...func(*cognitoidentity.Options)) (*cognitoidentity.GetOpenIdTokenOutput, error) {
	return nil, errors.New("not used by the enhanced flow")
}

// The enhanced flow for a user of a Cognito user pool: the identity id is resolved once and
// kept in the store; the credentials carry Cognito's real expiry. In an application the client
// is cognitoidentity.NewFromConfig(cfg) (its operations here are unsigned) and idToken is
// authflow's h.IDTokenFunc(sess.ID).
func ExampleNewIdentityPool() {
	enc := base64.RawURLEncoding.EncodeToString
	issuer := "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123" // the login flow's Config.Issuer
	token := enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(`{"iss":"`+issuer+`","sub":"alice"}`)) + ".sig"
	idToken := func(ctx context.Context) (string, error) { return token, nil }

	store := tokenstore.NewMemory() // share one (Redis, SQL, DynamoDB) across instances
	p := awscreds.NewIdentityPool(fakeCognito{}, "eu-west-1:11111111-2222-3333-4444-555555555555",
		func(o *awscreds.IdentityPoolOptions) {
			o.Logins = awscreds.CognitoLogins(issuer, idToken)
			o.Store = store
		})
	creds := aws.NewCredentialsCache(p, func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = time.Minute
		o.ExpiryWindowJitterFrac = 0.5
	})
	c, err := creds.Retrieve(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("Source:", c.Source, "CanExpire:", c.CanExpire)
	// Output:
	// GetId Logins: cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123
	// GetCredentialsForIdentity: eu-west-1:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0
	// Source: awscreds.IdentityPool CanExpire: true
}

// The role of an identity pool's authenticated users, limited to the user's own folder: IAM
// resolves the variable to the caller's identity id.
func ExampleS3PrefixPolicy() {
	doc, err := awscreds.S3PrefixPolicy("demo-bucket", awscreds.IdentityPoolUser())
	if err != nil {
		fmt.Println(err)
		return
	}
	js, _ := doc.JSON()
	fmt.Println(js)
	// Output:
	// {"Version":"2012-10-17","Statement":[{"Sid":"ListOwnPrefix","Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::demo-bucket"],"Condition":{"StringLike":{"s3:prefix":["${cognito-identity.amazonaws.com:sub}/","${cognito-identity.amazonaws.com:sub}/*"]}}},{"Sid":"OwnObjects","Effect":"Allow","Action":["s3:DeleteObject","s3:GetObject","s3:PutObject"],"Resource":["arn:aws:s3:::demo-bucket/${cognito-identity.amazonaws.com:sub}/*"]}]}
}

// fakeAssumeRole answers AssumeRole the way STS does, without a network.
type fakeAssumeRole struct{}

func (fakeAssumeRole) AssumeRole(_ context.Context, in *sts.AssumeRoleInput, _ ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	fmt.Println("RoleSessionName:", aws.ToString(in.RoleSessionName))
	for _, tag := range in.Tags {
		fmt.Printf("Tag: %s=%s\n", aws.ToString(tag.Key), aws.ToString(tag.Value))
	}
	return &sts.AssumeRoleOutput{Credentials: &types.Credentials{
		AccessKeyId: aws.String("ASIAROLE"), SecretAccessKey: aws.String("secret"), SessionToken: aws.String("session"),
		Expiration: aws.Time(time.Date(2030, 1, 2, 15, 4, 5, 0, time.UTC)),
	}}, nil
}

// Per-user credentials for a DynamoDB table: the session policy limits the session to the
// partition named by its sub tag, which AssumeRole sets from the verified claims. In an
// application the client is sts.NewFromConfig(cfg) with the server's own credentials and the
// claims come from authflow's Session.Claims.
func ExampleNewAssumeRole() {
	policy, err := awscreds.DynamoDBPartitionPolicy("arn:aws:dynamodb:eu-west-1:123456789012:table/items",
		awscreds.PrincipalTagUser("sub"))
	if err != nil {
		fmt.Println(err)
		return
	}
	policyJSON, _ := policy.JSON()
	claims := awscreds.VerifiedClaims{"sub": "auth0|alice"}
	p := awscreds.NewAssumeRole(fakeAssumeRole{}, "arn:aws:iam::123456789012:role/items-users", claims,
		func(o *awscreds.AssumeRoleOptions) {
			o.Policy = &policyJSON
			o.TagClaims = map[string]string{"sub": "sub"}
		})
	if _, err := p.Retrieve(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("partition key:", awscreds.EscapeUserID("auth0|alice"))
	// Output:
	// RoleSessionName: auth0-alice=jj3bur2s623ujemg
	// Tag: sub=auth0=7Calice
	// partition key: auth0=7Calice
}

func ExampleEscapeUserID() {
	for _, id := range []string{"alice", "alice/", "alice%2F", "eu-west-1:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"} {
		fmt.Println(awscreds.EscapeUserID(id))
	}
	// Output:
	// alice
	// alice=2F
	// alice=252F
	// eu-west-1:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0
}

func ExampleUserPrefix() {
	for _, id := range []string{"eu-west-1:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "alice", "*", "auth0|alice"} {
		prefix, err := awscreds.UserPrefix(id)
		fmt.Printf("%q %v\n", prefix, errors.Is(err, awscreds.ErrUnsupportedUserID))
	}
	// Output:
	// "eu-west-1:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/" false
	// "alice/" false
	// "" true
	// "" true
}
