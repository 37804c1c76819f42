package awscreds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
)

// AssumeRoleProviderName is the Source of the credentials an [AssumeRole] returns.
const AssumeRoleProviderName = "awscreds.AssumeRole"

// Bounds of AssumeRole's DurationSeconds as this package allows them. The server's own
// credentials are usually a role's (Lambda, ECS, EC2), which makes this role chaining, and STS
// caps a chained session at one hour.
const (
	MinAssumeRoleDuration  = 15 * time.Minute
	MaxChainedRoleDuration = time.Hour
)

// Limits of STS session tags.
const (
	maxSessionTags     = 50
	maxSessionTagValue = 256
)

// ErrInvalidClaims is wrapped by the error of an AssumeRole whose claims can't name the
// session or fill its tags: a missing or non-string claim, or a value too long once escaped.
var ErrInvalidClaims = errors.New("awscreds: claims unusable for AssumeRole")

// VerifiedClaims are the claims of a token that has been verified: authflow's
// Session.Claims decoded into a map, or the claims of an access token that authflow's bearer
// verifier accepted. Never fill it from a request, a form, a header or an unverified token:
// the session name, tags and source identity built from it decide what the credentials may
// touch. Values are JSON-decoded (string, float64, bool, []any, map[string]any).
type VerifiedClaims map[string]any

// AssumeRoleOptions configures an [AssumeRole]. Field names follow the STS AssumeRole request.
type AssumeRoleOptions struct {
	// RoleSessionName must match [\w+=,.@-]{2,64}; empty derives it from the sub claim with
	// SanitizeRoleSessionName.
	RoleSessionName string

	// Duration is DurationSeconds, in [MinAssumeRoleDuration, MaxChainedRoleDuration]; zero
	// means 15 minutes.
	Duration time.Duration

	// Policy is an inline session policy (JSON, at most 2,048 characters packed): the
	// credentials get the intersection of the role's policies and this one. Build it with
	// [DynamoDBPartitionPolicy] or [S3PrefixPolicy] for the user.
	Policy *string
	// PolicyARNs are managed policies used as session policies.
	PolicyARNs []types.PolicyDescriptorType

	// TagClaims maps session tag keys to claim names: {"sub": "sub"} tags the session
	// sub=EscapeUserID(claims["sub"]), which a policy reads as ${aws:PrincipalTag/sub}. Tag
	// values are always escaped with EscapeUserID, so they are valid whatever the claim holds
	// and equal the keys the app writes under. At most 50; the role's trust policy must allow
	// sts:TagSession.
	TagClaims map[string]string
	// TransitiveTagKeys are the tag keys that survive further role chaining.
	TransitiveTagKeys []string

	// SourceIdentityClaim names the claim whose value, through SanitizeRoleSessionName, is
	// the session's SourceIdentity (kept across role chaining, shown in CloudTrail). Empty
	// sets none; the trust policy must allow sts:SetSourceIdentity otherwise.
	SourceIdentityClaim string

	// ExternalID is the role's external id, if its trust policy asks for one.
	ExternalID *string

	// Timeout bounds each Retrieve. Zero means DefaultTimeout.
	Timeout time.Duration

	// Logger receives ridden-out refresh failures. Nil means slog.Default().
	Logger *slog.Logger

	// Telemetry records each Retrieve and traces each STS call; see [Telemetry].
	Telemetry
}

// AssumeRole is an [aws.CredentialsProvider] that gives one signed-in user credentials for
// an IAM role through STS AssumeRole
// (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html), called with the
// server's own credentials: the session is named after the user, tagged and given a source
// identity from verified claims, and narrowed by an inline session policy (for example to the
// user's DynamoDB partition).
//
// It is built on stscreds.AssumeRoleProvider, which makes the call and checks the response:
// every option is fixed and validated at construction (stscreds would otherwise fill the
// session name with a timestamp on the first Retrieve, a write that races under concurrent
// use), and AssumeRole adds the per-user session name, tags and source identity from claims,
// the one-hour cap of role chaining, a timeout (stscreds has none, and aws.CredentialsCache
// removes the caller's deadline), prefixed errors with ErrConfiguration for a refusal that no
// retry can help, and the ride-out of transient faults under aws.CredentialsCache.
//
// It is safe for concurrent use and serves one user. Wrap it in aws.NewCredentialsCache with
// an ExpiryWindow and jitter.
type AssumeRole struct {
	inner   *stscreds.AssumeRoleProvider
	options AssumeRoleOptions
	ride    rideOut
	tel     *credsTelemetry
	err     error // configuration or claims error, returned by every Retrieve
}

