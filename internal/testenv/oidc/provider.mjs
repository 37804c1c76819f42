// A local OpenID provider for awsauth's tests and demo, built on oidc-provider 9
// (OpenID Certified) so the SDK meets a real OP rather than a mock.
//
// Usage: node provider.mjs [config.json]   (or the JSON in $AWSAUTH_OIDC_CONFIG)
//
// Config (all optional except issuer and clients):
//   host, port            where to listen; port 0 (default) picks a free one, and the
//                         readiness line says which
//   issuer                the public issuer URL; may differ from the listen address
//                         when a proxy sits in front (Go's counting proxy does);
//                         its path, if any, is where the provider is mounted
//                         (a Cognito user pool issuer ends in the pool id)
//   clients               [{client_id, client_secret?, redirect_uris,
//                         post_logout_redirect_uris?, jwks?, grant_types?,
//                         backchannel_logout_uri?,
//                         backchannel_logout_session_required?}]; no
//                         secret = public client; jwks = private_key_jwt with
//                         those public keys; grant_types replaces
//                         authorization_code + refresh_token (client_credentials
//                         alone needs no redirect_uris); backchannel_logout_uri
//                         gets a logout token (OIDC Back-Channel Logout 1.0) when
//                         the user signs out at the end-session endpoint
//   ttl                   seconds: {AccessToken, IdToken, RefreshToken, Session,
//                         Grant, Interaction}
//   rotateRefreshToken    bool
//   confirmLogout         bool; false = the end-session page submits itself
//   resource              resource indicator of the API that gets Cognito-shaped
//                         JWT access tokens (default https://api.example.com)
//   resourceScopes        [scope] that API knows, such as notes/read (default
//                         ["orders/read", "orders/write"])
//   groups                {login: [group]} for cognito:groups (default alice: [admin])
//   jwksPath              the key set's route under the issuer (default /jwks;
//                         Cognito's is /.well-known/jwks.json)
//
// The proxy in front says the issuer's scheme in X-Forwarded-Proto (trusted).
//
// Readiness: one stdout line "oidc-provider listening on HOST:PORT issuer ISSUER".
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';

import Provider, { errors } from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';

// oidc-provider's default in-memory adapter keeps 1,000 entries (sessions,
// grants, codes, access and refresh tokens together) and silently evicts the
// least recently used: with a few hundred signed-in users (internal/soak)
// refresh tokens went and refreshes got invalid_grant ("refresh token not
// found"). The same adapter on a larger store: entries still expire with
// their tokens; the bound only caps a runaway test.
const storage = new LRU({ maxSize: 1_000_000 });

const cfg = JSON.parse(
  process.argv[2] ? fs.readFileSync(process.argv[2], 'utf8') : (process.env.AWSAUTH_OIDC_CONFIG || '{}'),
);
if (!cfg.issuer) throw new Error('config: issuer is required');
if (!Array.isArray(cfg.clients) || cfg.clients.length === 0) throw new Error('config: clients is required');

const host = cfg.host || '127.0.0.1';
const ttl = {
  AccessToken: 600, IdToken: 600, RefreshToken: 86400, Session: 86400, Grant: 86400, Interaction: 600,
  ...cfg.ttl,
};
const resource = cfg.resource || 'https://api.example.com';
const resourceScope = (cfg.resourceScopes || ['orders/read', 'orders/write']).join(' ');
const groups = cfg.groups || { alice: ['admin'] };

// A fresh signing key per start, with a kid, so key-set caching and kid lookup are
// exercised as with a real OP (oidc-provider's built-in dev key has a fixed kid).
// Each start-up phase prints how long it took, so that a start that times out
// shows in its output tail where node was.
const keygenStart = performance.now();
console.log(`oidc-provider: modules loaded after ${Math.round(keygenStart)} ms`);
const jwk = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
console.log(`oidc-provider: signing key generated in ${Math.round(performance.now() - keygenStart)} ms`);
jwk.kid = `k-${crypto.randomBytes(6).toString('hex')}`;
jwk.alg = 'RS256';
jwk.use = 'sig';

function clientAuth(c) {
  if (c.jwks) return { jwks: c.jwks, token_endpoint_auth_method: 'private_key_jwt' };
  if (c.client_secret) return { client_secret: c.client_secret, token_endpoint_auth_method: 'client_secret_basic' };
  return { token_endpoint_auth_method: 'none' };
}

const clients = cfg.clients.map((c) => {
  const grantTypes = c.grant_types || ['authorization_code', 'refresh_token'];
  const code = grantTypes.includes('authorization_code');
  return {
    client_id: c.client_id,
    ...clientAuth(c),
    redirect_uris: code ? c.redirect_uris : [],
    post_logout_redirect_uris: c.post_logout_redirect_uris || [],
    grant_types: grantTypes,
    response_types: code ? ['code'] : [],
    ...(c.backchannel_logout_uri ? {
      backchannel_logout_uri: c.backchannel_logout_uri,
      backchannel_logout_session_required: !!c.backchannel_logout_session_required,
    } : {}),
  };
});

