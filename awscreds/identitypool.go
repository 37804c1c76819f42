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
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentity"

	"github.com/pubauth/awsauth/tokenstore"
)

// IdentityPoolProviderName is the Source of the credentials an [IdentityPool] returns.
const IdentityPoolProviderName = "awscreds.IdentityPool"

// cognitoIdentityProvider is the Logins key of a token that Cognito itself issued
// (GetOpenIdToken, GetOpenIdTokenForDeveloperIdentity).
const cognitoIdentityProvider = "cognito-identity.amazonaws.com"

// MaxDeveloperTokenDuration is the longest TokenDuration GetOpenIdTokenForDeveloperIdentity
// accepts (24 hours).
const MaxDeveloperTokenDuration = 24 * time.Hour

// GetIdAPIClient is Cognito's GetId; *cognitoidentity.Client implements it.
type GetIdAPIClient interface {
	GetId(ctx context.Context, params *cognitoidentity.GetIdInput, optFns ...func(*cognitoidentity.Options)) (*cognitoidentity.GetIdOutput, error)
}

// GetCredentialsForIdentityAPIClient is Cognito's GetCredentialsForIdentity (the enhanced
// flow); *cognitoidentity.Client implements it.
type GetCredentialsForIdentityAPIClient interface {
	GetCredentialsForIdentity(ctx context.Context, params *cognitoidentity.GetCredentialsForIdentityInput, optFns ...func(*cognitoidentity.Options)) (*cognitoidentity.GetCredentialsForIdentityOutput, error)
}

// GetOpenIdTokenAPIClient is Cognito's GetOpenIdToken (the basic flow); *cognitoidentity.Client
// implements it.
type GetOpenIdTokenAPIClient interface {
	GetOpenIdToken(ctx context.Context, params *cognitoidentity.GetOpenIdTokenInput, optFns ...func(*cognitoidentity.Options)) (*cognitoidentity.GetOpenIdTokenOutput, error)
}

// GetOpenIdTokenForDeveloperIdentityAPIClient is Cognito's GetOpenIdTokenForDeveloperIdentity,
// an operation signed with the developer's (the server's) own AWS credentials;
// *cognitoidentity.Client implements it.
type GetOpenIdTokenForDeveloperIdentityAPIClient interface {
	GetOpenIdTokenForDeveloperIdentity(ctx context.Context, params *cognitoidentity.GetOpenIdTokenForDeveloperIdentityInput, optFns ...func(*cognitoidentity.Options)) (*cognitoidentity.GetOpenIdTokenForDeveloperIdentityOutput, error)
}

// IdentityPoolAPIClient is the public (unsigned) Cognito operations an [IdentityPool] calls.
// *cognitoidentity.Client implements it; a test stubs the one call it is about and leaves the
// others to panic on a nil embedded interface.
type IdentityPoolAPIClient interface {
	GetIdAPIClient
	GetCredentialsForIdentityAPIClient
	GetOpenIdTokenAPIClient
}

