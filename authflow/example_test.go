package authflow_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"html/template"
	"log"
	"log/slog"
	"net/http"
	"time"

	"github.com/pubauth/awsauth/authflow"
)

// A Cognito user pool's issuer, in the format the pool is configured with
// (its IssuerConfiguration.Type).
func ExampleCognitoIssuer() {
	for _, pool := range []authflow.CognitoPool{
		{ID: "eu-west-1_AbC123"},                        // ORIGINAL, the default
		{ID: "eu-west-1_AbC123", IssuerType: "UPDATED"}, // the multi-Region issuer
	} {
		iss, err := authflow.CognitoIssuer(pool)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(iss)
	}
	c := &authflow.Cognito{Domain: "auth.example.com"}
	fmt.Println(c.LogoutURL("my-client", "https://app.example.com/"))
	// Output:
	// https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123
	// https://issuer-cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123
	// https://auth.example.com/logout?client_id=my-client&logout_uri=https%3A%2F%2Fapp.example.com%2F
}

// The wiring of an app that signs users in with Cognito managed login.
func ExampleNew() {
	ctx := context.Background()
	issuer, err := authflow.CognitoIssuer(authflow.CognitoPool{ID: "eu-west-1_AbC123"})
	if err != nil {
		log.Fatal(err)
	}
	h, err := authflow.New(ctx, authflow.Config{
		Issuer:      issuer,
		ClientID:    "my-public-client",
		RedirectURL: "https://app.example.com/callback",
		Cognito:     &authflow.Cognito{Domain: "auth.example.com"},
		CookieKeys:  [][]byte{[]byte("0123456789abcdef0123456789abcdef")}, // from your secret store
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /login", h.Login())
	mux.Handle("GET /callback", h.Callback())
	mux.Handle("POST /logout", h.Logout())
	mux.Handle("/app/", h.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := authflow.SessionFrom(r.Context())
		fmt.Fprintf(w, "hello %s", s.Subject)
	})))
	log.Fatal(http.ListenAndServe(":8080", mux))
}

// A confidential client of an OpenID provider (not Cognito, which takes
// client secrets only) that authenticates with private_key_jwt: the provider
// holds the public key under the kid "web-2025-01" (the client's registered
// jwks or jwks_uri), the app keeps the private key, here any crypto.Signer.
func ExampleNew_privateKeyJWT() {
	ctx := context.Background()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // in production, from your key store or a KMS signer
	if err != nil {
		log.Fatal(err)
	}
	h, err := authflow.New(ctx, authflow.Config{
		Issuer:               "https://op.example.com",
		ClientID:             "web",
		ClientAssertionKey:   key,
		ClientAssertionKeyID: "web-2025-01",
		RedirectURL:          "https://app.example.com/callback",
		CookieKeys:           [][]byte{[]byte("0123456789abcdef0123456789abcdef")}, // from your secret store
	})
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("GET /login", h.Login())
	http.Handle("GET /callback", h.Callback()) // the code exchange carries a fresh client assertion
	http.Handle("POST /logout", h.Logout())    // so does the revocation of the refresh token
}

// An app's own form posts carry the session's CSRF token; CSRFProtect refuses a post from
// another origin or without the token (403) before the handler runs.
func ExampleHandler_CSRFProtect() {
	var h *authflow.Handler // from authflow.New
	form := template.Must(template.New("").Parse(`<form method="post" action="/app/notes">
<input type="hidden" name="{{.Field}}" value="{{.Token}}"><input name="note"><button>Save</button></form>`))
	app := http.NewServeMux()
	app.HandleFunc("GET /app/notes", func(w http.ResponseWriter, r *http.Request) {
		form.Execute(w, map[string]string{"Field": authflow.CSRFField, "Token": h.CSRFToken(r)})
	})
	app.HandleFunc("POST /app/notes", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "saved %q for %s", r.PostFormValue("note"), authflow.SessionFrom(r.Context()).Subject)
	})
	http.Handle("/app/", h.RequireLogin(h.CSRFProtect(app)))
}

// Sessions the app did not see end: the provider's back-channel logout, and a
// "your devices" page whose buttons end one session or all of them, on every
// instance sharing the store.
func ExampleHandler_BackChannelLogout() {
	var h *authflow.Handler // from authflow.New; its Store implements tokenstore.Indexer
	// Register https://app.example.com/backchannel-logout as the client's
	// backchannel_logout_uri at the provider.
	http.Handle("POST /backchannel-logout", h.BackChannelLogout())

	devices := template.Must(template.New("").Parse(`<ul>{{range .Sessions}}<li>{{.Device}}, since {{.Created.Format "2 Jan"}}
<form method="post" action="/app/devices/end"><input type="hidden" name="{{$.Field}}" value="{{$.Token}}">
<button name="handle" value="{{.Handle}}">Sign out</button></form></li>{{end}}</ul>
<form method="post" action="/app/devices/all"><input type="hidden" name="{{.Field}}" value="{{.Token}}">
<button>Sign out everywhere</button></form>`))
	app := http.NewServeMux()
	app.HandleFunc("GET /app/devices", func(w http.ResponseWriter, r *http.Request) {
		s := authflow.SessionFrom(r.Context())
		list, err := h.Sessions(r.Context(), s.Subject)
		if err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		devices.Execute(w, map[string]any{"Sessions": list, "Field": authflow.CSRFField, "Token": h.CSRFToken(r)})
	})
	app.HandleFunc("POST /app/devices/end", func(w http.ResponseWriter, r *http.Request) {
		// The handle must be one of this user's sessions, or nothing ends.
		err := h.EndSession(r.Context(), authflow.SessionFrom(r.Context()).Subject, r.PostFormValue("handle"))
		if err != nil && !errors.Is(err, authflow.ErrSessionEnded) {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		http.Redirect(w, r, "/app/devices", http.StatusSeeOther)
	})
	app.HandleFunc("POST /app/devices/all", func(w http.ResponseWriter, r *http.Request) {
		if _, err := h.EndUserSessions(r.Context(), authflow.SessionFrom(r.Context()).Subject); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	http.Handle("/app/", h.RequireLogin(h.CSRFProtect(app)))
}

// Sessions that end after 15 minutes without a request, clean-up that runs however a
// session ends (its reason in OnSessionEndDetail), and an app that ends a session itself,
// here when the user closes their account.
func ExampleHandler_EndSession() {
	ctx := context.Background()
	h, err := authflow.New(ctx, authflow.Config{
		Issuer:      "https://op.example.com",
		ClientID:    "web",
		RedirectURL: "https://app.example.com/callback",
		CookieKeys:  [][]byte{[]byte("0123456789abcdef0123456789abcdef")}, // from your secret store
		IdleTimeout: 15 * time.Minute,                                     // ends between 13.5 and 15 minutes after the last request
		OnSessionEnd: func(handle string) {
			// drop per-session caches: awscreds.UserCache.Evict fits here as is
		},
		OnSessionEndDetail: func(ctx context.Context, end authflow.SessionEnd) {
			slog.InfoContext(ctx, "audit: session ended", "sub", end.Subject, "reason", end.Reason)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("POST /account/close", h.RequireLogin(h.CSRFProtect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// ... close the account, then end this session (authflow.EndByApp): the hooks run,
		// and its next request is signed out.
		s := authflow.SessionFrom(r.Context())
		if err := h.EndSession(r.Context(), s.Subject, s.Handle()); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	}))))
}
