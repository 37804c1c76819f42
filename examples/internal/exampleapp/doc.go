// Package exampleapp is what every awsauth example program reads and serves
// the same way, so that each example's own files show its whole wiring with
// public packages: authflow.New and its Config, the awscreds providers and
// UserCache, the AWS SDK's configuration and the routes. This package builds
// none of those. It reads the sign-in settings into a plain struct (Login:
// flags, each falling back to an environment variable), opens the session
// store they name, serves HTTP until a context ends, and writes JSON.
//
// Every example takes these, besides its own:
//
//	-issuer         OIDC_ISSUER          OpenID provider issuer URL (required)
//	-client-id      OIDC_CLIENT_ID       OAuth client id (required)
//	-client-secret  OIDC_CLIENT_SECRET   empty = public client (PKCE only)
//	-redirect-url   OIDC_REDIRECT_URL    default http://LISTEN_ADDR/callback
//	-scopes         OIDC_SCOPES          space-separated; empty = openid, plus
//	                                     offline_access where the provider lists it
//	-listen         LISTEN_ADDR          default 127.0.0.1:8080
//	-cognito-domain COGNITO_DOMAIN       Cognito managed login domain (logout, revocation)
//	-cookie-key     COOKIE_KEY           base64 of 32 bytes; share it across instances
//	-tokenstore     TOKENSTORE_URL       memory:// (default), redis://, postgres://,
//	                                     sqlite://PATH, dynamodb://TABLE (package storeurl)
//	-tokenstore-keys TOKENSTORE_KEYS     ID:BASE64KEY[,ID:BASE64KEY...]: seal the store's
//	                                     records with tokenstore.NewEncrypted; the first
//	                                     key seals, all open
//
// It is internal to the examples: an application has its own configuration
// style and fills authflow.Config from it, as each example's app.go does.
package exampleapp