// IdentityPoolOptions configures an [IdentityPool]. Field names follow the Cognito and STS
// requests.
type IdentityPoolOptions struct {
	// Logins returns the user's Logins for each retrieval (see [CognitoLogins], [OIDCLogins]).
	// Nil asks for an unauthenticated (guest) identity, which the pool must allow.
	Logins LoginsFunc

	// AccountID is GetId's AccountId (the pool's AWS account); optional. It is also the
	// AccountID of the credentials of the enhanced flow, which Cognito does not return.
	AccountID string

	// CustomRoleARN is GetCredentialsForIdentity's CustomRoleArn: the role to assume when
	// the pool's role mapping lets the token choose among several (cognito:roles). Enhanced
	// flow only: with BasicFlow set it is a configuration error.
	CustomRoleARN string

	// BasicFlow, when set, selects the basic (classic) flow: GetOpenIdToken, then STS
	// AssumeRoleWithWebIdentity of BasicFlow.RoleARN with the token Cognito returns. Nil
	// selects the enhanced flow (GetCredentialsForIdentity), where the pool's role mapping
	// picks the role. The pool must allow the basic flow (AllowClassicFlow).
	BasicFlow *BasicFlowOptions

	// Developer, when set, makes the identity developer-authenticated: the server calls
	// GetOpenIdTokenForDeveloperIdentity for Developer.UserIdentifier, then the enhanced or
	// the basic flow with the token Cognito returns. Logins, when also set, are linked to
	// the same identity.
	Developer *DeveloperIdentity

	// Store caches the user's identity id across restarts and instances, under a key hashed
	// from the pool id, each Logins provider name and the user's id there (the token's sub,
	// or the developer user identifier). Nil keeps it in the provider's memory only. Guests,
	// and logins whose tokens are not JWTs with a sub (or whose sub or provider name contains
	// NUL), are cached in memory only; a developer identity is then keyed by its developer
	// user identifier alone. A store error is logged and costs a GetId; it never fails a
	// retrieval.
	Store tokenstore.Store
	// IdentityIDTTL is the stored identity id's lifetime; zero means DefaultIdentityIDTTL.
	IdentityIDTTL time.Duration
	// IdentityID is a guest's identity id known in advance (kept in a cookie, say): GetId is
	// not called until Cognito refuses it. It applies to guests and to logins whose tokens
	// carry no sub; a named user's id comes from the cache or GetId.
	IdentityID string

	// Timeout bounds each Retrieve: the LoginsFunc calls and every Cognito and STS call and
	// retry within it. Zero means DefaultTimeout.
	Timeout time.Duration

	// Logger receives store failures and ridden-out refresh failures, never a token. Nil
	// means slog.Default().
	Logger *slog.Logger

	// Telemetry records each Retrieve and traces each Cognito and STS call; see [Telemetry].
	Telemetry
}

// BasicFlowOptions configures the basic (classic) flow of an [IdentityPool]
// (https://docs.aws.amazon.com/cognito/latest/developerguide/authentication-flow.html): its
// AssumeRoleWithWebIdentity is the very request a [WebIdentity] makes, with the token
// Cognito's GetOpenIdToken (or GetOpenIdTokenForDeveloperIdentity) returned.
type BasicFlowOptions struct {
	// RoleARN is the role to assume; its trust policy must trust cognito-identity.amazonaws.com
	// for the pool. Required.
	RoleARN string
	// STS makes the call. AssumeRoleWithWebIdentity is unsigned: the client needs no
	// credentials. Required.
	STS AssumeRoleWithWebIdentityAPIClient
	// WebIdentitySession is the session asked for: RoleSessionName, Duration, Policy and
	// PolicyARNs. An empty RoleSessionName is derived with SanitizeRoleSessionName from the
	// developer user identifier, else the login token's sub, else the identity id.
	WebIdentitySession
}

// DeveloperIdentity configures developer-authenticated identities
// (https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_GetOpenIdTokenForDeveloperIdentity.html).
type DeveloperIdentity struct {
	// Client calls GetOpenIdTokenForDeveloperIdentity with the server's own AWS credentials
	// (cognito-identity:GetOpenIdTokenForDeveloperIdentity on the pool). Required.
	Client GetOpenIdTokenForDeveloperIdentityAPIClient
	// ProviderName is the pool's DeveloperProviderName, e.g. "login.example.app". Required.
	ProviderName string
	// UserIdentifier is the user's id in your system, 1-1024 characters. Take it from
	// verified data only (the session's sub), never from a request. Required.
	UserIdentifier string
	// TokenDuration is the lifetime of the OpenID token Cognito issues, sent in whole
	// seconds; zero leaves it to Cognito (15 minutes). At most MaxDeveloperTokenDuration.
	TokenDuration time.Duration
	// PrincipalTags are session tags for the identity's credentials (attribute name → value),
	// from verified data only.
	PrincipalTags map[string]string
}

