package authflow

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/oauth2"

	"github.com/pubauth/awsauth/internal/jwt"
)

// LoginOptions are the authorization request parameters of one login, chosen
// by the application (LoginWith, StartLogin, RequireRecentLogin, RequireACR):
// Login never takes them from the request's query. The zero value asks for
// nothing beyond Config. Those the callback checks (prompt=login, max_age,
// acr_values) are sealed in the login's flow cookie with its state, so that
// editing the authorization request on its way to the provider can't weaken
// them: the callback refuses an ID token that does not meet what was sealed
// (ErrInsufficientAuthentication).
//
// The parameters are OpenID Connect Core 1.0 §3.1.2.1's, and Amazon
// Cognito's authorize endpoint's
// (https://docs.aws.amazon.com/cognito/latest/developerguide/authorization-endpoint.html).
type LoginOptions struct {
	// Prompt is prompt: space-separated values among "none", "login",
	// "consent" and "select_account", "none" only alone. With "login" the
	// callback requires the ID token's auth_time, no earlier than the start
	// of this login (less Config.ClockSkew): a provider that skipped the
	// authentication is refused. Empty means Config.AuthParams' prompt, if
	// any, which a Prompt replaces (write "login consent" to keep consent).
	Prompt string

	// MaxAge is max_age, whole seconds: the user must have authenticated at
	// the provider within it, or authenticate again. The callback then
	// requires the ID token's auth_time and refuses one older than MaxAge
	// plus Config.ClockSkew (OIDC Core §3.1.3.7 step 13). Zero sends none.
	MaxAge time.Duration

	// ACRValues is acr_values, the authentication context classes asked for
	// in order of preference. The callback requires the ID token's acr to be
	// one of them (as for an essential acr claim, OIDC Core §5.5.1.1):
	// a provider that did less is refused. Amazon Cognito issues no acr.
	ACRValues []string

	// LoginHint is login_hint, the user's login name or email address as
	// the application knows it, to prefill the provider's form.
	LoginHint string

	// IdentityProvider and IDPIdentifier are Amazon Cognito's
	// identity_provider (a federated provider's name in the user pool, or
	// "COGNITO" for the pool's own users) and idp_identifier (an identifier
	// of the provider, such as an email domain): Cognito sends the browser
	// straight to that provider. At most one of the two.
	IdentityProvider string
	IDPIdentifier    string

	// Lang is Amazon Cognito managed login's lang, the language of its
	// pages, such as "fr" or "pt-BR".
	Lang string
}

// ErrInsufficientAuthentication is returned (wrapped, and wrapping
// ErrIDToken) by the callback when the ID token does not show the
// authentication the login asked for (LoginOptions): auth_time missing, older
// than max_age, or before a prompt=login login began; acr missing or not among
// acr_values.
var ErrInsufficientAuthentication = fmt.Errorf("%w: authentication less than the login asked", ErrIDToken)

// Bounds of LoginOptions' values.
const (
	maxLoginParamLen = 256
	maxACRValues     = 16
	maxMaxAge        = 1 << 31 // seconds, about 68 years: bounds the flow record's field
)

// loginOptionParams are the authorization request parameters only
// LoginOptions may set: the callback checks them, so Config.AuthParams may not.
var loginOptionParams = []string{"max_age", "acr_values"}

var promptValues = []string{"none", "login", "consent", "select_account"}

