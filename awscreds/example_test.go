package awscreds_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/pubauth/awsauth/awscreds"
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