// IdentityPool is an [aws.CredentialsProvider] for one user of an Amazon Cognito identity
// pool. Each Retrieve gets the user's Logins, resolves the identity id (cached: GetId runs
// once per user, not per process), and gets credentials through one of:
//
//   - the enhanced flow: GetCredentialsForIdentity with the Logins and CustomRoleARN;
//   - the basic flow (BasicFlow set): GetOpenIdToken, then the AssumeRoleWithWebIdentity
//     request of a [WebIdentity] with the token Cognito returns;
//   - for a developer-authenticated identity, GetOpenIdTokenForDeveloperIdentity first, then
//     either flow with the token it returns;
//   - with no Logins, a guest identity through either flow.
//
// The credentials carry the real Expiration. When AWS rejects the login (Cognito's
// NotAuthorizedException, or STS rejecting the token in the basic flow), Retrieve asks the
// LoginsFunc again and tries once more, resolving a cached identity id again with GetId; it
// does not present the same token with the same identity id twice. A second refusal gives
// ErrIDTokenRejected (the user must sign in again), or ErrConfiguration for a guest or a
// developer identity without linked logins. A refusal leaves the stored identity id in place
// until GetId returns another. A configuration error is reported at once, except one about a
// cached identity id (deleted or merged since), which first gets one retry with the id asked
// of Cognito again. Throttling is retried by the SDK client's retryer. The package
// documentation's Errors section sorts every operation's errors.
//
// Wrap it in aws.NewCredentialsCache with an ExpiryWindow and jitter. Under the cache, an AWS
// failure that is neither a rejection nor a configuration error is ridden out: the last
// credentials are handed out again for up to 10 seconds, never closer than 5 seconds to their
// real expiry (see HandleFailToRefresh).
//
// It is safe for concurrent use. It serves one user and never reads a user from the context.
type IdentityPool struct {
	client  IdentityPoolAPIClient
	poolID  string
	options IdentityPoolOptions
	basic   *webIdentityRole // the basic flow's role; nil for the enhanced flow
	ids     identityCache
	ride    rideOut
	tel     *credsTelemetry
	err     error // configuration error, returned by every Retrieve
}

var (
	_ aws.CredentialsProvider                       = (*IdentityPool)(nil)
	_ aws.HandleFailRefreshCredentialsCacheStrategy = (*IdentityPool)(nil)
	_ aws.AdjustExpiresByCredentialsCacheStrategy   = (*IdentityPool)(nil)
)

