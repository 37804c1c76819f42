package testenv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pubauth/awsauth/internal/cognito"
	"github.com/pubauth/awsauth/internal/testenv/internal/peer"
)

// DefaultAPIResource is the resource indicator for which the OpenID provider
// issues Cognito-shaped JWT access tokens when OIDCConfig.APIResource is empty.
const DefaultAPIResource = "https://api.example.com"

// DefaultAPIScopes are the scopes (space-separated) the API resource knows
// when OIDCConfig.APIScopes is nil.
const DefaultAPIScopes = "orders/read orders/write"

// OIDCClient is an OAuth client registered at the OpenID provider. It may use
// the authorization_code and refresh_token grants, or GrantTypes.
type OIDCClient struct {
	ID string
	// Secret authenticates the client with client_secret_basic; empty makes it a
	// public client (token_endpoint_auth_method none). PKCE S256 is always required.
	Secret                 string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	// JWKS, when set, is the client's public JWK Set (JSON, {"keys":[...]}) and
	// makes it authenticate with private_key_jwt (RFC 7523 §2.2) at the token,
	// revocation and introspection endpoints instead of Secret.
	JWKS []byte
	// GrantTypes, when set, replaces authorization_code and refresh_token; with
	// only "client_credentials" (RFC 6749 §4.4) the client needs no redirect URI.
	// A client_credentials request with resource=APIResource gets a JWT access
	// token like Cognito's M2M tokens (token_use access, client_id, scope).
	GrantTypes []string
	// BackchannelLogoutURI, when set, is the client's backchannel_logout_uri
	// (OpenID Connect Back-Channel Logout 1.0 §2.2): the provider POSTs a
	// logout token there when the user signs out at its end-session endpoint.
	// BackchannelLogoutSessionRequired makes the provider put sid in ID tokens
	// and logout tokens.
	BackchannelLogoutURI             string
	BackchannelLogoutSessionRequired bool
}

// OIDCConfig configures StartOIDC.
type OIDCConfig struct {
	Clients []OIDCClient
	// Token lifetimes; zero means 10m, 10m and 24h.
	AccessTokenTTL, IDTokenTTL, RefreshTokenTTL time.Duration
	// RotateRefreshToken makes every refresh return a new refresh token and
	// retire the old one (reusing it then revokes the whole grant).
	RotateRefreshToken bool
	// ConfirmLogout keeps the provider's end-session confirmation page
	// ("Yes, sign me out"; see ProviderConfirmLogout). By default the page submits
	// itself, as Cognito's /logout asks nothing.
	ConfirmLogout bool
	// APIResource is the resource indicator (RFC 8707) that gets JWT access
	// tokens shaped like Cognito's (token_use, client_id, username,
	// cognito:groups, scope: those of APIScopes asked for, aud = the
	// resource), for a client that sends resource=APIResource to the
	// authorization endpoint (or, with client credentials, the token
	// endpoint). Empty means DefaultAPIResource.
	APIResource string
	// APIScopes are the scopes APIResource knows, like a Cognito resource
	// server's custom scopes ("notes/read"), each an RFC 6749 §3.3
	// scope-token. Nil means DefaultAPIScopes.
	APIScopes []string
	// Groups maps a login to its cognito:groups claim; nil means alice: [admin].
	Groups map[string][]string
	// Port is the issuer's port; 0 picks a free one. A fixed port gives a
	// person stable URLs (make dev).
	Port int
	// IssuerURL, when set, is the public issuer in place of the proxy's
	// http://127.0.0.1:PORT: an absolute http or https URL without user info,
	// query, fragment or trailing slash, such as a Cognito user pool's
	// https://issuer-cognito-idp.<region>.amazonaws.com/<pool id>. Its path is
	// where the provider is mounted (discovery at IssuerURL +
	// "/.well-known/openid-configuration"), and the proxy tells the provider
	// its scheme (X-Forwarded-Proto). Nothing resolves its host: clients reach
	// it through OIDCProvider.Transport. A Cognito user pool issuer of either
	// type also gets its key set where Cognito serves it,
	// <issuer>/.well-known/jwks.json, so that a verifier finds it without
	// discovery.
	IssuerURL string
}

