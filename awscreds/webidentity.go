package awscreds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
)

// WebIdentityProviderName is the Source of the credentials a [WebIdentity] returns.
const WebIdentityProviderName = "awscreds.WebIdentity"

// DefaultTimeout bounds each Retrieve when the options leave Timeout at zero.
const DefaultTimeout = 10 * time.Second

// Bounds of STS AssumeRoleWithWebIdentity's DurationSeconds. The role's own maximum session
// duration (1 h by default) may be lower; STS enforces that one.
const (
	MinWebIdentityDuration = 15 * time.Minute
	MaxWebIdentityDuration = 12 * time.Hour
)

// AssumeRoleWithWebIdentityAPIClient is the one STS operation [WebIdentity] calls;
// *sts.Client implements it.
type AssumeRoleWithWebIdentityAPIClient interface {
	AssumeRoleWithWebIdentity(ctx context.Context, params *sts.AssumeRoleWithWebIdentityInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleWithWebIdentityOutput, error)
}

// WebIdentityOptions configures a [WebIdentity]. Field names follow the
// AssumeRoleWithWebIdentity request.
type WebIdentityOptions struct {
	// RoleSessionName names the role session (CloudTrail, the assumed-role ARN, aws:userid).
	// It must match [\w+=,.@-]{2,64}. When empty, it is derived from each ID token's sub
	// claim with SanitizeRoleSessionName.
	RoleSessionName string

	// Duration is the requested lifetime of the credentials, sent as DurationSeconds in whole
	// seconds. Zero leaves it to STS (1 h); otherwise it must lie within
	// [MinWebIdentityDuration, MaxWebIdentityDuration].
	Duration time.Duration

	// Policy is an inline session policy (JSON). The credentials get the intersection of the
	// role's policies and this one. Build it from verified data only.
	Policy *string

	// PolicyARNs are managed policies used as session policies.
	PolicyARNs []types.PolicyDescriptorType

	// Timeout bounds each Retrieve: the IDTokenFunc calls and every STS call and retry
	// within it. Zero means DefaultTimeout. aws.CredentialsCache removes the caller's
	// deadline, so this is the only bound under a cache.
	Timeout time.Duration

	// Logger receives ridden-out refresh failures (see HandleFailToRefresh), never a token.
	// Nil discards them.
	Logger *slog.Logger
}

// WebIdentity is an [aws.CredentialsProvider] that exchanges one user's OIDC ID token for
// temporary credentials with STS AssumeRoleWithWebIdentity
// (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html).
// The role must trust the token's issuer (an IAM OIDC identity provider whose audience is the
// token's aud).
//
// A WebIdentity serves one user: the one whose tokens its IDTokenFunc returns. It never reads
// a user from the context. Wrap it in aws.NewCredentialsCache with an ExpiryWindow and jitter
// (see the package documentation); Retrieve itself calls STS every time.
//
// It is safe for concurrent use. The only state it keeps between calls is the last
// credentials, so that under aws.CredentialsCache a transient STS fault (a 5xx, throttling
// after the SDK's retries, IDPCommunicationError, a timeout) is ridden out while they are
// still valid (see HandleFailToRefresh); a rejected token never is.
//
// stscreds.WebIdentityRoleProvider is not reused: its IdentityTokenRetriever takes no
// context, so neither the caller's cancellation nor this provider's timeout could reach the
// token refresh; its default session name is a timestamp rather than the user; and it retries
// a rejected token with the same token instead of a fresh one.
type WebIdentity struct {
	client  AssumeRoleWithWebIdentityAPIClient
	roleARN string
	idToken IDTokenFunc
	options WebIdentityOptions
	ride    rideOut
	err     error // configuration error, returned by every Retrieve
}

var (
	_ aws.CredentialsProvider                       = (*WebIdentity)(nil)
	_ aws.CredentialProviderSource                  = (*WebIdentity)(nil)
	_ aws.HandleFailRefreshCredentialsCacheStrategy = (*WebIdentity)(nil)
	_ aws.AdjustExpiresByCredentialsCacheStrategy   = (*WebIdentity)(nil)
)