// NewIdentityPool returns a provider for the identity pool poolID ("REGION:GUID"). The options
// are validated here; an invalid configuration is reported, wrapping ErrConfiguration, by
// every Retrieve.
func NewIdentityPool(client IdentityPoolAPIClient, poolID string, optFns ...func(*IdentityPoolOptions)) *IdentityPool {
	var o IdentityPoolOptions
	for _, fn := range optFns {
		fn(&o)
	}
	if o.Developer != nil {
		d := *o.Developer
		d.PrincipalTags = maps.Clone(d.PrincipalTags)
		o.Developer = &d
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.IdentityIDTTL == 0 {
		o.IdentityIDTTL = DefaultIdentityIDTTL
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	p := &IdentityPool{client: client, poolID: poolID, options: o}
	if b := o.BasicFlow; b != nil {
		p.basic = &webIdentityRole{client: b.STS, roleARN: b.RoleARN, session: b.WebIdentitySession.clone()}
		p.options.BasicFlow = nil // p.basic holds it
	}
	p.ids = identityCache{store: o.Store, ttl: o.IdentityIDTTL, logger: o.Logger}
	if o.IdentityID != "" {
		p.ids.remember("", o.IdentityID)
	}
	if err := p.validate(); err != nil {
		p.err = fmt.Errorf("awscreds: IdentityPool: %w: %s", ErrConfiguration, err)
	}
	p.tel = o.instruments("IdentityPool")
	p.client = p.tel.traceIdentityPool(p.client)
	if p.basic != nil {
		p.basic.client = p.tel.traceWebIdentity(p.basic.client)
	}
	if d := p.options.Developer; d != nil {
		d.Client = p.tel.traceDeveloper(d.Client)
	}
	return p
}

func (p *IdentityPool) validate() error {
	o := p.options
	switch {
	case p.client == nil:
		return errors.New("nil Cognito client")
	case !isIdentityID(p.poolID):
		return fmt.Errorf("identity pool id %q is not REGION:GUID", truncate(p.poolID, 60))
	case o.IdentityID != "" && !isIdentityID(o.IdentityID):
		return errors.New("IdentityID is not REGION:GUID")
	case p.basic != nil && o.CustomRoleARN != "":
		return errors.New("CustomRoleARN is for the enhanced flow; the basic flow assumes BasicFlow.RoleARN")
	case o.Timeout < 0:
		return fmt.Errorf("negative Timeout %v", o.Timeout)
	case o.IdentityIDTTL < 0:
		return fmt.Errorf("negative IdentityIDTTL %v", o.IdentityIDTTL)
	}
	if p.basic != nil {
		if err := p.basic.validate(); err != nil {
			return fmt.Errorf("BasicFlow: %w", err)
		}
	}
	if d := o.Developer; d != nil {
		switch {
		case d.Client == nil:
			return errors.New("Developer.Client is nil")
		case d.ProviderName == "" || len(d.ProviderName) > 128:
			return errors.New("Developer.ProviderName must be 1-128 characters")
		case d.UserIdentifier == "" || len(d.UserIdentifier) > 1024:
			return errors.New("Developer.UserIdentifier must be 1-1024 characters")
		case strings.ContainsRune(d.ProviderName, 0) || strings.ContainsRune(d.UserIdentifier, 0):
			// NUL separates the parts of the identity-id cache key.
			return errors.New("Developer.ProviderName and UserIdentifier must not contain NUL")
		case d.TokenDuration < 0 || d.TokenDuration > MaxDeveloperTokenDuration:
			return fmt.Errorf("Developer.TokenDuration %v outside [0, %v]", d.TokenDuration, MaxDeveloperTokenDuration)
		}
	}
	return nil
}

// attempt is what one try of a retrieval sent and learnt.
type attempt struct {
	logins     map[string]string // the user's Logins; nil for a guest
	key        string            // identity-id store key; "" when the user can't be named
	user       string            // the user's id, for a derived RoleSessionName
	identityID string
	fromCache  bool     // identityID was cached, not just returned by Cognito
	refetch    bool     // a retry: ask Cognito for the identity id, not the cache
	tokens     []string // every token sent, to keep out of error messages
}

// Retrieve returns the user's credentials, as the type documentation describes. Errors are
// prefixed "awscreds: IdentityPool:", wrap the AWS error and, where they apply,
// ErrIDTokenRejected or ErrConfiguration, and never contain a token.
func (p *IdentityPool) Retrieve(ctx context.Context) (aws.Credentials, error) {
	ctx, done := p.tel.retrieve(ctx)
	creds, err := p.get(ctx)
	done(err)
	return creds, err
}

func (p *IdentityPool) get(ctx context.Context) (aws.Credentials, error) {
	if p.err != nil {
		return aws.Credentials{}, p.err
	}
	ctx, cancel := context.WithTimeout(ctx, p.options.Timeout)
	defer cancel()
	creds, err := p.retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, err
	}
	p.ride.succeeded(creds)
	return creds, nil
}

// IdentityID returns the user's identity id, from the cache or else GetId (for a developer
// identity, GetOpenIdTokenForDeveloperIdentity), without getting credentials. It is the value
// of the policy variable ${cognito-identity.amazonaws.com:sub} in the identity's credentials.
func (p *IdentityPool) IdentityID(ctx context.Context) (string, error) {
	if p.err != nil {
		return "", p.err
	}
	ctx, cancel := context.WithTimeout(ctx, p.options.Timeout)
	defer cancel()
	a, err := p.begin(ctx)
	if err != nil {
		return "", err
	}
	if p.options.Developer != nil {
		if id := p.ids.get(ctx, a.key); id != "" {
			return id, nil
		}
		if _, err := p.developerToken(ctx, a); err != nil {
			return "", p.failure(err, a)
		}
		return a.identityID, nil
	}
	if err := p.resolve(ctx, a); err != nil {
		return "", p.failure(err, a)
	}
	return a.identityID, nil
}

func (p *IdentityPool) retrieve(ctx context.Context) (aws.Credentials, error) {
	a, err := p.begin(ctx)
	if err != nil {
		return aws.Credentials{}, err
	}
	creds, err := p.try(ctx, a)
	if err == nil {
		return creds, nil
	}
	class := classOf(err)
	retry := false
	switch {
	case class == rejected:
		retry = true // with fresh Logins, below, unless they turn out unchanged
	case class == staleIdentity && a.fromCache:
		retry = true // the identity was deleted or merged: resolve it again
	}
	if !retry {
		return aws.Credentials{}, p.failure(err, a)
	}
	b, berr := p.begin(ctx)
	if berr != nil {
		if class == rejected {
			return aws.Credentials{}, refetchFailed("IdentityPool", err, berr, a.tokens...)
		}
		return aws.Credentials{}, berr
	}
	// A cached identity id may be what Cognito refused (the identity was deleted, or the
	// login unlinked from it): the retry asks GetId (or the developer operation) again rather
	// than the cache, whose entry stays until a new id overwrites it: a refused token says
	// nothing against the id.
	b.refetch = a.fromCache && b.key == a.key
	if class == rejected && maps.Equal(a.logins, b.logins) && p.options.Developer == nil {
		// The same token again: a retry is refused too, unless the identity changed.
		if !b.refetch {
			return aws.Credentials{}, p.failure(err, a)
		}
		if rerr := p.resolve(ctx, b); rerr != nil {
			b.tokens = append(b.tokens, a.tokens...)
			return aws.Credentials{}, p.failure(rerr, b)
		}
		if b.identityID == a.identityID {
			return aws.Credentials{}, p.failure(err, a)
		}
	}
	creds, err = p.try(ctx, b)
	if err != nil {
		b.tokens = append(b.tokens, a.tokens...)
		return aws.Credentials{}, p.failure(err, b)
	}
	return creds, nil
}

// begin reads the user's Logins and names the user.
func (p *IdentityPool) begin(ctx context.Context) (*attempt, error) {
	a := &attempt{}
	if p.options.Logins != nil {
		logins, err := p.options.Logins(ctx)
		if err != nil {
			return nil, fmt.Errorf("awscreds: IdentityPool: get logins: %w", err)
		}
		if err := checkLogins(logins); err != nil {
			return nil, err
		}
		a.logins = maps.Clone(logins)
		for _, t := range logins {
			a.tokens = append(a.tokens, t)
		}
	}
	users := map[string]string{}
	named := true
	if a.logins != nil {
		var ok bool
		if users, ok = usersOf(a.logins); ok {
			a.user = users[slices.Sorted(maps.Keys(users))[0]]
		} else {
			named = false
		}
	}
	if d := p.options.Developer; d != nil {
		// The developer user identifier names the identity on its own (Cognito links it to
		// one identity), so linked logins that can't be named don't unname it.
		if !named {
			users, named = map[string]string{}, true
		}
		users[d.ProviderName] = d.UserIdentifier
		a.user = d.UserIdentifier
	}
	if named {
		a.key, _ = identityKey(p.poolID, users)
	}
	return a, nil
}

// try makes one attempt at credentials. Its errors are failed AWS calls (*opError).
func (p *IdentityPool) try(ctx context.Context, a *attempt) (aws.Credentials, error) {
	var logins map[string]string // what GetCredentialsForIdentity or GetOpenIdToken is sent
	if p.options.Developer != nil {
		token, err := p.developerToken(ctx, a)
		if err != nil {
			return aws.Credentials{}, err
		}
		if p.basic != nil {
			return p.assume(ctx, a, token)
		}
		logins = map[string]string{cognitoIdentityProvider: token}
	} else {
		if err := p.resolve(ctx, a); err != nil {
			return aws.Credentials{}, err
		}
		logins = a.logins
	}
	if p.basic == nil {
		return p.credentials(ctx, a, logins)
	}
	out, err := p.client.GetOpenIdToken(ctx, &cognitoidentity.GetOpenIdTokenInput{
		IdentityId: aws.String(a.identityID),
		Logins:     logins,
	})
	if err != nil {
		return aws.Credentials{}, opGetOpenIDToken.failed(err)
	}
	if out == nil || aws.ToString(out.Token) == "" {
		return aws.Credentials{}, opGetOpenIDToken.badResponse("has no token")
	}
	return p.assume(ctx, a, aws.ToString(out.Token))
}

// resolve sets a.identityID, unless it is set, from the cache (unless a.refetch) or GetId.
func (p *IdentityPool) resolve(ctx context.Context, a *attempt) error {
	if a.identityID != "" {
		return nil
	}
	if !a.refetch {
		if id := p.ids.get(ctx, a.key); id != "" {
			a.identityID, a.fromCache = id, true
			return nil
		}
	}
	in := &cognitoidentity.GetIdInput{IdentityPoolId: aws.String(p.poolID), Logins: a.logins}
	if p.options.AccountID != "" {
		in.AccountId = aws.String(p.options.AccountID)
	}
	out, err := p.client.GetId(ctx, in)
	if err != nil {
		return opGetID.failed(err)
	}
	if out == nil || !isIdentityID(aws.ToString(out.IdentityId)) {
		return opGetID.badResponse("has no valid IdentityId")
	}
	a.identityID, a.fromCache = aws.ToString(out.IdentityId), false
	p.ids.put(ctx, a.key, a.identityID)
	return nil
}

// developerToken calls GetOpenIdTokenForDeveloperIdentity and sets a.identityID.
func (p *IdentityPool) developerToken(ctx context.Context, a *attempt) (string, error) {
	d := p.options.Developer
	logins := maps.Clone(a.logins)
	if logins == nil {
		logins = map[string]string{}
	}
	logins[d.ProviderName] = d.UserIdentifier
	in := &cognitoidentity.GetOpenIdTokenForDeveloperIdentityInput{
		IdentityPoolId: aws.String(p.poolID),
		Logins:         logins,
		PrincipalTags:  d.PrincipalTags,
	}
	if d.TokenDuration != 0 {
		in.TokenDuration = aws.Int64(int64(d.TokenDuration / time.Second))
	}
	if !a.refetch {
		if id := p.ids.get(ctx, a.key); id != "" {
			in.IdentityId = aws.String(id)
			a.identityID, a.fromCache = id, true
		}
	}
	out, err := d.Client.GetOpenIdTokenForDeveloperIdentity(ctx, in)
	if err != nil {
		return "", opGetOpenIDTokenForDeveloperIdentity.failed(err)
	}
	if out == nil || !isIdentityID(aws.ToString(out.IdentityId)) || aws.ToString(out.Token) == "" {
		return "", opGetOpenIDTokenForDeveloperIdentity.badResponse("has no valid IdentityId or no Token")
	}
	id, token := aws.ToString(out.IdentityId), aws.ToString(out.Token)
	a.tokens = append(a.tokens, token)
	if id != a.identityID {
		p.ids.put(ctx, a.key, id)
	}
	a.identityID = id
	return token, nil
}

// credentials is the enhanced flow's GetCredentialsForIdentity.
func (p *IdentityPool) credentials(ctx context.Context, a *attempt, logins map[string]string) (aws.Credentials, error) {
	in := &cognitoidentity.GetCredentialsForIdentityInput{IdentityId: aws.String(a.identityID), Logins: logins}
	if p.options.CustomRoleARN != "" {
		in.CustomRoleArn = aws.String(p.options.CustomRoleARN)
	}
	out, err := p.client.GetCredentialsForIdentity(ctx, in)
	if err != nil {
		return aws.Credentials{}, opGetCredentialsForIdentity.failed(err)
	}
	if out == nil || out.Credentials == nil {
		return aws.Credentials{}, opGetCredentialsForIdentity.badResponse("has no credentials")
	}
	c := out.Credentials
	if aws.ToString(c.AccessKeyId) == "" || aws.ToString(c.SecretKey) == "" {
		return aws.Credentials{}, opGetCredentialsForIdentity.badResponse("has an empty access key")
	}
	if c.Expiration == nil || c.Expiration.IsZero() {
		return aws.Credentials{}, opGetCredentialsForIdentity.badResponse("has no expiration")
	}
	return aws.Credentials{
		AccessKeyID:     aws.ToString(c.AccessKeyId),
		SecretAccessKey: aws.ToString(c.SecretKey),
		SessionToken:    aws.ToString(c.SessionToken),
		Source:          IdentityPoolProviderName,
		CanExpire:       true,
		Expires:         c.Expiration.UTC(),
		AccountID:       p.options.AccountID,
	}, nil
}

// assume is the basic flow's AssumeRoleWithWebIdentity, with a token Cognito issued and the
// session named after the user, or else the identity.
func (p *IdentityPool) assume(ctx context.Context, a *attempt, token string) (aws.Credentials, error) {
	a.tokens = append(a.tokens, token)
	user := a.user
	if user == "" {
		user = a.identityID
	}
	creds, err := p.basic.assume(ctx, token, user)
	if err != nil {
		return aws.Credentials{}, err
	}
	creds.Source = IdentityPoolProviderName
	return creds, nil
}

// failure turns the last error of a retrieval into the provider's (see providerError). A
// login refused where there is none to refresh (a guest, or a developer identity without
// linked logins) is the pool's setup.
func (p *IdentityPool) failure(err error, a *attempt) error {
	if classOf(err) == rejected && a.logins == nil {
		what := "unauthenticated identities"
		if p.options.Developer != nil {
			what = "this developer-authenticated identity"
		}
		return configurationError("awscreds: IdentityPool: ", "the pool refuses "+what+": ", err, a.tokens...)
	}
	return providerError("IdentityPool", err, a.tokens...)
}