// validate reports what in o can't be sent.
func (o *LoginOptions) validate() error {
	var errs []error
	if o.Prompt != "" {
		vs := strings.Fields(o.Prompt)
		if strings.Join(vs, " ") != o.Prompt {
			errs = append(errs, errors.New("the values of Prompt must be separated by single spaces"))
		}
		for i, v := range vs {
			switch {
			case !slices.Contains(promptValues, v):
				errs = append(errs, fmt.Errorf("unknown Prompt value %q", v))
			case slices.Contains(vs[:i], v):
				errs = append(errs, fmt.Errorf("%q twice in Prompt", v))
			case v == "none" && len(vs) > 1:
				errs = append(errs, errors.New(`"none" with another Prompt value`))
			}
		}
	}
	switch {
	case o.MaxAge < 0:
		errs = append(errs, errors.New("negative MaxAge"))
	case o.MaxAge%time.Second != 0:
		errs = append(errs, errors.New("a MaxAge not of whole seconds"))
	case o.MaxAge/time.Second > maxMaxAge:
		errs = append(errs, errors.New("too long a MaxAge"))
	}
	if len(o.ACRValues) > maxACRValues {
		errs = append(errs, fmt.Errorf("more than %d ACRValues", maxACRValues))
	}
	for _, v := range o.ACRValues {
		if v == "" || len(v) > maxLoginParamLen || strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r > '~' || r == '"' || r == '\\' }) {
			errs = append(errs, errors.New(`a value of ACRValues empty, too long, or not printable ASCII without spaces, '"' and '\'`))
			break
		}
	}
	for _, p := range []struct{ name, v string }{
		{"LoginHint", o.LoginHint}, {"IdentityProvider", o.IdentityProvider},
		{"IDPIdentifier", o.IDPIdentifier}, {"Lang", o.Lang},
	} {
		if len(p.v) > maxLoginParamLen || !utf8.ValidString(p.v) || strings.ContainsFunc(p.v, unicode.IsControl) {
			errs = append(errs, fmt.Errorf("%s: too long, or not UTF-8 text without control characters", p.name))
		}
	}
	if o.IdentityProvider != "" && o.IDPIdentifier != "" {
		errs = append(errs, errors.New("set IdentityProvider or IDPIdentifier, not both"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("authflow: invalid LoginOptions: %w", errors.Join(errs...))
	}
	return nil
}

// authCodeOptions are o's parameters, which replace Config.AuthParams' of the
// same name.
func (o *LoginOptions) authCodeOptions(opts []oauth2.AuthCodeOption) []oauth2.AuthCodeOption {
	for _, p := range [...]struct{ name, v string }{
		{"prompt", o.Prompt}, {"login_hint", o.LoginHint}, {"identity_provider", o.IdentityProvider},
		{"idp_identifier", o.IDPIdentifier}, {"lang", o.Lang}, {"acr_values", strings.Join(o.ACRValues, " ")},
	} {
		if p.v != "" {
			opts = append(opts, oauth2.SetAuthURLParam(p.name, p.v))
		}
	}
	if o.MaxAge > 0 {
		opts = append(opts, oauth2.SetAuthURLParam("max_age", strconv.FormatInt(int64(o.MaxAge/time.Second), 10)))
	}
	return opts
}

// authentication is what the callback checks of the ID token for flow f:
// what its authorization request asked.
func (f *flow) authentication() jwt.Options {
	o := jwt.Options{MaxAge: f.MaxAge, ACRValues: f.ACRValues}
	if slices.Contains(strings.Fields(f.Prompt), "login") {
		o.AuthenticatedAfter = f.Created
	}
	return o
}

// LoginWith returns a handler that starts a sign-in (GET) with o's
// parameters, as Login does: an optional return_to query parameter names the
// same-origin path to land on afterwards (default "/"), and nothing else in
// the query is read. Serve one route per kind of login the application
// offers, such as a "sign in with Google" button's:
//
//	mux.Handle("GET /login/google", h.LoginWith(authflow.LoginOptions{IdentityProvider: "Google"}))
//
// With options that fail validation, every request gets 500 and an error log.
func (h *Handler) LoginWith(o LoginOptions) http.Handler {
	invalid := o.validate()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			httpError(w, r, http.StatusMethodNotAllowed, "method_not_allowed", "Use GET.")
			return
		}
		if invalid != nil {
			h.cfg.Logger.Error("authflow: login not started", slogErr(invalid))
			httpError(w, r, http.StatusInternalServerError, "server_error", "Sign-in is not available.")
			return
		}
		returnTo := "/"
		if vs, ok := r.URL.Query()["return_to"]; ok {
			if len(vs) != 1 || checkReturnTo(vs[0]) != nil {
				h.cfg.Logger.Info("authflow: login refused an unsafe return_to")
				h.tel.loginRefused(r.Context(), errUnsafeReturnTo)
				httpError(w, r, http.StatusBadRequest, "invalid_request", "The return address is not allowed.")
				return
			}
			returnTo = vs[0]
		}
		h.serveLogin(w, r, returnTo, &o)
	})
}

