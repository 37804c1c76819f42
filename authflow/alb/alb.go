package alb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/pubauth/awsauth/authflow/bearer"
	"github.com/pubauth/awsauth/internal/httpx"
	"github.com/pubauth/awsauth/internal/jwks"
	"github.com/pubauth/awsauth/internal/jwt"
)

// The headers an authenticating load balancer adds to each request it
// forwards, in net/http's canonical form.
const (
	// HeaderData carries the user claims, a JWT signed by the load balancer.
	HeaderData = "X-Amzn-Oidc-Data"
	// HeaderAccessToken carries the IdP's access token as the IdP issued it.
	HeaderAccessToken = "X-Amzn-Oidc-Accesstoken"
	// HeaderIdentity carries sub, unsigned: never trust it (this package
	// doesn't read it).
	HeaderIdentity = "X-Amzn-Oidc-Identity"
)

// Defaults of Config.
const (
	// DefaultMaxTokenBytes bounds x-amzn-oidc-data, in bytes: ALB refuses
	// claims over 11 KB, and base64 grows them by a third.
	DefaultMaxTokenBytes = 16 << 10
	// DefaultClockSkew is the module's one skew.
	DefaultClockSkew = jwt.DefaultClockSkew
)

// Config configures New. The zero value of a field selects its default.
type Config struct {
	// LoadBalancerARN is the ARN of the Application Load Balancer whose
	// headers are accepted, the value its tokens carry in their signer
	// header: arn:<partition>:elasticloadbalancing:<region>:<account>:loadbalancer/app/<name>/<id>.
	// Required. Its partition (aws, aws-cn or aws-us-gov) and region select
	// the one key endpoint ever fetched from.
	LoadBalancerARN string
	// Issuer is the iss of the IdP the listener rule's authenticate-oidc
	// action names (its Issuer), or, for authenticate-cognito, the user
	// pool's https://cognito-idp.<region>.amazonaws.com/<poolID>; compared
	// byte for byte. Required.
	Issuer string
	// ClientID, when set, must equal the token's client header: the IdP
	// client id of the listener rule, for a load balancer whose rules use
	// several.
	ClientID string
	// AccessToken, when set, verifies x-amzn-oidc-accesstoken on every
	// request (and the Requirements of Require against it): for an app that
	// needs the access token's scopes or groups. Its subject must be the
	// data header's. Nil: the access token is not read.
	AccessToken *bearer.Verifier

	// ClockSkew is the leeway for exp (and iat, nbf when present). Default
	// DefaultClockSkew; at most 5 minutes.
	ClockSkew time.Duration
	// MaxLifetime bounds exp - now. Default jwt.DefaultMaxLifetime (24 h).
	MaxLifetime time.Duration
	// MaxTokenBytes bounds x-amzn-oidc-data. Default DefaultMaxTokenBytes.
	MaxTokenBytes int
	// KeyCacheSize bounds the cached public keys. Default jwks.DefaultPEMCacheSize.
	KeyCacheSize int
	// RefetchInterval is the least time between a failed key fetch and the
	// next fetch of a kid not cached. Default 10 s; at most 60 s.
	RefetchInterval time.Duration
	// FetchTimeout bounds one key fetch. Default 5 s.
	FetchTimeout time.Duration
	// HTTPClient fetches the keys. Redirects are not followed. Nil means a
	// client with a 10 s timeout. Tests stand in for the endpoint with its
	// Transport.
	HTTPClient *http.Client

	// ErrorHandler, when set, answers refused requests instead of
	// WriteError; StatusOf gives the status.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
	// Logger receives refusals (reason only) and key fetch failures, never a
	// header value. Nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verifier verifies the headers of one load balancer. Create it with New. It
// is safe for concurrent use.
type Verifier struct {
	core     *jwt.Verifier
	keys     *jwks.PEMKeys
	access   *bearer.Verifier
	maxToken int
	onError  func(http.ResponseWriter, *http.Request, error)
	log      *slog.Logger
}

// New validates cfg and returns a Verifier. It fetches nothing: keys are
// fetched on first use. Errors start with "alb: ".
func New(cfg Config) (*Verifier, error) {
	var errs []error
	endpoint, err := KeyEndpoint(cfg.LoadBalancerARN)
	if err != nil {
		errs = append(errs, err)
	}
	if cfg.Issuer == "" {
		errs = append(errs, errors.New("no Issuer"))
	} else if err := httpx.CheckEndpoint("Issuer", cfg.Issuer); err != nil {
		errs = append(errs, err)
	}
	if cfg.MaxTokenBytes < 0 {
		errs = append(errs, errors.New("MaxTokenBytes must not be negative"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("alb: invalid config: %w", errors.Join(errs...))
	}
	if cfg.MaxTokenBytes == 0 {
		cfg.MaxTokenBytes = DefaultMaxTokenBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	keys, err := jwks.NewPEMKeys(jwks.PEMConfig{
		URL:             func(kid string) string { return endpoint + kid },
		HTTPClient:      httpx.NoRedirectClient(cfg.HTTPClient),
		FetchTimeout:    cfg.FetchTimeout,
		CacheSize:       cfg.KeyCacheSize,
		RefetchInterval: cfg.RefetchInterval,
		Algorithms:      []string{"ES256"},
		MaxTokenBytes:   cfg.MaxTokenBytes,
		Now:             cfg.Now,
		Logger:          cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("alb: invalid config: %w", err)
	}
	var clients []string
	if cfg.ClientID != "" {
		clients = []string{cfg.ClientID}
	}
	core, err := jwt.New(jwt.Config{
		Issuer: cfg.Issuer, Keys: keys, Algorithms: []string{"ES256"},
		Profile:   jwt.ALB([]string{cfg.LoadBalancerARN}, clients),
		ClockSkew: cfg.ClockSkew, MaxLifetime: cfg.MaxLifetime, MaxTokenBytes: cfg.MaxTokenBytes, Now: cfg.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("alb: invalid config: %w", err)
	}
	return &Verifier{
		core: core, keys: keys, access: cfg.AccessToken, maxToken: cfg.MaxTokenBytes,
		onError: cfg.ErrorHandler, log: cfg.Logger,
	}, nil
}

// arnPattern is an Application Load Balancer's ARN: partition, region,
// 12-digit account, loadbalancer/app/<name>/<id>.
var arnPattern = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):elasticloadbalancing:([a-z]{2}(?:-[a-z]+)+-[0-9]+):[0-9]{12}:loadbalancer/app/[A-Za-z0-9-]{1,32}/[0-9a-f]{1,32}$`)

// KeyEndpoint returns the URL, ending in "/", under which the load balancer
// of arn publishes its public keys by kid (Elastic Load Balancing User Guide,
// "Authenticate users using an Application Load Balancer", user claims
// encoding and signature verification):
// https://public-keys.auth.elb.<region>.amazonaws.com/ (aws),
// https://public-keys.auth.elb.<region>.amazonaws.com.cn/ (aws-cn),
// https://s3-<region>.amazonaws.com/aws-elb-public-keys-prod-<region>/ (aws-us-gov).
// It refuses an ARN that is not an Application Load Balancer's, or whose
// region does not belong to its partition.
func KeyEndpoint(arn string) (string, error) {
	m := arnPattern.FindStringSubmatch(arn)
	if m == nil {
		return "", fmt.Errorf("LoadBalancerARN %q is not an Application Load Balancer ARN", arn)
	}
	partition, region := m[1], m[2]
	gov, cn := strings.HasPrefix(region, "us-gov-"), strings.HasPrefix(region, "cn-")
	switch {
	case partition == "aws" && !gov && !cn:
		return "https://public-keys.auth.elb." + region + ".amazonaws.com/", nil
	case partition == "aws-cn" && cn:
		return "https://public-keys.auth.elb." + region + ".amazonaws.com.cn/", nil
	case partition == "aws-us-gov" && gov:
		return "https://s3-" + region + ".amazonaws.com/aws-elb-public-keys-prod-" + region + "/", nil
	}
	return "", fmt.Errorf("LoadBalancerARN %q: region %s is not in partition %s", arn, region, partition)
}

// Claims are the verified claims of x-amzn-oidc-data: the IdP's userinfo
// claims as the load balancer passes them, with its iss and exp. Treat them
// as read-only.
type Claims struct {
	// Issuer is iss, the configured Issuer.
	Issuer string
	// Subject is sub; never empty.
	Subject string
	// Username is username (Cognito), or cognito:username; empty when absent.
	Username string
	// Expiry is exp in UTC.
	Expiry time.Time
	// AccessToken holds the verified claims of x-amzn-oidc-accesstoken when
	// Config.AccessToken is set; nil otherwise.
	AccessToken *bearer.Claims

	payload []byte
}

// Decode unmarshals the whole verified payload into v with encoding/json,
// for claims beyond the fields of Claims (email, name, custom:...). ALB
// passes userinfo values as the IdP sent them: Cognito's email_verified is
// the string "true", not a boolean.
func (c *Claims) Decode(v any) error {
	if err := json.Unmarshal(c.payload, v); err != nil {
		return fmt.Errorf("alb: decoding claims: %w", err)
	}
	return nil
}

// Verify checks data, the value of one x-amzn-oidc-data header, in the
// verification core (see the package doc for the checks and their order).
// Errors wrap ErrInvalidToken (ErrTokenExpired among them) or
// ErrKeyUnavailable; they never contain data or a claim value.
func (v *Verifier) Verify(ctx context.Context, data string) (*Claims, error) {
	if len(data) > v.maxToken {
		return nil, errTooLong
	}
	c, err := v.core.Verify(ctx, data, jwt.Options{Refetch: jwks.RefetchLimited})
	if err != nil {
		return nil, fromCore(err)
	}
	return &Claims{Issuer: c.Issuer, Subject: c.Subject, Username: c.Username, Expiry: c.Expiry, payload: c.Payload}, nil
}

// KeyFetches returns the number of key fetches started, successful or not.
func (v *Verifier) KeyFetches() int64 { return v.keys.Fetches() }
