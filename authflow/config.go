package authflow

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/pubauth/awsauth/internal/cognito"
	"github.com/pubauth/awsauth/internal/jwt"
	"github.com/pubauth/awsauth/tokenstore"
)

// Config configures a Handler. New validates all of it up front.
type Config struct {
	// Issuer is the OpenID provider's issuer URL, exactly as its discovery
	// document states it (no trailing slash unless the provider has one).
	// For Cognito: CognitoIssuer(CognitoPool{ID: userPoolID}), with the
	// pool's IssuerType; an issuer naming cognito-idp must be exactly a user
	// pool issuer of either type.
	Issuer string

	// ClientID is the OAuth 2.0 client (Cognito: app client) id.
	ClientID string

	// ClientSecret authenticates a confidential client at the token and
	// revocation endpoints (client_secret_basic, RFC 6749 §2.3.1). Empty, with
	// no ClientAssertionKey, means a public client: PKCE alone protects the
	// code, and client_id is sent in the request body.
	ClientSecret string

	// ClientAssertionKey, instead of ClientSecret, authenticates the client
	// at the token and revocation endpoints with private_key_jwt (RFC 7523
	// §2.2, OpenID Connect Core 1.0 §9): each request carries a new JWT
	// signed with this key, iss and sub ClientID, aud the URL of the
	// endpoint it is sent to, a unique jti and a one-minute exp. RSA (RS256,
	// 2048 bits or more), ECDSA P-256/P-384/P-521 (ES256/384/512) or Ed25519
	// (EdDSA); any crypto.Signer, a KMS-held key included. New refuses it
	// when the provider's discovery document lists
	// token_endpoint_auth_methods_supported without private_key_jwt or
	// token_endpoint_auth_signing_alg_values_supported without the key's
	// algorithm, and for Amazon Cognito, which authenticates clients with a
	// client secret only.
	ClientAssertionKey crypto.Signer

	// ClientAssertionKeyID is the kid under which the provider knows
	// ClientAssertionKey's public key (the client's registered jwks or
	// jwks_uri). Empty sends no kid.
	ClientAssertionKeyID string

	// RedirectURL is the absolute URL of the Callback handler, registered
	// with the provider. It is sent byte-identical in the authorization and
	// token requests (RFC 6749 §4.1.3).
	RedirectURL string

	// Scopes requested at login; "openid" is added when missing.
	//
	// Empty means "openid", plus "offline_access" when the provider's
	// discovery document lists it in scopes_supported: OpenID Certified
	// providers (oidc-provider, Keycloak, Okta, Ory Hydra) issue refresh
	// tokens only for it (OIDC Core §11), and without one a session ends
	// with its first access token. Cognito's document does not list it and
	// Cognito refuses unknown scopes; it issues refresh tokens anyway. Set
	// Scopes to send exactly those (and openid), adding "offline_access"
	// yourself where wanted. Some providers (oidc-provider among them) keep
	// offline_access only with prompt=consent (OIDC Core §11): add it to
	// AuthParams there; it is not sent by default, as it makes other
	// providers ask for consent at every sign-in.
	Scopes []string

	// AuthParams are extra authorization request parameters of every login,
	// such as "prompt", "login_hint" or Cognito's "identity_provider"; a
	// login's LoginOptions replace those of the same name. State, nonce,
	// PKCE, scope, response_type, client_id and redirect_uri can't be set
	// here, nor max_age and acr_values, which the callback must check: set
	// them with LoginOptions (LoginWith).
	AuthParams map[string]string

	// Store keeps sessions. Nil means tokenstore.NewMemory(), which is right
	// for a single instance only. A store that implements tokenstore.Locker
	// serializes refresh across instances.
	Store tokenstore.Store

	// CookieKeys seal the per-login flow cookie and key CSRF tokens. Each key
	// is 32 bytes of secret random data; the first seals, all open, so a new
	// key is rotated in by prepending it and an old one retired by removing it
	// after a flow lifetime. Every instance behind one domain must share the
	// ring. Nil makes a random key per process and logs a warning: logins that
	// start on one instance and return to another then fail.
	CookieKeys [][]byte

	// SessionCookieName names the cookie that holds the session id. Default
	// "__Host-awsauth-session". Two apps on one host share cookies whatever
	// their ports (RFC 6265 §8.5), so each must have its own name, or signing
	// in to one signs the user out of the other.
	//
	// Every cookie this package sets is Secure, HttpOnly, SameSite=Lax,
	// Path=/ and host-only (no Domain): that is what the __Host- prefix
	// requires (RFC 6265bis §4.1.3.2), so any name may keep it, and should:
	// it stops a sibling subdomain or a plain-http page from planting the
	// cookie. New refuses a name that is not an RFC 6265 token.
	SessionCookieName string

	// FlowCookiePrefix starts the name of each login's flow cookie (the
	// rest is a hash of the login's state). Default "__Host-awsauth-flow-".
	// The rules of SessionCookieName apply; SessionCookieName must not start
	// with it.
	FlowCookiePrefix string

	// PostLogoutRedirectURL is where the provider sends the browser after
	// logout (OIDC RP-Initiated Logout post_logout_redirect_uri; Cognito
	// logout_uri). It must be registered with the provider. Empty means the
	// origin of RedirectURL plus "/".
	PostLogoutRedirectURL string

	// LoginPath is where RequireLogin sends browsers that have no session;
	// it should serve Handler.Login. Default "/login".
	LoginPath string

	// SessionLifetime bounds a session from login, whatever refreshes happen.
	// A provider's refresh_expires_in shortens it. Default 24h.
	SessionLifetime time.Duration

	// IdleTimeout, when positive, ends a session unused for that long
	// (sliding): a use is a request served through RequireLogin or
	// Handler.Session; Tokens and IDTokenFunc (background AWS calls) are not
	// uses. The use is recorded in the session record itself, rewritten at
	// most once per IdleTimeout/10 per session (under the store's refresh
	// lease when the store is a tokenstore.Locker, so it never undoes a
	// refresh), so a request still costs one store read. Precision: a session
	// ends after between 0.9×IdleTimeout and IdleTimeout without a use, never
	// later. Zero means no idle timeout. See idle.go for the reasoning.
	IdleTimeout time.Duration

	// RefreshWindow is how long before the access or ID token expires a
	// refresh happens, at most half the token's lifetime as issued (from
	// the token response to its expiry), so that short-lived tokens are not
	// refreshed on every request. Default 1 minute.
	RefreshWindow time.Duration

	// RefreshTimeout bounds one refresh (lease, token request, store write).
	// It is independent of the request that triggered the refresh, so one
	// caller giving up does not fail the others. Default 15s.
	RefreshTimeout time.Duration

	// StoreTimeout bounds each operation on Store (one Get, Set, Delete, lease
	// or index call): one still running then is abandoned and fails with an
	// error wrapping context.DeadlineExceeded, so a slow or unreachable store
	// holds no request longer, whatever its client's own timeouts and retries.
	// A signed-in request makes one operation (RequireLogin answers 503 when
	// it fails), a login two or three, a logout three. An abandoned call keeps
	// its goroutine until the store's client gives up: make the client honour
	// contexts (go-redis: Options.ContextTimeoutEnabled; pgx and the AWS SDK
	// do) to end it at once. Default 3s.
	StoreTimeout time.Duration

	// FlowLifetime bounds a login from redirect to callback. Default 10m.
	FlowLifetime time.Duration

	// ClockSkew is the leeway for the ID token's exp, nbf and iat checks, and for the login
	// flow's start. Default 1 minute, the module's one default (the bearer verifier's too); at
	// most 5 minutes.
	ClockSkew time.Duration

	// TrustedAudiences lists audiences besides ClientID that an ID token may
	// carry (OIDC Core §3.1.3.7 step 3). Empty means an ID token with several
	// audiences is rejected.
	TrustedAudiences []string

	// ClaimsToKeep names the ID token claims copied into the session and
	// served by Session.Claims. Default: email, email_verified, name,
	// preferred_username, cognito:username, cognito:groups.
	ClaimsToKeep []string

	// OnSessionEnd, when set, is called with the session's Handle after
	// authflow ends it, whatever the reason (EndReason lists them: logout,
	// idle, absolute lifetime, a refused refresh, EndUserSessions,
	// EndSession, BackChannelLogout — which may end a session of another
	// instance, knowing only its handle —, a new sign-in replacing it, the
	// user's index evicting it). Use it to drop per-session state keyed by
	// Session.Handle, such as cached AWS credentials: OnSessionEnd:
	// users.Evict (awscreds.UserCache.Evict). It runs on the goroutine that
	// saw the end and should be quick. It runs once per end in a process;
	// instances that see one session's end at the same moment may each run
	// it, so it must be idempotent. A session whose user never returns after
	// its idle or absolute end is dropped by the store silently once its
	// record expires (a few minutes later): per-session caches must be
	// bounded (awscreds.UserCache is).
	OnSessionEnd func(handle string)

	// OnSessionEndDetail, when set, is called right after OnSessionEnd, for
	// the same ends, with the session's id, the user's sub and the reason:
	// for the application's own clean-up or audit. It is a second hook so
	// that OnSessionEnd keeps the shape of awscreds.UserCache.Evict.
	OnSessionEndDetail func(ctx context.Context, end SessionEnd)

	// Cognito, when set, supplies the logout and revocation endpoints that
	// Cognito's discovery document lacks; with a user pool Issuer, New then
	// derives every endpoint from the pool and Cognito.Domain and makes no
	// discovery request (see New).
	Cognito *Cognito

	// JWKS primes the provider's key set (KeySet) with a JWKS document
	// (RFC 7517 §5), such as the user pool's
	// <issuer>/.well-known/jwks.json saved at build time and embedded in the
	// binary (//go:embed) or shipped beside it: ID tokens and, through
	// KeySet, bearer tokens are verified with no fetch of the key set. A
	// token naming a kid the document lacks still causes a fetch of the
	// provider's jwks_uri (a key rotated in since), and a fetched set
	// replaces the primed one. New fails when it holds no usable key.
	JWKS []byte

	// HTTPClient is used for discovery, JWKS, token, and revocation
	// requests. Redirects are never followed on these requests: a 307 from
	// a token endpoint would re-send the client credentials elsewhere. Nil
	// means a client with a 10s timeout.
	HTTPClient *http.Client

	// Logger receives operational events. Tokens, codes, secrets and cookie
	// values are never logged. Nil means slog.Default().
	Logger *slog.Logger

	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// MeterProvider receives the login flow's metrics (logins, callback latency, refreshes,
	// lease waits, session ends, store latency through tokenstore.Instrument, JWKS fetches);
	// TracerProvider its spans (callback, refresh, token endpoint, revocation, JWKS fetch).
	// Nil means none (no-op). README.md's Telemetry section lists every instrument. Attribute
	// values never carry a token, code, cookie, secret or user id.
	MeterProvider  metric.MeterProvider
	TracerProvider trace.TracerProvider
	// TraceUserID adds user.id, the ID token's sub, to the callback and refresh spans (never
	// to metrics). Off by default: a user id is personal data.
	TraceUserID bool
}