// StartLogin starts a sign-in from the application's own handler, with
// parameters it chose for this request (a login_hint it knows, the
// IdentityProvider for the user's email domain): it sets the login's flow
// cookie on w and redirects (302) to the provider's authorization endpoint,
// as Login does, to come back to returnTo, a same-origin path.
//
// It writes nothing and returns an error wrapping ErrInvalidReturnTo for an
// unsafe returnTo, an error for invalid options, or one wrapping
// ErrProviderUnavailable while the provider can't be reached (see New).
func (h *Handler) StartLogin(w http.ResponseWriter, r *http.Request, returnTo string, o LoginOptions) error {
	if err := checkReturnTo(returnTo); err != nil {
		return err
	}
	if err := o.validate(); err != nil {
		return err
	}
	return h.startLogin(w, r, returnTo, &o)
}

// serveLogin starts a login with checked arguments, answering 503 while the
// provider is unavailable.
func (h *Handler) serveLogin(w http.ResponseWriter, r *http.Request, returnTo string, o *LoginOptions) {
	if err := h.startLogin(w, r, returnTo, o); err != nil {
		h.cfg.Logger.Error("authflow: login unavailable", slogErr(err))
		httpError(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", "Sign-in is temporarily unavailable. Please try again.")
	}
}

// startLogin makes the login's state, nonce and PKCE verifier, seals them
// with returnTo and what o asks of the authentication in the flow cookie, and
// redirects to the authorization endpoint. It writes nothing when it fails.
func (h *Handler) startLogin(w http.ResponseWriter, r *http.Request, returnTo string, o *LoginOptions) error {
	p, err := h.provider(r.Context())
	if err != nil {
		return err
	}
	f := newFlow(returnTo, h.cfg.Now())
	f.Prompt, f.MaxAge, f.ACRValues = o.Prompt, o.MaxAge, o.ACRValues
	if f.Prompt == "" {
		f.Prompt = h.cfg.AuthParams["prompt"]
	}
	name := h.flowCookieName(f.State)
	http.SetCookie(w, hostCookie(name, h.keys.seal(name, f.marshal()), int(h.cfg.FlowLifetime.Seconds())))
	opts := make([]oauth2.AuthCodeOption, 0, 2+len(h.cfg.AuthParams)+7)
	opts = append(opts, oauth2.S256ChallengeOption(f.Verifier), oauth2.SetAuthURLParam("nonce", f.Nonce))
	for k, v := range h.cfg.AuthParams {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	opts = o.authCodeOptions(opts)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, p.oauth.AuthCodeURL(f.State, opts...), http.StatusFound)
	h.tel.loginStarted(r.Context())
	return nil
}

// RequireRecentLogin is middleware that serves next only to users who
// authenticated at the provider at most maxAge ago (the session's AuthTime,
// with Config.ClockSkew), as before a sensitive action. It includes
// RequireLogin: a request without a session is handled as RequireLogin
// handles it.
//
// A browser navigating (GET or HEAD) to the page with an older
// authentication, or none on record, is sent through a step-up login that
// comes back to the same page: prompt=login and max_age=maxAge (prompt=login
// for providers that ignore max_age), whose ID token
// the callback refuses unless its auth_time shows the new authentication
// (ErrInsufficientAuthentication). Other callers get 401 with
// WWW-Authenticate: Bearer error="insufficient_user_authentication" and
// max_age (RFC 9470 §3), and a JSON body {"error":
// "insufficient_user_authentication"}.
//
// maxAge is whole seconds, at least one; otherwise every request gets 500
// and an error log.
func (h *Handler) RequireRecentLogin(maxAge time.Duration) func(http.Handler) http.Handler {
	req := authnRequirement{maxAge: maxAge, login: LoginOptions{Prompt: "login", MaxAge: maxAge}}
	if maxAge < time.Second {
		req.invalid = errors.New("authflow: RequireRecentLogin: maxAge must be at least one second")
	} else {
		req.invalid = req.login.validate()
	}
	return h.requireAuthentication(req)
}

// RequireACR is middleware that serves next only to users whose
// authentication was of one of the classes values (the session's ACR, the
// ID token's acr claim, OIDC Core §2), such as a multi-factor one. It
// includes RequireLogin, as RequireRecentLogin does.
//
// A browser navigating (GET or HEAD) to the page is sent through a step-up
// login with acr_values=values that comes back to the same page; the
// callback refuses an ID token whose acr is not one of values
// (ErrInsufficientAuthentication). Other callers get 401 with
// WWW-Authenticate: Bearer error="insufficient_user_authentication" and
// acr_values (RFC 9470 §3), and a JSON body. values must be valid
// LoginOptions.ACRValues, at least one; otherwise every request gets 500 and
// an error log.
func (h *Handler) RequireACR(values ...string) func(http.Handler) http.Handler {
	req := authnRequirement{acr: slices.Clone(values), login: LoginOptions{ACRValues: slices.Clone(values)}}
	if len(values) == 0 {
		req.invalid = errors.New("authflow: RequireACR: no values")
	} else {
		req.invalid = req.login.validate()
	}
	return h.requireAuthentication(req)
}

// authnRequirement is what RequireRecentLogin or RequireACR asks of a
// session, and the login that meets it.
type authnRequirement struct {
	maxAge  time.Duration // 0: any
	acr     []string      // nil: any
	login   LoginOptions
	invalid error
}

// met applies the verification core's rules, the callback's, to s.
func (q *authnRequirement) met(s *Session, now time.Time, skew time.Duration) bool {
	if q.maxAge > 0 && !jwt.AuthTimeWithin(s.AuthTime, now, q.maxAge, skew) {
		return false
	}
	return q.acr == nil || jwt.ACRAccepted(s.ACR, q.acr)
}

func (h *Handler) requireAuthentication(q authnRequirement) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		check := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if q.invalid != nil {
				h.cfg.Logger.Error("authflow: step-up misconfigured", slogErr(q.invalid))
				httpError(w, r, http.StatusInternalServerError, "server_error", "This page is not available.")
				return
			}
			if q.met(SessionFrom(r.Context()), h.cfg.Now(), h.cfg.ClockSkew) {
				next.ServeHTTP(w, r)
				return
			}
			h.stepUp(w, r, &q)
		})
		signedIn := h.RequireLogin(check)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if SessionFrom(r.Context()) == nil {
				signedIn.ServeHTTP(w, r)
				return
			}
			check.ServeHTTP(w, r)
		})
	}
}

// stepUp answers a signed-in request whose authentication does not meet q:
// a browser navigation starts q's login, back to the same page; any other
// request gets RFC 9470's 401.
func (h *Handler) stepUp(w http.ResponseWriter, r *http.Request, q *authnRequirement) {
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && !wantsJSON(r) {
		returnTo := r.URL.RequestURI()
		if checkReturnTo(returnTo) != nil {
			returnTo = "/"
		}
		h.serveLogin(w, r, returnTo, &q.login)
		return
	}
	// RFC 9470 §3: the error and what would meet it, as auth-params whose
	// values validate keeps free of '"' and '\'.
	desc := "A different authentication level is required."
	if q.maxAge > 0 {
		desc = "A more recent authentication is required."
	}
	challenge := `Bearer error="insufficient_user_authentication", error_description="` + desc + `"`
	if q.acr != nil {
		challenge += `, acr_values="` + strings.Join(q.acr, " ") + `"`
	}
	if q.maxAge > 0 {
		challenge += `, max_age="` + strconv.FormatInt(int64(q.maxAge/time.Second), 10) + `"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	httpError(w, r, http.StatusUnauthorized, "insufficient_user_authentication", desc)
}