// OIDCProvider is a running OpenID provider: oidc-provider on node, behind a Go
// reverse proxy that counts token requests. Its dev login form takes any login
// with any password; the account's sub is the login, its email
// <login>@example.com (verified), its name the capitalized login. It serves
// token revocation (RFC 7009) and introspection (RFC 7662, to a client with a
// secret; opaque access tokens only) at the endpoints its discovery names.
type OIDCProvider struct {
	// Issuer is the proxy's URL, http://127.0.0.1:PORT with no trailing slash,
	// or OIDCConfig.IssuerURL when set (reach it through Transport);
	// discovery is at Issuer + "/.well-known/openid-configuration".
	Issuer string

	addr   string   // the proxy's loopback host:port
	public *url.URL // Issuer, parsed: its path is the provider's mount path

	procMu        sync.Mutex
	proc          *peer.Process
	node, dir     string
	conf          []byte
	target        atomic.Pointer[url.URL] // node's address, behind the proxy
	server        *http.Server
	tokenRequests atomic.Int64

	redeemMu sync.Mutex
	redeemed map[[32]byte]int // refresh_token grants by SHA-256 of the token
	reuses   int64            // refresh_token grants of a token already presented
	stopOnce sync.Once
	stopErr  error
}

// opConfig is what provider.mjs reads (see its header).
type opConfig struct {
	Host               string              `json:"host"`
	Port               int                 `json:"port"`
	Issuer             string              `json:"issuer"`
	Clients            []opClient          `json:"clients"`
	TTL                map[string]int64    `json:"ttl"`
	RotateRefreshToken bool                `json:"rotateRefreshToken"`
	ConfirmLogout      bool                `json:"confirmLogout"`
	Resource           string              `json:"resource,omitempty"`
	ResourceScopes     []string            `json:"resourceScopes"`
	Groups             map[string][]string `json:"groups,omitempty"`
	JWKSPath           string              `json:"jwksPath,omitempty"`
}

type opClient struct {
	ClientID               string          `json:"client_id"`
	ClientSecret           string          `json:"client_secret,omitempty"`
	RedirectURIs           []string        `json:"redirect_uris"`
	PostLogoutRedirectURIs []string        `json:"post_logout_redirect_uris"`
	JWKS                   json.RawMessage `json:"jwks,omitempty"`
	GrantTypes             []string        `json:"grant_types,omitempty"`
	BackchannelLogoutURI   string          `json:"backchannel_logout_uri,omitempty"`
	BackchannelSessionReq  bool            `json:"backchannel_logout_session_required,omitempty"`
}

var opListening = regexp.MustCompile(`^oidc-provider listening on 127\.0\.0\.1:(\d+) `)

