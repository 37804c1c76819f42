// Package authflowtest is for the tests of applications built on awsauth: an
// OpenID provider that runs in the test process (net/http/httptest) and
// signs tokens on keys it generates, and helpers that sign a user in to the
// application through its own authflow handlers, with no browser.
//
// A test starts a Provider, points the application's configuration at it,
// and then either signs a user in, for pages behind authflow.Handler's
// RequireLogin, or mints a bearer token, for APIs behind a bearer.Verifier:
//
//	op := authflowtest.NewProvider(t)
//	h, _ := authflow.New(ctx, authflow.Config{
//		Issuer: op.Issuer(), ClientID: "web", RedirectURL: "https://app.example.com/callback",
//		HTTPClient: op.HTTPClient(), Now: op.Now,
//	})
//	app := newApp(h) // the application's own mux: /login, /callback, /logout, its pages
//	cookie := op.SignIn(t, app, "/login", authflowtest.User{Subject: "alice"})
//	r := httptest.NewRequest("GET", "/orders", nil)
//	r.AddCookie(cookie) // a real session in the application's store
//
//	token := op.AccessToken(authflowtest.Token{User: alice, Scopes: []string{"orders/read"}})
//	r.Header.Set("Authorization", "Bearer "+token)
//
// SignIn runs the production code path: the application's Login handler
// makes its state, nonce and PKCE verifier and sets its flow cookie; the
// provider's authorization endpoint approves the chosen user at once; the
// application's Callback handler redeems the code at the provider's token
// endpoint over loopback HTTP, verifies the ID token, stores the session in
// whatever tokenstore.Store the application uses, and sets its session
// cookie, which SignIn returns.
//
// The provider's tokens have Amazon Cognito's shape (token_use, client_id,
// scope, username, cognito:groups; ID and access tokens; refresh tokens;
// client-credentials tokens for machine-to-machine calls), and it can serve
// a Cognito user pool's own issuer (Options.CognitoPool) so that the
// application's production configuration, bearer.Cognito included, is the
// one under test. Token.Flaw makes the refused variant of any token (expired,
// for another client, from another issuer, signed by a key the provider
// never published, with a broken signature). The provider's clock (Now,
// Advance) lets a test expire tokens without sleeping, so refresh is tested
// in microseconds; RotateKeys rotates its signing key.
//
// The provider is a test double, not a conforming OpenID provider: it
// approves every authorization request at once, accepts any client id and
// does not authenticate clients. It checks what the application's side of
// the protocol must get right: PKCE S256, the redirect_uri, single-use codes,
// the client a code or refresh token was issued to.
package authflowtest
