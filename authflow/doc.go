// Package authflow signs users in with OAuth 2.0 authorization code + PKCE
// (RFC 6749 §4.1, RFC 7636) against Amazon Cognito managed login or any
// OpenID Connect provider, keeps their tokens on the server, refreshes them,
// and guards net/http handlers.
//
// New is the entry point: it reads the provider's discovery document (none
// for a Cognito user pool with Config.Cognito; a provider down at New is
// discovered at first use) and returns the Handler whose methods are the
// endpoints and the middleware.
//
//	h, err := authflow.New(ctx, authflow.Config{Issuer: issuer, ClientID: clientID,
//		RedirectURL: "https://app.example.com/callback", Store: store, OnSessionEnd: users.Evict})
//	mux.Handle("GET /login", h.Login())
//	mux.Handle("GET /callback", h.Callback())
//	mux.Handle("POST /logout", h.Logout())
//	mux.Handle("/app/", h.RequireLogin(app)) // in app: authflow.SessionFrom(r.Context())
//
// The pipeline, in handlers:
//
//   - Login (GET): makes state, nonce and a PKCE verifier, seals them with the
//     return path in a short-lived per-flow cookie, and redirects to the
//     authorization endpoint with code_challenge_method=S256.
//   - Callback (GET): checks state against the flow cookie, the RFC 9207 iss
//     parameter, exchanges the code with the verifier, verifies the ID token
//     (signature, iss, aud, azp, exp, iat, nbf, sub, nonce), stores a new
//     server-side session and sets an opaque session cookie.
//   - RequireLogin (middleware): loads the session, refreshes its tokens near
//     expiry (once for all concurrent callers; across instances through the
//     store's lease), ends it past Config.IdleTimeout or its lifetime, and
//     puts the Session in the request context.
//   - Logout (POST, CSRF-protected): deletes the session, revokes the refresh
//     token, or the access token when there is none (RFC 7009), and
//     redirects through the provider's logout endpoint.
//   - BackChannelLogout (POST, from the provider): OpenID Connect
//     Back-Channel Logout 1.0; verifies the logout token and ends the
//     sessions it names, on every instance sharing the store.
//   - EndUserSessions, Sessions and EndSession (calls): sign a user out
//     everywhere, list their sessions, end one; every login is indexed per
//     user in the store (tokenstore.Indexer).
//
// However a session ends (EndReason: logout, idle, absolute lifetime, a
// refused refresh, back-channel logout, EndUserSessions, EndSession, ...),
// the end is logged with its reason and Config.OnSessionEnd and
// OnSessionEndDetail run.
//   - CSRFProtect (middleware) and CheckCSRF: the same CSRF check Logout
//     makes (Origin and Fetch Metadata, then the session's CSRFToken), for
//     the app's own state-changing forms and scripts.
//   - RequireRecentLogin and RequireACR (middleware): step-up (RFC 9470).
//     A session whose authentication (its auth_time and acr) is too old or
//     of another class sends a browser through a new login and back to the
//     same page, and gets other callers 401 insufficient_user_authentication.
//
// A login's own parameters (prompt, max_age, acr_values, login_hint,
// Cognito's identity_provider, idp_identifier and lang) are the app's choice,
// never the query's: LoginWith serves a login route with fixed LoginOptions,
// StartLogin starts one from the app's handler. What the callback must check
// (prompt=login, max_age, acr_values) is sealed in the flow cookie, and the
// ID token's auth_time and acr are checked against it (OIDC Core §3.1.3.7).
//
// A confidential client authenticates at the token and revocation endpoints
// with Config.ClientSecret, or with Config.ClientAssertionKey
// (private_key_jwt, RFC 7523 §2.2, OIDC Core §9: a JWT signed with the
// client's private key, at providers other than Cognito, which takes client
// secrets only). A service acting on its own behalf, with no user, gets its
// tokens from package authflow/m2m (the client credentials grant).
//
// Cold start (as on AWS Lambda): for a Cognito user pool with
// Config.Cognito, New makes no request; Config.JWKS primes the provider's
// key set (KeySet), so an API on it verifies its first token with no
// request either (see ExampleNew_coldStart).
//
// Tokens never leave the server: the browser holds only a random session id.
// Handler.IDTokenFunc gives other packages (such as awscreds) a function that
// returns a currently valid ID token for one session, refreshing it with the
// context of each call.
package authflow
