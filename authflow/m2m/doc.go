// Package m2m gets access tokens for a service acting on its own behalf:
// the OAuth 2.0 client credentials grant (RFC 6749 §4.4), from an Amazon
// Cognito user pool or any OpenID Connect provider, cached and refreshed
// early, once for all concurrent callers, with each caller's context.
//
//	src, err := m2m.New(ctx, m2m.Config{
//		TokenURL:     m2m.CognitoTokenURL("myapp.auth.eu-west-1.amazoncognito.com"),
//		ClientID:     clientID,
//		ClientSecret: clientSecret,
//		Scopes:       []string{"orders/read"},
//	})
//	api := &http.Client{Transport: src.Transport(nil)} // sends Authorization: Bearer <token>
//	tok, err := src.Token(ctx)                         // or the token itself
//
// The token request itself is golang.org/x/oauth2/clientcredentials's. What
// this package adds is the cache around it: x/oauth2's TokenSource (and
// oauth2.ReuseTokenSourceWithExpiry) takes no context per call, keeps the one
// it was made with, and makes concurrent callers queue on a mutex that none
// of them can leave. Source.Token takes the caller's ctx, shares one token
// request among all callers (single flight, bounded by Config.Timeout and
// not cancelled when one caller gives up), and refreshes ExpiryWindow before
// the token expires; while a refresh fails, callers keep the current token
// until it actually expires.
//
// # Amazon Cognito
//
// A user pool issues client-credentials tokens at its domain's token
// endpoint, https://<domain>/oauth2/token (CognitoTokenURL), to an app client
// that has a client secret, the client_credentials OAuth flow and custom
// scopes of a resource server ("orders/read": <resource server id>/<scope>);
// only such scopes can be requested, and without Scopes Cognito grants all
// of the client's. The access token has sub = client_id, token_use access,
// scope, and no username, groups or refresh token. Cognito authenticates
// clients with their secret only (client_secret_basic or client_secret_post):
// it does not support private_key_jwt. See
// https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-define-resource-servers.html
// and https://docs.aws.amazon.com/cognito/latest/developerguide/token-endpoint.html.
//
// Cognito also has the GetClientToken API operation (cognito-idp; an app
// client with a secret and the ALLOW_CLIENT_TOKEN_AUTH flow, which then can
// have no user sign-in flow): the same M2M access token over the AWS JSON
// API instead of the OAuth token endpoint, with no user pool domain needed
// (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_GetClientToken.html).
// This package does not call it, so that its importers compile no
// cognito-idp client: set Config.Fetch to a function that calls it with your
// aws-sdk-go-v2 cognitoidentityprovider client, and Source caches and
// refreshes its tokens like the token endpoint's.
//
// # Other providers
//
// Config.Issuer finds the token_endpoint by OpenID Connect Discovery. Extra
// token request parameters go in Config.EndpointParams, such as an RFC 8707
// resource indicator ("resource") or Auth0's "audience".
//
// Config.ClientAssertionKey authenticates the client with private_key_jwt
// instead of a secret (RFC 7523 §2.2, OpenID Connect Core 1.0 §9): each
// token request carries a new JWT signed with the client's private key, iss
// and sub the client ID, aud the token endpoint, a unique jti, a one-minute
// exp. The login flow (package authflow) uses the same signer.
package m2m