// NewWebIdentity returns a provider that assumes roleARN with the ID tokens idToken returns.
// The options are validated here; an invalid configuration is reported by every Retrieve.
func NewWebIdentity(client AssumeRoleWithWebIdentityAPIClient, roleARN string, idToken IDTokenFunc, optFns ...func(*WebIdentityOptions)) *WebIdentity {
	var o WebIdentityOptions
	for _, fn := range optFns {
		fn(&o)
	}
	// Copy what the caller could still change after construction.
	o.PolicyARNs = slices.Clone(o.PolicyARNs)
	if o.Policy != nil {
		o.Policy = aws.String(*o.Policy)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = discardLogger()
	}
	p := &WebIdentity{client: client, roleARN: roleARN, idToken: idToken, options: o}
	p.err = p.validate()
	return p
}

func (p *WebIdentity) validate() error {
	o := p.options
	switch {
	case p.client == nil:
		return errors.New("awscreds: WebIdentity: nil STS client")
	case p.roleARN == "":
		return errors.New("awscreds: WebIdentity: empty role ARN")
	case p.idToken == nil:
		return errors.New("awscreds: WebIdentity: nil IDTokenFunc")
	case o.RoleSessionName != "" && !validRoleSessionName(o.RoleSessionName):
		return errors.New(`awscreds: WebIdentity: RoleSessionName must match [\w+=,.@-]{2,64} (see SanitizeRoleSessionName)`)
	case o.Duration != 0 && (o.Duration < MinWebIdentityDuration || o.Duration > MaxWebIdentityDuration):
		return fmt.Errorf("awscreds: WebIdentity: Duration %v outside [%v, %v]", o.Duration, MinWebIdentityDuration, MaxWebIdentityDuration)
	case o.Timeout < 0:
		return fmt.Errorf("awscreds: WebIdentity: negative Timeout %v", o.Timeout)
	}
	return nil
}

// Retrieve gets the user's ID token and calls STS AssumeRoleWithWebIdentity with it. The
// credentials have CanExpire set and Expires equal to the Expiration STS returned.
//
// When STS rejects the token (ExpiredTokenException, InvalidIdentityToken), Retrieve asks the
// IDTokenFunc again and, if it returns a different token, calls STS once more; a second
// rejection, or the same token, gives an error wrapping both ErrIDTokenRejected and the AWS
// error. An error from the IDTokenFunc is returned wrapped. The whole call is bounded by
// Timeout as well as by ctx.
func (p *WebIdentity) Retrieve(ctx context.Context) (aws.Credentials, error) {
	if p.err != nil {
		return aws.Credentials{}, p.err
	}
	ctx, cancel := context.WithTimeout(ctx, p.options.Timeout)
	defer cancel()

	token, err := p.token(ctx)
	if err != nil {
		return aws.Credentials{}, err
	}
	out, err := p.assume(ctx, token)
	if err != nil && idTokenRejected(err) {
		fresh, ferr := p.token(ctx)
		if ferr != nil {
			return aws.Credentials{}, &awsError{
				msg:  redact("awscreds: WebIdentity: STS rejected the ID token ("+err.Error()+") and getting another failed: "+ferr.Error(), token),
				errs: []error{ErrIDTokenRejected, err, ferr},
			}
		}
		if fresh != token {
			token = fresh
			out, err = p.assume(ctx, token)
		}
	}
	if err != nil {
		return aws.Credentials{}, p.stsError(err, token)
	}
	creds, err := credentialsFrom("WebIdentity", out)
	if err != nil {
		return aws.Credentials{}, err
	}
	p.ride.succeeded(creds)
	return creds, nil
}

// HandleFailToRefresh implements aws.HandleFailRefreshCredentialsCacheStrategy, as
// IdentityPool.HandleFailToRefresh does: a transient STS fault is ridden out with the last
// credentials for 10 s at a time, never within 5 s of their real expiry; a rejected token, a
// bad token or a configuration error is not.
func (p *WebIdentity) HandleFailToRefresh(ctx context.Context, _ aws.Credentials, err error) (aws.Credentials, error) {
	return p.ride.handle(ctx, p.options.Logger, WebIdentityProviderName, err)
}

// AdjustExpiresBy implements aws.AdjustExpiresByCredentialsCacheStrategy, as
// IdentityPool.AdjustExpiresBy does.
func (p *WebIdentity) AdjustExpiresBy(c aws.Credentials, dur time.Duration) (aws.Credentials, error) {
	return p.ride.adjust(c, dur)
}

// ProviderSources reports STS web identity as the credential source, for the SDK's
// User-Agent metrics.
func (p *WebIdentity) ProviderSources() []aws.CredentialSource {
	return []aws.CredentialSource{aws.CredentialSourceSTSAssumeRoleWebID}
}

