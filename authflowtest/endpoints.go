package authflowtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/pubauth/awsauth/pkce"
)

// The provider's endpoints, at Cognito's paths (relative to the managed
// login domain, or to the issuer of a generic provider).
const (
	authorizePath = "/oauth2/authorize"
	tokenPath     = "/oauth2/token"
	revokePath    = "/oauth2/revoke"
	logoutPath    = "/logout"
)

func (p *Provider) handler() http.Handler {
	mux := http.NewServeMux()
	// The issuer's path is known only once the server runs (generic) or from
	// the pool; the well-known documents are matched by suffix below.
	mux.HandleFunc("GET "+authorizePath, p.authorize)
	mux.HandleFunc("POST "+tokenPath, p.token)
	mux.HandleFunc("POST "+revokePath, p.revoke)
	mux.HandleFunc("GET "+logoutPath, p.logout)
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case p.issuerPath + "/.well-known/openid-configuration":
			p.discovery(w, r)
		case p.issuerPath + "/.well-known/jwks.json":
			p.mu.Lock()
			b := p.jwks()
			p.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.Write(b)
		default:
			http.NotFound(w, r)
		}
	})
	return mux
}

// discovery serves the OpenID Provider Metadata (OpenID Connect Discovery
// 1.0 §3). A Cognito pool's names no revocation or end-session endpoint and
// does not advertise RFC 9207's iss parameter, as Cognito's does not.
func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	d := map[string]any{
		"issuer":                                p.issuer,
		"authorization_endpoint":                p.endpoints + authorizePath,
		"token_endpoint":                        p.endpoints + tokenPath,
		"jwks_uri":                              p.issuer + "/.well-known/jwks.json",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "email", "profile"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "none"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token", "client_credentials"},
	}
	if p.opts.CognitoPool == nil {
		d["code_challenge_methods_supported"] = []string{"S256"}
		d["revocation_endpoint"] = p.endpoints + revokePath
		d["end_session_endpoint"] = p.endpoints + logoutPath
		d["authorization_response_iss_parameter_supported"] = true
	}
	writeJSON(w, http.StatusOK, d)
}