var (
	_ aws.CredentialsProvider                       = (*AssumeRole)(nil)
	_ aws.HandleFailRefreshCredentialsCacheStrategy = (*AssumeRole)(nil)
	_ aws.AdjustExpiresByCredentialsCacheStrategy   = (*AssumeRole)(nil)
	_ aws.CredentialProviderSource                  = (*AssumeRole)(nil)
)

// NewAssumeRole returns a provider that assumes roleARN for the user whose verified claims
// are given, with client (an STS client signed with the server's own credentials). The
// options and claims are checked here; a problem is reported by every Retrieve, wrapping
// ErrConfiguration or ErrInvalidClaims.
func NewAssumeRole(client stscreds.AssumeRoleAPIClient, roleARN string, claims VerifiedClaims, optFns ...func(*AssumeRoleOptions)) *AssumeRole {
	var o AssumeRoleOptions
	for _, fn := range optFns {
		fn(&o)
	}
	o.PolicyARNs = slices.Clone(o.PolicyARNs)
	o.TagClaims = maps.Clone(o.TagClaims)
	o.TransitiveTagKeys = slices.Clone(o.TransitiveTagKeys)
	if o.Policy != nil {
		o.Policy = aws.String(*o.Policy)
	}
	if o.ExternalID != nil {
		o.ExternalID = aws.String(*o.ExternalID)
	}
	if o.Duration == 0 {
		o.Duration = MinAssumeRoleDuration
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	p := &AssumeRole{options: o, tel: o.instruments("AssumeRole")}
	if err := validateAssumeRole(client, roleARN, o); err != nil {
		p.err = fmt.Errorf("awscreds: AssumeRole: %w: %s", ErrConfiguration, err)
		return p
	}
	in, err := sessionFromClaims(claims, o)
	if err != nil {
		p.err = fmt.Errorf("awscreds: AssumeRole: %w", err)
		return p
	}
	p.inner = stscreds.NewAssumeRoleProvider(p.tel.traceAssumeRole(client), roleARN, func(so *stscreds.AssumeRoleOptions) {
		so.RoleSessionName = in.name
		so.Duration = o.Duration
		so.Policy = o.Policy
		so.PolicyARNs = o.PolicyARNs
		so.Tags = in.tags
		so.TransitiveTagKeys = o.TransitiveTagKeys
		so.SourceIdentity = in.sourceIdentity
		so.ExternalID = o.ExternalID
	})
	return p
}

func validateAssumeRole(client stscreds.AssumeRoleAPIClient, roleARN string, o AssumeRoleOptions) error {
	switch {
	case client == nil:
		return errors.New("nil STS client")
	case !strings.HasPrefix(roleARN, "arn:") || !strings.Contains(roleARN, ":role/"):
		return fmt.Errorf("%q is not a role ARN", truncate(roleARN, 100))
	case o.RoleSessionName != "" && !validRoleSessionName(o.RoleSessionName):
		return errors.New(`RoleSessionName must match [\w+=,.@-]{2,64} (see SanitizeRoleSessionName)`)
	case o.Duration < MinAssumeRoleDuration || o.Duration > MaxChainedRoleDuration:
		return fmt.Errorf("duration %v outside [%v, %v] (a role assumed with a role's credentials is capped at 1 h)", o.Duration, MinAssumeRoleDuration, MaxChainedRoleDuration)
	case len(o.TagClaims) > maxSessionTags:
		return fmt.Errorf("%d TagClaims, at most %d", len(o.TagClaims), maxSessionTags)
	case o.Timeout < 0:
		return fmt.Errorf("negative Timeout %v", o.Timeout)
	}
	for key := range o.TagClaims {
		if !tagKey.MatchString(key) || strings.HasPrefix(strings.ToLower(key), "aws:") {
			return fmt.Errorf("%q is not a session tag key", key)
		}
	}
	for _, key := range o.TransitiveTagKeys {
		if _, ok := o.TagClaims[key]; !ok {
			return fmt.Errorf("TransitiveTagKeys names %q, which TagClaims does not set", key)
		}
	}
	return nil
}

type sessionInput struct {
	name           string
	tags           []types.Tag
	sourceIdentity *string
}

// sessionFromClaims derives the session name, tags and source identity from the claims.
func sessionFromClaims(claims VerifiedClaims, o AssumeRoleOptions) (sessionInput, error) {
	var in sessionInput
	in.name = o.RoleSessionName
	if in.name == "" {
		sub, err := stringClaim(claims, "sub")
		if err != nil {
			return in, fmt.Errorf("%w (needed to derive RoleSessionName)", err)
		}
		in.name = SanitizeRoleSessionName(sub)
	}
	for _, key := range slices.Sorted(maps.Keys(o.TagClaims)) {
		v, err := stringClaim(claims, o.TagClaims[key])
		if err != nil {
			return in, fmt.Errorf("%w (for session tag %q)", err, key)
		}
		value := EscapeUserID(v)
		if len(value) > maxSessionTagValue {
			return in, fmt.Errorf("%w: claim %q is %d characters once escaped, more than a session tag value's %d", ErrInvalidClaims, o.TagClaims[key], len(value), maxSessionTagValue)
		}
		in.tags = append(in.tags, types.Tag{Key: aws.String(key), Value: aws.String(value)})
	}
	if c := o.SourceIdentityClaim; c != "" {
		v, err := stringClaim(claims, c)
		if err != nil {
			return in, fmt.Errorf("%w (for SourceIdentity)", err)
		}
		in.sourceIdentity = aws.String(SanitizeRoleSessionName(v))
	}
	return in, nil
}

func stringClaim(claims VerifiedClaims, name string) (string, error) {
	v, ok := claims[name]
	if !ok {
		return "", fmt.Errorf("%w: no %q claim", ErrInvalidClaims, name)
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return "", fmt.Errorf("%w: claim %q is not a non-empty string", ErrInvalidClaims, name)
	}
	return s, nil
}

// Retrieve calls STS AssumeRole. The credentials have CanExpire set and Expires equal to the
// Expiration STS returned. Errors are prefixed "awscreds: AssumeRole:" and wrap the STS
// error; one of the configuration class (the package documentation's Errors section lists
// AssumeRole's) also wraps ErrConfiguration.
func (p *AssumeRole) Retrieve(ctx context.Context) (aws.Credentials, error) {
	ctx, done := p.tel.retrieve(ctx)
	creds, err := p.get(ctx)
	done(err)
	return creds, err
}

func (p *AssumeRole) get(ctx context.Context) (aws.Credentials, error) {
	if p.err != nil {
		return aws.Credentials{}, p.err
	}
	ctx, cancel := context.WithTimeout(ctx, p.options.Timeout)
	defer cancel()
	creds, err := p.inner.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, providerError("AssumeRole", opAssumeRole.failed(err))
	}
	// stscreds checks only that the response has Credentials: without an Expiration its
	// credentials would say CanExpire with a zero Expires.
	if !creds.HasKeys() || creds.Expires.IsZero() {
		return aws.Credentials{}, providerError("AssumeRole", opAssumeRole.badResponse("has an empty access key or no expiration"))
	}
	creds.Source = AssumeRoleProviderName
	p.ride.succeeded(creds)
	return creds, nil
}

// ProviderSources reports STS AssumeRole as the credential source, for the SDK's User-Agent
// metrics.
func (p *AssumeRole) ProviderSources() []aws.CredentialSource {
	return []aws.CredentialSource{aws.CredentialSourceSTSAssumeRole}
}

// HandleFailToRefresh is IdentityPool.HandleFailToRefresh for AssumeRole: a transient fault
// is ridden out with the last credentials while they are valid; a configuration error is not.
func (p *AssumeRole) HandleFailToRefresh(ctx context.Context, _ aws.Credentials, err error) (aws.Credentials, error) {
	return p.ride.handle(ctx, p.options.Logger, AssumeRoleProviderName, err)
}

// AdjustExpiresBy implements aws.AdjustExpiresByCredentialsCacheStrategy, as
// IdentityPool.AdjustExpiresBy does.
func (p *AssumeRole) AdjustExpiresBy(c aws.Credentials, dur time.Duration) (aws.Credentials, error) {
	return p.ride.adjust(c, dur)
}
