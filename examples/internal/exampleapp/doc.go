// Package exampleapp is what every awsauth example program reads and serves
// the same way, so that each example's own files show only its integration:
// the sign-in settings (flags, each falling back to an environment variable),
// the session store they name, the authflow.Config they make, and an HTTP
// server that stops with its context.
//
// Every example takes these, besides its own:
//
//	-issuer         OIDC_ISSUER          OpenID provider issuer URL (required)
//	-client-id      OIDC_CLIENT_ID       OAuth client id (required)
//	-client-secret  OIDC_CLIENT_SECRET   empty = public client (PKCE only)
//	-redirect-url   OIDC_REDIRECT_URL    default http://LISTEN_ADDR/callback
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
// style and passes authflow.Config and a tokenstore.Store directly.
package exampleapp