// authorize approves the authorization request (RFC 6749 §4.1.1, with PKCE
// S256, RFC 7636 §4.3) at once for SignIn's user, or Options.User, and
// redirects to redirect_uri with the code, the state and (generic
// provider) iss (RFC 9207). A request it can't answer gets 400.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	switch {
	case err != nil || !redirect.IsAbs() || redirect.Fragment != "":
		http.Error(w, "authflowtest: redirect_uri must be an absolute URL", http.StatusBadRequest)
		return
	case q.Get("response_type") != "code" || q.Get("client_id") == "" || q.Get("state") == "":
		http.Error(w, "authflowtest: response_type=code, client_id and state are required", http.StatusBadRequest)
		return
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		http.Error(w, "authflowtest: PKCE with code_challenge_method=S256 is required", http.StatusBadRequest)
		return
	case !slices.Contains(strings.Fields(q.Get("scope")), "openid"):
		http.Error(w, "authflowtest: scope must contain openid", http.StatusBadRequest)
		return
	}
	u, ok := r.Context().Value(userKey{}).(User)
	code := randomString(24)
	p.mu.Lock()
	if !ok {
		u = p.opts.User
	}
	p.codes[code] = &grant{
		user: p.user(u), clientID: q.Get("client_id"), scopes: strings.Fields(q.Get("scope")),
		redirectURI: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), nonce: q.Get("nonce"),
		sid: randomString(12), authTime: p.now,
	}
	p.mu.Unlock()
	back := redirect.Query()
	back.Set("code", code)
	back.Set("state", q.Get("state"))
	if p.opts.CognitoPool == nil {
		back.Set("iss", p.issuer)
	}
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// token is the token endpoint (RFC 6749 §3.2): authorization_code (§4.1.3,
// with PKCE's code_verifier), refresh_token (§6) and client_credentials
// (§4.4). The client id comes from HTTP Basic authentication or the
// client_id parameter; no secret is checked.
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	f := r.PostForm
	client := f.Get("client_id")
	if id, _, ok := r.BasicAuth(); ok {
		client, _ = url.QueryUnescape(id) // RFC 6749 §2.3.1
	}
	grantType := f.Get("grant_type")
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts[grantType]++
	if client == "" {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	switch grantType {
	case "authorization_code":
		g := p.codes[f.Get("code")]
		switch {
		case g == nil || g.clientID != client || g.redirectURI != f.Get("redirect_uri") ||
			!pkce.Verify(f.Get("code_verifier"), g.challenge):
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		case g.used:
			// RFC 6749 §4.1.2: a code used twice revokes what it gave.
			p.revokeGrant(g)
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		g.used = true
		writeJSON(w, http.StatusOK, p.issue(g, g.nonce, true))
	case "refresh_token":
		rt := f.Get("refresh_token")
		g := p.refresh[rt]
		if g == nil || g.clientID != client {
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		if p.opts.RotateRefreshTokens {
			delete(p.refresh, rt)
		}
		writeJSON(w, http.StatusOK, p.issue(g, "", p.opts.RotateRefreshTokens))
	case "client_credentials":
		c := p.accessClaims(client, strings.Fields(f.Get("scope")), p.now)
		c["sub"] = client
		delete(c, "auth_time")
		writeJSON(w, http.StatusOK, map[string]any{
			"access_token": p.signToken(p.accessHeader(), c, Token{}),
			"token_type":   "Bearer", "expires_in": int(p.opts.TokenLifetime.Seconds()),
		})
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
	}
}

// issue is the token response of grant g (RFC 6749 §5.1, OIDC Core
// §3.1.3.3): access and ID tokens, and a new refresh token when
// newRefresh. The caller holds p.mu.
func (p *Provider) issue(g *grant, nonce string, newRefresh bool) map[string]any {
	c := p.accessClaims(g.clientID, g.scopes, p.now)
	c["sub"], c["username"], c["auth_time"] = g.user.Subject, g.user.username(), g.authTime.Unix()
	if len(g.user.Groups) > 0 {
		c["cognito:groups"] = g.user.Groups
	}
	resp := map[string]any{
		"access_token": p.signToken(p.accessHeader(), c, Token{}),
		"id_token":     p.signToken(map[string]any{"typ": "JWT"}, p.idClaims(g, nonce), Token{}),
		"token_type":   "Bearer",
		"expires_in":   int(p.opts.TokenLifetime.Seconds()),
	}
	if newRefresh {
		rt := randomString(32)
		p.refresh[rt] = g
		resp["refresh_token"] = rt
	}
	return resp
}

// revoke is the revocation endpoint (RFC 7009 §2): a refresh token ends its
// whole grant. An unknown token is success too (§2.2).
func (p *Provider) revoke(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	p.mu.Lock()
	if g := p.refresh[r.PostForm.Get("token")]; g != nil {
		p.revokeGrant(g)
	}
	p.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// revokeGrant deletes every refresh token of g; the caller holds p.mu.
func (p *Provider) revokeGrant(g *grant) {
	for rt, rg := range p.refresh {
		if rg == g {
			delete(p.refresh, rt)
		}
	}
}

// logout ends the provider's session: OIDC RP-Initiated Logout 1.0's
// post_logout_redirect_uri, or Cognito's logout_uri, is where it sends the
// browser (303); without either it answers 200.
func (p *Provider) logout(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for _, name := range []string{"post_logout_redirect_uri", "logout_uri"} {
		if u := q.Get(name); u != "" {
			http.Redirect(w, r, u, http.StatusSeeOther)
			return
		}
	}
	w.Write([]byte("signed out\n"))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// oauthError writes an RFC 6749 §5.2 error response.
func oauthError(w http.ResponseWriter, status int, code string) {
	writeJSON(w, status, map[string]string{"error": code})
}
