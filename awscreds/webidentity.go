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

// AssumeRoleWithWebIdentityAPIClient is the one STS operation [WebIdentity] and the basic
// flow of [IdentityPool] call; *sts.Client implements it.
type AssumeRoleWithWebIdentityAPIClient interface {
	AssumeRoleWithWebIdentity(ctx context.Context, params *sts.AssumeRoleWithWebIdentityInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleWithWebIdentityOutput, error)
}

// WebIdentitySession is what an AssumeRoleWithWebIdentity request asks for besides the role
// and the token: [WebIdentity] and the basic flow of [IdentityPool] (see [BasicFlowOptions])
// send it alike. Field names follow the request.
type WebIdentitySession struct {
	// RoleSessionName names the role session (CloudTrail, the assumed-role ARN, aws:userid).
	// It must match [\w+=,.@-]{2,64}. When empty, it is derived from the user with
	// SanitizeRoleSessionName: WebIdentity takes each ID token's sub claim, IdentityPool the
	// developer user identifier, else the login token's sub, else the identity id.
	RoleSessionName string

	// Duration is the requested lifetime of the credentials, sent as DurationSeconds in whole
	// seconds. Zero leaves it to STS (1 h); otherwise it must lie within
	// [MinWebIdentityDuration, MaxWebIdentityDuration].
	Duration time.Duration

	// Policy is an inline session policy (JSON). The credentials get the intersection of the
	// role's policies and this one. Build it from verified data only (see [PolicyDocument]).
	Policy *string

	// PolicyARNs are managed policies used as session policies.
	PolicyARNs []types.PolicyDescriptorType
}

// clone copies what the caller could still change after construction.
func (s WebIdentitySession) clone() WebIdentitySession {
	s.PolicyARNs = slices.Clone(s.PolicyARNs)
	if s.Policy != nil {
		s.Policy = aws.String(*s.Policy)
	}
	return s
}

func (s WebIdentitySession) validate() error {
	switch {
	case s.RoleSessionName != "" && !validRoleSessionName(s.RoleSessionName):
		return errors.New(`RoleSessionName must match [\w+=,.@-]{2,64} (see SanitizeRoleSessionName)`)
	case s.Duration != 0 && (s.Duration < MinWebIdentityDuration || s.Duration > MaxWebIdentityDuration):
		return fmt.Errorf("duration %v outside [%v, %v]", s.Duration, MinWebIdentityDuration, MaxWebIdentityDuration)
	}
	return nil
}