// StartOIDC starts the OpenID provider and returns once its discovery document
// answers through the proxy. ctx bounds the start only.
func StartOIDC(ctx context.Context, cfg OIDCConfig) (*OIDCProvider, error) {
	if len(cfg.Clients) == 0 {
		return nil, errors.New("testenv: StartOIDC needs at least one client")
	}
	// oidc-provider checks static clients only when they are first used.
	for _, c := range cfg.Clients {
		if c.ID == "" || len(c.RedirectURIs) == 0 && !slices.Equal(c.GrantTypes, []string{"client_credentials"}) {
			return nil, fmt.Errorf("testenv: OIDC client %q needs an ID and a redirect URI", c.ID)
		}
	}
	node, err := peer.FindBinary("AWSAUTH_NODE", "", "node", "nodejs")
	if err != nil {
		return nil, err
	}
	dir, err := oidcDir()
	if err != nil {
		return nil, err
	}

	// The proxy's listener is opened first, and kept, so the issuer's port is ours.
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Port)))
	if err != nil {
		return nil, fmt.Errorf("testenv: listen for the OpenID provider: %w", err)
	}
	issuer := "http://" + ln.Addr().String()
	if cfg.IssuerURL != "" {
		issuer = cfg.IssuerURL
	}
	iu, err := parseIssuerURL(issuer)
	if err != nil {
		ln.Close()
		return nil, err
	}

	conf, err := json.Marshal(opConfigFor(cfg, issuer))
	if err != nil {
		ln.Close()
		return nil, err
	}
	p := &OIDCProvider{Issuer: issuer, addr: ln.Addr().String(), public: iu, node: node, dir: dir, conf: conf}
	ctx, cancel := context.WithTimeout(ctx, peer.StartTimeout)
	defer cancel()
	if err := p.startNode(ctx); err != nil {
		ln.Close()
		return nil, err
	}
	p.server = &http.Server{
		Handler:           p.proxy(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go p.server.Serve(ln)

	if err := p.process().WaitHTTP(ctx, "http://"+p.addr+iu.Path+"/.well-known/openid-configuration"); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

func opConfigFor(cfg OIDCConfig, issuer string) opConfig {
	orDefault := func(d, def time.Duration) int64 {
		if d <= 0 {
			d = def
		}
		return int64(d / time.Second)
	}
	rt := orDefault(cfg.RefreshTokenTTL, 24*time.Hour)
	c := opConfig{
		Host:   "127.0.0.1",
		Issuer: issuer,
		TTL: map[string]int64{
			"AccessToken":  orDefault(cfg.AccessTokenTTL, 10*time.Minute),
			"IdToken":      orDefault(cfg.IDTokenTTL, 10*time.Minute),
			"RefreshToken": rt,
			// The browser session and the grant must outlive the refresh token,
			// or refreshes would fail before the refresh token's own expiry.
			"Session":     rt,
			"Grant":       rt,
			"Interaction": 600,
		},
		RotateRefreshToken: cfg.RotateRefreshToken,
		ConfirmLogout:      cfg.ConfirmLogout,
		Resource:           cfg.APIResource,
		ResourceScopes:     cfg.APIScopes,
		Groups:             cfg.Groups,
	}
	if c.ResourceScopes == nil {
		c.ResourceScopes = strings.Fields(DefaultAPIScopes)
	}
	if _, ok := cognito.ParseIssuer(issuer); ok {
		c.JWKSPath = strings.TrimPrefix(cognito.JWKSURL(issuer), issuer)
	}
	for _, cl := range cfg.Clients {
		c.Clients = append(c.Clients, opClient{
			ClientID:               cl.ID,
			ClientSecret:           cl.Secret,
			RedirectURIs:           cl.RedirectURIs,
			PostLogoutRedirectURIs: append([]string{}, cl.PostLogoutRedirectURIs...),
			JWKS:                   cl.JWKS,
			GrantTypes:             cl.GrantTypes,
			BackchannelLogoutURI:   cl.BackchannelLogoutURI,
			BackchannelSessionReq:  cl.BackchannelLogoutSessionRequired,
		})
	}
	return c
}

// startNode starts node with p's configuration and points the proxy at it.
func (p *OIDCProvider) startNode(ctx context.Context) error {
	cmd := exec.Command(p.node, "provider.mjs")
	cmd.Dir = p.dir
	cmd.Env = peer.Environ([]string{"AWSAUTH_OIDC_", "NODE_OPTIONS="}, "AWSAUTH_OIDC_CONFIG="+string(p.conf))
	proc, err := peer.Start("oidc-provider", cmd, peer.NewOutput(opListening))
	if err != nil {
		return err
	}
	// node listens on a port it picks itself (no race) and says which.
	m, err := proc.WaitLine(ctx, 0)
	if err != nil {
		proc.Stop()
		return err
	}
	target, _ := url.Parse("http://127.0.0.1:" + m[1])
	p.procMu.Lock()
	p.proc = proc
	p.procMu.Unlock()
	p.target.Store(target)
	return nil
}

// Restart stops the provider's process and starts a new one behind the same
// issuer (the proxy keeps its address), as a redeploy does: oidc-provider
// keeps grants, codes, sessions and refresh tokens in memory, so all are
// lost, and its signing key is new (a new kid). Token requests counted so
// far stay counted. ctx bounds the start.
func (p *OIDCProvider) Restart(ctx context.Context) error {
	p.procMu.Lock()
	old := p.proc
	p.procMu.Unlock()
	if err := old.Stop(); err != nil {
		return fmt.Errorf("testenv: stopping the OpenID provider: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, peer.StartTimeout)
	defer cancel()
	if err := p.startNode(ctx); err != nil {
		return err
	}
	return p.process().WaitHTTP(ctx, "http://"+p.addr+p.public.Path+"/.well-known/openid-configuration")
}

func (p *OIDCProvider) process() *peer.Process {
	p.procMu.Lock()
	defer p.procMu.Unlock()
	return p.proc
}

// proxy forwards to node, keeping the Host header: oidc-provider builds its
// endpoint URLs from it, and they must name the issuer's address.
func (p *OIDCProvider) proxy() http.Handler {
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(p.target.Load())
			r.Out.Host = r.In.Host
			// The proxy is the issuer's front: its scheme is the issuer's.
			r.Out.Header.Set("X-Forwarded-Proto", p.public.Scheme)
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, "testenv proxy: "+err.Error(), http.StatusBadGateway)
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// oidc-provider's default token route.
		if r.Method == http.MethodPost && r.URL.Path == p.public.Path+"/token" {
			p.tokenRequests.Add(1)
			if err := p.countRefresh(r); err != nil {
				http.Error(w, "testenv proxy: "+err.Error(), http.StatusBadRequest)
				return
			}
		}
		rp.ServeHTTP(w, r)
	})
}

// oidcDir finds the node project: $AWSAUTH_OIDC_DIR, else the oidc directory
// beside this source file (the module's own tree, as with go test and go run).
func oidcDir() (string, error) {
	dir := os.Getenv("AWSAUTH_OIDC_DIR")
	if dir == "" {
		_, file, _, ok := runtime.Caller(0)
		if !ok {
			return "", errors.New("testenv: cannot locate internal/testenv/oidc; set AWSAUTH_OIDC_DIR")
		}
		dir = filepath.Join(filepath.Dir(file), "oidc")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider", "package.json")); err != nil {
		return "", fmt.Errorf("testenv: oidc-provider is not installed in %s: run scripts/deps.sh", dir)
	}
	return dir, nil
}

// TokenRequests returns how many POSTs reached the token endpoint so far.
func (p *OIDCProvider) TokenRequests() int64 { return p.tokenRequests.Load() }

// maxTokenRequest bounds the token request bodies the proxy reads to count
// refresh tokens; real ones are a few kilobytes.
const maxTokenRequest = 64 << 10

// countRefresh reads a token request's form, counts a refresh_token grant
// under the token's hash, and puts the body back for the provider.
func (p *OIDCProvider) countRefresh(r *http.Request) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxTokenRequest+1))
	r.Body.Close()
	if err != nil {
		return err
	}
	if len(body) > maxTokenRequest {
		return errors.New("token request body too large")
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("grant_type") != "refresh_token" {
		return nil // the provider answers what it makes of it
	}
	h := sha256.Sum256([]byte(form.Get("refresh_token")))
	p.redeemMu.Lock()
	defer p.redeemMu.Unlock()
	if p.redeemed == nil {
		p.redeemed = make(map[[32]byte]int)
	}
	p.redeemed[h]++
	if p.redeemed[h] > 1 {
		p.reuses++
	}
	return nil
}