// The stock end-session page asks "Do you want to sign-out?" and needs a click on
// button[name=logout][value=yes]. Cognito's /logout asks nothing, so by default the
// confirmation submits itself the way oidc-provider's own form_post page does.
async function logoutSource(ctx, form) {
  ctx.type = 'html';
  if (cfg.confirmLogout) {
    ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Logout Request</title></head>
<body><h1>Do you want to sign-out from ${ctx.host}?</h1>${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button></body></html>`;
    return;
  }
  const auto = form.replace('</form>', '<input type="hidden" name="logout" value="yes"/></form>');
  ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Signing out</title>
<script>document.addEventListener('DOMContentLoaded', function () { document.forms[0].submit() });</script>
</head><body>${auto}<noscript><button type="submit" form="op.logoutForm">Sign out</button></noscript></body></html>`;
}

const provider = new Provider(cfg.issuer, {
  ...(cfg.jwksPath ? { routes: { jwks: cfg.jwksPath } } : {}),
  clients,
  // As the default's: entries kept clockTolerance (15 s, the default) past expiry.
  adapter: (model) => new MemoryAdapter(model, storage, 15),
  jwks: { keys: [jwk] },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  // Any login is an account; sub is the login so S3 prefixes like alice/ line up.
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          email: `${sub}@example.com`,
          email_verified: true,
          name: sub.charAt(0).toUpperCase() + sub.slice(1),
          preferred_username: sub,
        };
      },
    };
  },
  // openid alone yields the user's attributes, as Cognito's ID token carries every
  // attribute the app client may read whatever the scopes; email and profile are
  // still accepted scopes.
  claims: {
    openid: ['sub', 'email', 'email_verified', 'name', 'preferred_username'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
  },
  scopes: ['openid', 'offline_access', 'email', 'profile'],
  responseTypes: ['code'],
  // Put the scope's claims in the ID token itself, as Cognito does (the spec's
  // default only puts them there when no access token is issued).
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  // Refresh tokens for every code grant, offline_access or not (Cognito's shape),
  // living their own TTL rather than dying with the OP's browser session.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  expiresWithSession: async () => false,
  rotateRefreshToken: !!cfg.rotateRefreshToken,
  ttl,
  // oidc-provider's outgoing requests (back-channel logout tokens) refuse
  // special-use addresses, loopback included, against SSRF; every peer of the
  // tests is on loopback, so this provider drops that dispatcher.
  fetch: (url, options) => {
    const { dispatcher, ...rest } = options;
    return globalThis.fetch(url, rest);
  },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    revocation: { enabled: true },
    // RFC 7662, for bearer.NewIntrospection: any client with a secret may introspect
    // (oidc-provider's default policy); JWT access tokens are refused
    // (unsupported_token_type), opaque ones answered.
    introspection: { enabled: true },
    rpInitiatedLogout: { enabled: true, logoutSource },
    // OIDC Back-Channel Logout 1.0: a logout token POSTed to each client's
    // backchannel_logout_uri at sign-out (with sid when the client requires it).
    backchannelLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // Only a client that sends resource= at the authorize endpoint gets the JWT
      // access token; the code and refresh exchanges then keep that resource.
      defaultResource: async (ctx, client, oneOf) => oneOf,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, indicator) => {
        if (indicator !== resource) throw new errors.InvalidTarget();
        return {
          scope: resourceScope,
          audience: resource,
          accessTokenTTL: ttl.AccessToken,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  // Cognito-shaped access tokens (client_id is already set by oidc-provider); a
  // client-credentials (M2M) token has no user, so no username or groups.
  extraTokenClaims: async (ctx, token) => {
    if (token.kind === 'ClientCredentials' && token.resourceServer) return { token_use: 'access' };
    if (token.kind !== 'AccessToken' || !token.resourceServer) return undefined;
    return {
      token_use: 'access',
      username: token.accountId,
      'cognito:groups': groups[token.accountId] || [],
    };
  },
});

// Errors go to stderr so the Go side can show them in a failing test's output.
for (const event of ['server_error', 'grant.error', 'authorization.error', 'end_session.error', 'revocation.error',
  'backchannel.error']) {
  provider.on(event, (ctx, err) => {
    console.error(`oidc-provider ${event}: ${err?.name}: ${err?.message} ${err?.error_description || ''} ${err?.error_detail || ''}`);
  });
}

// The Go proxy in front sets X-Forwarded-Proto to the issuer's scheme (and
// strips any a client sent), so endpoint URLs say https for an https issuer.
provider.proxy = true;

// Mounted at the issuer's path the way oidc-provider expects of a mount (it
// reads the prefix from req.originalUrl); anything outside it is not ours.
const mountPath = new URL(cfg.issuer).pathname.replace(/\/$/, '');
const app = provider.callback();
function mounted(req, res) {
  if (!mountPath) return app(req, res);
  if (!req.url.startsWith(`${mountPath}/`)) {
    res.statusCode = 404;
    return res.end();
  }
  req.originalUrl = req.url;
  req.url = req.url.slice(mountPath.length);
  return app(req, res);
}

const server = http.createServer(mounted).listen(cfg.port || 0, host, () => {
  const { port } = server.address();
  console.log(`oidc-provider listening on ${host}:${port} issuer ${cfg.issuer}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
