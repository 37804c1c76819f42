package authflow_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/pubauth/awsauth/authflow"
)

// newCognitoHandler is a Handler for a Cognito user pool with its domain,
// which needs no request to start a login.
func newCognitoHandler() *authflow.Handler {
	issuer, err := authflow.CognitoIssuer(authflow.CognitoPool{ID: "eu-west-1_AbCdEfGhI"})
	if err != nil {
		log.Fatal(err)
	}
	h, err := authflow.New(context.Background(), authflow.Config{
		Issuer:      issuer,
		ClientID:    "1example23456789abcdefghij",
		RedirectURL: "https://app.example.com/callback",
		Cognito:     &authflow.Cognito{Domain: "myapp.auth.eu-west-1.amazoncognito.com"},
		CookieKeys:  [][]byte{[]byte("0123456789abcdef0123456789abcdef")}, // from your secret store
		HTTPClient:  &http.Client{Transport: &network{}},
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	return h
}

// A "Sign in with Google" button: a login route of its own sends the
// browser past Cognito's sign-in page straight to the pool's Google
// provider, with the managed login pages in French. The query can choose
// only return_to.
func ExampleHandler_LoginWith() {
	h := newCognitoHandler()
	mux := http.NewServeMux()
	mux.Handle("GET /login", h.Login())
	mux.Handle("GET /login/google", h.LoginWith(authflow.LoginOptions{IdentityProvider: "Google", Lang: "fr"}))

	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/login/google?return_to=/orders&identity_provider=Evil", nil))
	u, _ := url.Parse(w.Header().Get("Location"))
	fmt.Println(w.Code, u.Host+u.Path)
	fmt.Println("identity_provider:", u.Query().Get("identity_provider"), "lang:", u.Query().Get("lang"))
	// Output:
	// 302 myapp.auth.eu-west-1.amazoncognito.com/oauth2/authorize
	// identity_provider: Google lang: fr
}

// Home realm discovery: the app's own sign-in form asks for an email
// address, and the app picks the user's identity provider from its own list
// of company domains (never from the request as such), with the address as
// login_hint.
func ExampleHandler_StartLogin() {
	h := newCognitoHandler()
	companies := map[string]bool{"example.com": true} // domains with a federated provider in the pool
	signIn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		email := r.PostFormValue("email")
		o := authflow.LoginOptions{LoginHint: email}
		if _, domain, ok := strings.Cut(email, "@"); ok && companies[domain] {
			o.IDPIdentifier = domain
		}
		if err := h.StartLogin(w, r, "/", o); err != nil {
			http.Error(w, "Sign-in is not available.", http.StatusServiceUnavailable)
		}
	})

	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/signin", strings.NewReader("email=alice%40example.com"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	signIn.ServeHTTP(w, r)
	u, _ := url.Parse(w.Header().Get("Location"))
	fmt.Println(w.Code, "idp_identifier:", u.Query().Get("idp_identifier"), "login_hint:", u.Query().Get("login_hint"))
	// Output:
	// 302 idp_identifier: example.com login_hint: alice@example.com
}

// Pages that ask more of a sign-in than RequireLogin: changing the password
// needs an authentication of the last five minutes, the admin pages a
// multi-factor one (the acr values are the provider's). A browser that lacks
// it goes through a step-up login and comes back to the page; an API or XHR
// caller gets 401 with WWW-Authenticate: Bearer
// error="insufficient_user_authentication" and max_age or acr_values
// (RFC 9470), for its own UI to start that login.
func ExampleHandler_RequireRecentLogin() {
	var h *authflow.Handler // from authflow.New
	var changePassword, admin http.Handler
	http.Handle("/account/password", h.RequireRecentLogin(5*time.Minute)(changePassword))
	http.Handle("/admin/", h.RequireACR("urn:example:mfa")(admin))
}