func (p *WebIdentity) token(ctx context.Context) (string, error) {
	token, err := p.idToken(ctx)
	if err != nil {
		return "", fmt.Errorf("awscreds: WebIdentity: get ID token: %w", err)
	}
	if token == "" {
		return "", errors.New("awscreds: WebIdentity: IDTokenFunc returned an empty token")
	}
	return token, nil
}

// assume makes one AssumeRoleWithWebIdentity call. Its errors are either the client's, as is,
// or a local one about the token (which idTokenRejected does not match).
func (p *WebIdentity) assume(ctx context.Context, token string) (*sts.AssumeRoleWithWebIdentityOutput, error) {
	name := p.options.RoleSessionName
	if name == "" {
		sub, err := subjectFromIDToken(token)
		if err != nil {
			return nil, fmt.Errorf("%w (needed to derive RoleSessionName)", err)
		}
		name = SanitizeRoleSessionName(sub)
	}
	in := &sts.AssumeRoleWithWebIdentityInput{
		RoleArn:          aws.String(p.roleARN),
		RoleSessionName:  aws.String(name),
		WebIdentityToken: aws.String(token),
		Policy:           p.options.Policy,
		PolicyArns:       p.options.PolicyARNs,
	}
	if p.options.Duration != 0 {
		in.DurationSeconds = aws.Int32(int32(p.options.Duration / time.Second))
	}
	return p.client.AssumeRoleWithWebIdentity(ctx, in)
}

func (p *WebIdentity) stsError(err error, token string) error {
	if errors.Is(err, errTokenTooLarge) || errors.Is(err, errTokenMalformed) || errors.Is(err, errTokenNoSubject) {
		return err
	}
	if idTokenRejected(err) {
		return &awsError{
			msg:  redact("awscreds: WebIdentity: STS rejected the ID token: "+err.Error(), token),
			errs: []error{ErrIDTokenRejected, err},
		}
	}
	return &awsError{
		msg:       redact("awscreds: WebIdentity: "+err.Error(), token),
		errs:      []error{err},
		transient: transientSTS(err),
	}
}

// transientSTS reports whether an STS failure may pass by itself: no answer at all (a
// timeout, a refused connection), a server fault, throttling that outlasted the SDK's
// retries, or STS failing to reach the identity provider's keys.
func transientSTS(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return true
	}
	if ae.ErrorFault() == smithy.FaultServer {
		return true
	}
	switch ae.ErrorCode() {
	case "Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded",
		"IDPCommunicationError", "IDPCommunicationErrorException", "ServiceUnavailable", "InternalFailure":
		return true
	}
	return false
}

// credentialsFrom checks an AssumeRoleWithWebIdentity response; provider names the caller in
// its errors.
func credentialsFrom(provider string, out *sts.AssumeRoleWithWebIdentityOutput) (aws.Credentials, error) {
	if out == nil {
		return aws.Credentials{}, fmt.Errorf("awscreds: %s: STS response has no credentials", provider)
	}
	creds, err := stsCredentials(provider, out.Credentials, out.AssumedRoleUser)
	if err != nil {
		return aws.Credentials{}, err
	}
	creds.Source = WebIdentityProviderName
	return creds, nil
}

// stsCredentials checks the credentials of an STS response (AssumeRole,
// AssumeRoleWithWebIdentity) and takes the account id from the assumed role's ARN.
func stsCredentials(provider string, c *types.Credentials, user *types.AssumedRoleUser) (aws.Credentials, error) {
	if c == nil {
		return aws.Credentials{}, fmt.Errorf("awscreds: %s: STS response has no credentials", provider)
	}
	if aws.ToString(c.AccessKeyId) == "" || aws.ToString(c.SecretAccessKey) == "" {
		return aws.Credentials{}, fmt.Errorf("awscreds: %s: STS response has an empty access key", provider)
	}
	if c.Expiration == nil || c.Expiration.IsZero() {
		return aws.Credentials{}, fmt.Errorf("awscreds: %s: STS response has no expiration", provider)
	}
	var accountID string
	if user != nil {
		if a, err := arn.Parse(aws.ToString(user.Arn)); err == nil {
			accountID = a.AccountID
		}
	}
	return aws.Credentials{
		AccessKeyID:     aws.ToString(c.AccessKeyId),
		SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken:    aws.ToString(c.SessionToken),
		CanExpire:       true,
		Expires:         c.Expiration.UTC(),
		AccountID:       accountID,
	}, nil
}