const (
	defaultLoginPath       = "/login"
	defaultSessionLifetime = 24 * time.Hour
	defaultRefreshWindow   = time.Minute
	defaultRefreshTimeout  = 15 * time.Second
	defaultStoreTimeout    = 3 * time.Second
	defaultFlowLifetime    = 10 * time.Minute
	defaultClockSkew       = jwt.DefaultClockSkew
)

var defaultClaimsToKeep = []string{
	"email", "email_verified", "name", "preferred_username",
	"cognito:username", "cognito:groups",
}

// reservedAuthParams are set by the flow itself and must not be overridden.
var reservedAuthParams = []string{
	"state", "nonce", "code_challenge", "code_challenge_method", "scope",
	"response_type", "client_id", "redirect_uri",
}

// withDefaults returns a validated copy of c with defaults filled in.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.Issuer == "" {
		errs = append(errs, errors.New("missing Issuer"))
	} else if err := checkEndpoint("Issuer", c.Issuer); err != nil {
		errs = append(errs, err)
	} else if err := cognito.CheckIssuer(c.Issuer); err != nil {
		errs = append(errs, err)
	}
	if c.ClientID == "" {
		errs = append(errs, errors.New("missing ClientID"))
	}
	if c.ClientAssertionKey != nil {
		if c.ClientSecret != "" {
			errs = append(errs, errors.New("set ClientSecret or ClientAssertionKey, not both"))
		}
		if _, ok := cognito.ParseIssuer(c.Issuer); ok || c.Cognito != nil {
			errs = append(errs, errors.New("ClientAssertionKey (private_key_jwt) is not for Amazon Cognito, which authenticates clients with a client secret only"))
		}
	} else if c.ClientAssertionKeyID != "" {
		errs = append(errs, errors.New("ClientAssertionKeyID without ClientAssertionKey"))
	}
	if c.RedirectURL == "" {
		errs = append(errs, errors.New("missing RedirectURL"))
	} else if err := checkEndpoint("RedirectURL", c.RedirectURL); err != nil {
		errs = append(errs, err)
	}
	if c.PostLogoutRedirectURL != "" {
		if err := checkEndpoint("PostLogoutRedirectURL", c.PostLogoutRedirectURL); err != nil {
			errs = append(errs, err)
		}
	}
	for i, k := range c.CookieKeys {
		if len(k) != 32 {
			errs = append(errs, fmt.Errorf("CookieKeys[%d] is %d bytes, want 32", i, len(k)))
		}
	}
	for k := range c.AuthParams {
		if slices.Contains(reservedAuthParams, k) {
			errs = append(errs, fmt.Errorf("AuthParams may not set %q", k))
		}
		if slices.Contains(loginOptionParams, k) {
			errs = append(errs, fmt.Errorf("AuthParams may not set %q: set it per login with LoginOptions, which the callback checks", k))
		}
	}
	if c.SessionCookieName == "" {
		c.SessionCookieName = defaultSessionCookieName
	}
	if c.FlowCookiePrefix == "" {
		c.FlowCookiePrefix = defaultFlowCookiePrefix
	}
	errs = append(errs, checkCookieNames(c.SessionCookieName, c.FlowCookiePrefix)...)
	if c.LoginPath == "" {
		c.LoginPath = defaultLoginPath
	} else if !strings.HasPrefix(c.LoginPath, "/") {
		errs = append(errs, errors.New("a LoginPath must be an absolute path"))
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"SessionLifetime", &c.SessionLifetime, defaultSessionLifetime},
		{"IdleTimeout", &c.IdleTimeout, 0},
		{"RefreshWindow", &c.RefreshWindow, defaultRefreshWindow},
		{"RefreshTimeout", &c.RefreshTimeout, defaultRefreshTimeout},
		{"StoreTimeout", &c.StoreTimeout, defaultStoreTimeout},
		{"FlowLifetime", &c.FlowLifetime, defaultFlowLifetime},
		{"ClockSkew", &c.ClockSkew, defaultClockSkew},
	} {
		switch {
		case *d.v < 0:
			errs = append(errs, fmt.Errorf("%s must not be negative", d.name))
		case *d.v == 0:
			*d.v = d.def
		}
	}
	if c.ClockSkew > jwt.MaxClockSkew {
		errs = append(errs, fmt.Errorf("ClockSkew must be at most %v", jwt.MaxClockSkew))
	}
	if c.Cognito != nil {
		if err := c.Cognito.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("authflow: invalid config: %w", errors.Join(errs...))
	}

	if !slices.Contains(c.Scopes, "openid") {
		c.Scopes = append([]string{"openid"}, c.Scopes...)
	}
	if c.ClaimsToKeep == nil {
		c.ClaimsToKeep = defaultClaimsToKeep
	}
	if c.PostLogoutRedirectURL == "" {
		u, _ := url.Parse(c.RedirectURL)
		c.PostLogoutRedirectURL = u.Scheme + "://" + u.Host + "/"
	}
	if c.Store == nil {
		c.Store = tokenstore.NewMemory()
	}
	c.Store = boundStore(tokenstore.Instrument(c.Store, c.MeterProvider), c.StoreTimeout)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}
