package exampleapp

import (
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/pubauth/awsauth/tokenstore"
)

// Env returns getenv(name), or def when that is empty.
func Env(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// Login is the sign-in part of every example's configuration: plain
// settings, which each example puts into its own authflow.Config.
type Login struct {
	Issuer, ClientID, ClientSecret string
	RedirectURL                    string // default "http://" + ListenAddr + "/callback"
	ListenAddr                     string
	CognitoDomain                  string // empty for providers other than Cognito
	// CookieKeys is authflow.Config.CookieKeys: COOKIE_KEY, a ring of one
	// key; nil when unset (authflow then makes a per-process key and warns).
	CookieKeys     [][]byte
	TokenStoreURL  string
	TokenStoreKeys []tokenstore.EncryptionKey // nil: the store keeps records as they are
	// Scopes asked at login; empty leaves authflow's default: openid, plus
	// offline_access where the provider's discovery document lists it.
	Scopes []string

	cookieKey, storeKeys, scopes string
}

// Register adds the sign-in flags to fs, their defaults read through getenv.
func (l *Login) Register(fs *flag.FlagSet, getenv func(string) string) {
	env := func(name, def string) string { return Env(getenv, name, def) }
	fs.StringVar(&l.Issuer, "issuer", env("OIDC_ISSUER", ""), "OpenID provider issuer URL (OIDC_ISSUER)")
	fs.StringVar(&l.ClientID, "client-id", env("OIDC_CLIENT_ID", ""), "OAuth client id (OIDC_CLIENT_ID)")
	fs.StringVar(&l.ClientSecret, "client-secret", env("OIDC_CLIENT_SECRET", ""), "client secret; empty = public client (OIDC_CLIENT_SECRET)")
	fs.StringVar(&l.RedirectURL, "redirect-url", env("OIDC_REDIRECT_URL", ""), "callback URL registered at the provider; default http://LISTEN_ADDR/callback (OIDC_REDIRECT_URL)")
	fs.StringVar(&l.ListenAddr, "listen", env("LISTEN_ADDR", "127.0.0.1:8080"), "listen address (LISTEN_ADDR)")
	fs.StringVar(&l.CognitoDomain, "cognito-domain", env("COGNITO_DOMAIN", ""), "Cognito managed login domain, for sign-out and revocation; empty for other providers (COGNITO_DOMAIN)")
	fs.StringVar(&l.scopes, "scopes", env("OIDC_SCOPES", ""), "space-separated scopes asked at login; empty = openid, plus offline_access where the provider lists it (OIDC_SCOPES)")
	fs.StringVar(&l.cookieKey, "cookie-key", env("COOKIE_KEY", ""), "base64 of 32 random bytes sealing login cookies; share it across instances (COOKIE_KEY)")
	fs.StringVar(&l.TokenStoreURL, "tokenstore", env("TOKENSTORE_URL", "memory://"), "session store: memory://, redis://host:port/db, postgres://..., sqlite://PATH, dynamodb://TABLE?region=R (TOKENSTORE_URL)")
	fs.StringVar(&l.storeKeys, "tokenstore-keys", env("TOKENSTORE_KEYS", ""), "ID:BASE64KEY[,...]: encrypt the session store's records, the first key sealing (TOKENSTORE_KEYS)")
}

// Check completes l after fs.Parse: it requires the issuer and client id,
// defaults the redirect URL, and decodes the keys. It returns every problem,
// naming the environment variables; no key material is in them.
func (l *Login) Check() []error {
	errs := Required("OIDC_ISSUER", l.Issuer, "OIDC_CLIENT_ID", l.ClientID)
	if l.RedirectURL == "" {
		l.RedirectURL = "http://" + l.ListenAddr + "/callback"
	}
	if l.scopes != "" {
		l.Scopes = strings.Fields(l.scopes)
	}
	if l.cookieKey != "" {
		k, err := base64.StdEncoding.DecodeString(l.cookieKey)
		if err != nil || len(k) != 32 {
			errs = append(errs, errors.New("COOKIE_KEY must be base64 of 32 bytes"))
		}
		l.CookieKeys = [][]byte{k}
	}
	if l.storeKeys != "" {
		keys, err := parseStoreKeys(l.storeKeys)
		if err != nil {
			errs = append(errs, err)
		}
		l.TokenStoreKeys = keys
	}
	return errs
}

// parseStoreKeys reads ID:BASE64KEY[,ID:BASE64KEY...].
func parseStoreKeys(s string) ([]tokenstore.EncryptionKey, error) {
	var keys []tokenstore.EncryptionKey
	for i, part := range strings.Split(s, ",") {
		id, b64, ok := strings.Cut(strings.TrimSpace(part), ":")
		secret, err := base64.StdEncoding.DecodeString(b64)
		if !ok || id == "" || err != nil || len(secret) != 32 {
			return nil, fmt.Errorf("TOKENSTORE_KEYS: key %d must be ID:base64 of 32 bytes", i+1)
		}
		keys = append(keys, tokenstore.EncryptionKey{ID: id, Secret: secret})
	}
	return keys, nil
}

// Required returns an error for each empty value of the (name, value) pairs.
func Required(nameValue ...string) []error {
	var errs []error
	for i := 0; i+1 < len(nameValue); i += 2 {
		if nameValue[i+1] == "" {
			errs = append(errs, fmt.Errorf("%s (or its flag) is required", nameValue[i]))
		}
	}
	return errs
}