// RefreshRedeems returns how many refresh_token grants reached the token
// endpoint so far, and how many of them presented a refresh token that an
// earlier grant had already presented: a double redeem, which with
// OIDCConfig.RotateRefreshToken revokes the whole grant (RFC 9700 §4.14.2).
func (p *OIDCProvider) RefreshRedeems() (total, reused int64) {
	p.redeemMu.Lock()
	defer p.redeemMu.Unlock()
	for _, n := range p.redeemed {
		total += int64(n)
	}
	return total, p.reuses
}

// Logs returns the tail of the provider's output (errors land there).
func (p *OIDCProvider) Logs() string { return p.process().Logs() }

// Stop stops the proxy and the provider; safe to call more than once.
func (p *OIDCProvider) Stop() error {
	p.stopOnce.Do(func() {
		var err error
		if p.server != nil {
			err = p.server.Close()
		}
		p.stopErr = errors.Join(err, p.process().Stop())
	})
	return p.stopErr
}

// parseIssuerURL checks an issuer for StartOIDC: an absolute http or https
// URL without user info, query, fragment, trailing slash or escapes.
func parseIssuerURL(issuer string) (*url.URL, error) {
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || strings.HasSuffix(issuer, "/") || u.EscapedPath() != u.Path {
		return nil, fmt.Errorf("testenv: issuer %q is not an http(s) URL without user info, query, fragment or trailing slash", issuer)
	}
	return u, nil
}

// Transport returns an http.RoundTripper that carries each request for the
// issuer's origin (its scheme, host and port, exactly) to the provider's proxy
// on loopback over plain HTTP, with the issuer's host in the Host header, and
// refuses every other request. With OIDCConfig.IssuerURL it is the only way to
// the provider; its refusal shows that a client sends nothing elsewhere.
// Responses carry the request as it was made (Response.Request), so relative
// URLs and redirects resolve on the issuer's origin. Test use only: the
// issuer's https is not TLS here.
func (p *OIDCProvider) Transport() http.RoundTripper {
	return issuerTransport{origin: p.public.Scheme + "://" + p.public.Host, addr: p.addr}
}

type issuerTransport struct{ origin, addr string }

func (t issuerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme+"://"+req.URL.Host != t.origin {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("testenv: %s://%s is not the provider's origin %s", req.URL.Scheme, req.URL.Host, t.origin)
	}
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host, out.Host = "http", t.addr, req.URL.Host
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	resp.Request = req
	return resp, nil
}