// WebIdentityOptions configures a [WebIdentity].
type WebIdentityOptions struct {
	// WebIdentitySession is the session asked for: RoleSessionName, Duration, Policy and
	// PolicyARNs, set as o.Duration and so on.
	WebIdentitySession

	// Timeout bounds each Retrieve: the IDTokenFunc calls and every STS call and retry
	// within it. Zero means DefaultTimeout. aws.CredentialsCache removes the caller's
	// deadline, so this is the only bound under a cache.
	Timeout time.Duration

	// Logger receives ridden-out refresh failures (see HandleFailToRefresh), never a token.
	// Nil means slog.Default().
	Logger *slog.Logger

	// Telemetry records each Retrieve and traces each STS call; see [Telemetry].
	Telemetry
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
// still valid (see HandleFailToRefresh); a rejected token or a configuration error never is
// (the package documentation's Errors section sorts STS's errors).
//
// stscreds.WebIdentityRoleProvider is not reused: its IdentityTokenRetriever takes no
// context, so neither the caller's cancellation nor this provider's timeout could reach the
// token refresh; its default session name is a timestamp rather than the user; and it retries
// a rejected token with the same token instead of a fresh one.
type WebIdentity struct {
	role    webIdentityRole
	idToken IDTokenFunc
	options WebIdentityOptions
	ride    rideOut
	tel     *credsTelemetry
	err     error // configuration error, returned by every Retrieve
}

var (
	_ aws.CredentialsProvider                       = (*WebIdentity)(nil)
	_ aws.CredentialProviderSource                  = (*WebIdentity)(nil)
	_ aws.HandleFailRefreshCredentialsCacheStrategy = (*WebIdentity)(nil)
	_ aws.AdjustExpiresByCredentialsCacheStrategy   = (*WebIdentity)(nil)
)

// NewWebIdentity returns a provider that assumes roleARN with the ID tokens idToken returns.
// The options are validated here; an invalid configuration is reported by every Retrieve,
// wrapping ErrConfiguration.
func NewWebIdentity(client AssumeRoleWithWebIdentityAPIClient, roleARN string, idToken IDTokenFunc, optFns ...func(*WebIdentityOptions)) *WebIdentity {
	var o WebIdentityOptions
	for _, fn := range optFns {
		fn(&o)
	}
	o.WebIdentitySession = o.WebIdentitySession.clone()
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	p := &WebIdentity{
		role:    webIdentityRole{client: client, roleARN: roleARN, session: o.WebIdentitySession},
		idToken: idToken,
		options: o,
	}
	if err := p.validate(); err != nil {
		p.err = fmt.Errorf("awscreds: WebIdentity: %w: %s", ErrConfiguration, err)
	}
	p.tel = o.instruments("WebIdentity")
	p.role.client = p.tel.traceWebIdentity(p.role.client)
	return p
}

func (p *WebIdentity) validate() error {
	switch {
	case p.idToken == nil:
		return errors.New("nil IDTokenFunc")
	case p.options.Timeout < 0:
		return fmt.Errorf("negative Timeout %v", p.options.Timeout)
	}
	return p.role.validate()
}

// Retrieve gets the user's ID token and calls STS AssumeRoleWithWebIdentity with it. The
// credentials have CanExpire set and Expires equal to the Expiration STS returned.
//
// When STS rejects the token (ExpiredToken, InvalidIdentityToken, IDPRejectedClaim), Retrieve
// asks the IDTokenFunc again and, if it returns a different token, calls STS once more; a
// second rejection, or the same token, gives an error wrapping both ErrIDTokenRejected and the
// AWS error. An error from the IDTokenFunc is returned wrapped. The whole call is bounded by
// Timeout as well as by ctx.
func (p *WebIdentity) Retrieve(ctx context.Context) (aws.Credentials, error) {
	ctx, done := p.tel.retrieve(ctx)
	creds, err := p.get(ctx)
	done(err)
	return creds, err
}

func (p *WebIdentity) get(ctx context.Context) (aws.Credentials, error) {
	if p.err != nil {
		return aws.Credentials{}, p.err
	}
	ctx, cancel := context.WithTimeout(ctx, p.options.Timeout)
	defer cancel()

	token, err := p.token(ctx)
	if err != nil {
		return aws.Credentials{}, err
	}
	creds, err := p.assume(ctx, token)
	if err != nil && classOf(err) == rejected {
		fresh, ferr := p.token(ctx)
		if ferr != nil {
			return aws.Credentials{}, refetchFailed("WebIdentity", err, ferr, token)
		}
		if fresh != token {
			creds, err = p.assume(ctx, fresh)
			if err != nil {
				return aws.Credentials{}, providerError("WebIdentity", err, token, fresh)
			}
		}
	}
	if err != nil {
		return aws.Credentials{}, providerError("WebIdentity", err, token)
	}
	creds.Source = WebIdentityProviderName
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

// assume assumes the role with token, naming the session after the token's sub unless
// RoleSessionName is set. A token whose sub can't be read is an error of its own, which is
// no failed AWS call.
func (p *WebIdentity) assume(ctx context.Context, token string) (aws.Credentials, error) {
	var user string
	if p.role.session.RoleSessionName == "" {
		sub, err := subjectFromIDToken(token)
		if err != nil {
			return aws.Credentials{}, fmt.Errorf("%w (needed to derive RoleSessionName)", err)
		}
		user = sub
	}
	return p.role.assume(ctx, token, user)
}

// webIdentityRole is a role assumed with STS AssumeRoleWithWebIdentity: the one request
// that WebIdentity and IdentityPool's basic flow both make, built, sent and checked here.
type webIdentityRole struct {
	client  AssumeRoleWithWebIdentityAPIClient
	roleARN string
	session WebIdentitySession
}

func (r *webIdentityRole) validate() error {
	switch {
	case r.client == nil:
		return errors.New("nil STS client")
	case r.roleARN == "":
		return errors.New("empty role ARN")
	}
	return r.session.validate()
}

// assume calls AssumeRoleWithWebIdentity with token, naming the session
// SanitizeRoleSessionName(user) unless RoleSessionName is set, and returns the credentials
// with the real expiry and the account id of the assumed role's ARN, and no Source. Its
// errors are failed calls of opAssumeRoleWithWebIdentity.
func (r *webIdentityRole) assume(ctx context.Context, token, user string) (aws.Credentials, error) {
	name := r.session.RoleSessionName
	if name == "" {
		name = SanitizeRoleSessionName(user)
	}
	in := &sts.AssumeRoleWithWebIdentityInput{
		RoleArn:          aws.String(r.roleARN),
		RoleSessionName:  aws.String(name),
		WebIdentityToken: aws.String(token),
		Policy:           r.session.Policy,
		PolicyArns:       r.session.PolicyARNs,
	}
	if r.session.Duration != 0 {
		in.DurationSeconds = aws.Int32(int32(r.session.Duration / time.Second))
	}
	out, err := r.client.AssumeRoleWithWebIdentity(ctx, in)
	if err != nil {
		return aws.Credentials{}, opAssumeRoleWithWebIdentity.failed(err)
	}
	if out == nil || out.Credentials == nil {
		return aws.Credentials{}, opAssumeRoleWithWebIdentity.badResponse("has no credentials")
	}
	c := out.Credentials
	if aws.ToString(c.AccessKeyId) == "" || aws.ToString(c.SecretAccessKey) == "" {
		return aws.Credentials{}, opAssumeRoleWithWebIdentity.badResponse("has an empty access key")
	}
	if c.Expiration == nil || c.Expiration.IsZero() {
		return aws.Credentials{}, opAssumeRoleWithWebIdentity.badResponse("has no expiration")
	}
	var accountID string
	if u := out.AssumedRoleUser; u != nil {
		if a, err := arn.Parse(aws.ToString(u.Arn)); err == nil {
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
