package authflowtest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pubauth/awsauth/authflow"
	"github.com/pubauth/awsauth/authflow/bearer"
	"github.com/pubauth/awsauth/authflow/lambdaauth"
	"github.com/pubauth/awsauth/authflowtest"
)

// exampleT stands in for the *testing.T of a real test, which an Example has
// none of: in your tests, pass t.
type exampleT struct {
	testing.TB
	cleanups []func()
}

func (t *exampleT) Helper()                           {}
func (t *exampleT) Cleanup(f func())                  { t.cleanups = append(t.cleanups, f) }
func (t *exampleT) Fatalf(format string, args ...any) { log.Fatalf(format, args...) }
func (t *exampleT) done() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

// exampleApp is the app under test: its own mux with authflow's handlers and
// one page behind RequireLogin.
func exampleApp(op *authflowtest.Provider) (*authflow.Handler, http.Handler) {
	h, err := authflow.New(context.Background(), authflow.Config{
		Issuer:      op.Issuer(),
		ClientID:    "web",
		RedirectURL: "https://app.example.com/callback", // never dialled: SignIn serves it through the app
		Cognito:     op.Cognito(),                       // nil for a generic provider
		HTTPClient:  op.HTTPClient(),
		Now:         op.Now,
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /login", h.Login())
	mux.Handle("GET /callback", h.Callback())
	mux.Handle("POST /logout", h.Logout())
	mux.Handle("GET /orders", h.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "orders of %s", authflow.SessionFrom(r.Context()).Subject)
	})))
	return h, mux
}

// show serves r and prints the status, and the body or where it redirects.
func show(app http.Handler, r *http.Request) {
	w := httptest.NewRecorder()
	app.ServeHTTP(w, r)
	if loc := w.Header().Get("Location"); loc != "" {
		fmt.Println(w.Code, loc)
		return
	}
	fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))
}

func ExampleNewProvider() {
	t := &exampleT{} // in a test: t
	defer t.done()

	op := authflowtest.NewProvider(t, func(o *authflowtest.Options) {
		o.TokenLifetime = 5 * time.Minute
	})
	fmt.Println(strings.HasPrefix(op.Issuer(), "http://127.0.0.1:"))
	// Output: true
}

// A signed-in request for a handler test: the cookie is a real session in
// the app's store, made by the app's own Login and Callback.
func ExampleProvider_SignIn() {
	t := &exampleT{}
	defer t.done()
	op := authflowtest.NewProvider(t)
	_, app := exampleApp(op)

	cookie := op.SignIn(t, app, "/login?return_to=/orders", authflowtest.User{Subject: "alice"})
	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	r.AddCookie(cookie)
	show(app, r)

	show(app, httptest.NewRequest(http.MethodGet, "/orders", nil)) // no cookie
	// Output:
	// 200 orders of alice
	// 302 /login?return_to=%2Forders
}

// A bearer token with chosen scopes and groups for an API test, and its
// refused variants.
func ExampleProvider_AccessToken() {
	t := &exampleT{}
	defer t.done()
	op := authflowtest.NewProvider(t)
	v, err := bearer.New(context.Background(), bearer.Config{
		Issuers:    []bearer.Issuer{{Issuer: op.Issuer(), ClientIDs: []string{authflowtest.DefaultClientID}}},
		HTTPClient: op.HTTPClient(),
		Now:        op.Now,
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	api := v.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, bearer.ClaimsFrom(r.Context()).Username)
	}), bearer.Scopes("orders/read"), bearer.Groups("admin"))

	alice := authflowtest.User{Subject: "alice", Groups: []string{"admin"}}
	for _, tok := range []authflowtest.Token{
		{User: alice, Scopes: []string{"orders/read"}},
		{User: alice, Scopes: []string{"orders/write"}},
		{User: alice, Scopes: []string{"orders/read"}, Flaw: authflowtest.Expired},
		{User: alice, Scopes: []string{"orders/read"}, Flaw: authflowtest.OtherAudience},
		{User: alice, Scopes: []string{"orders/read"}, Flaw: authflowtest.UnknownKey},
	} {
		r := httptest.NewRequest(http.MethodGet, "/orders", nil)
		r.Header.Set("Authorization", "Bearer "+op.AccessToken(tok))
		show(api, r)
	}
	// Output:
	// 200 alice
	// 403 {"error":"insufficient_scope","error_description":"the access token does not grant access to this resource"}
	// 401 {"error":"invalid_token","error_description":"the access token expired"}
	// 401 {"error":"invalid_token","error_description":"the access token is invalid or expired"}
	// 401 {"error":"invalid_token","error_description":"the access token is invalid or expired"}
}

// The same API under AWS Lambda: a bearer token through
// lambdaauth.HTTPAPI, the verifier primed with the provider's key set.
func ExampleProvider_AccessToken_lambda() {
	t := &exampleT{}
	defer t.done()
	pool := bearer.CognitoPool{ID: "eu-west-1_Example1"}
	op := authflowtest.NewProvider(t, func(o *authflowtest.Options) { o.CognitoPool = &pool })
	iss := bearer.Cognito(pool, authflowtest.DefaultClientID)
	iss.JWKS = op.JWKS() // or HTTPClient: op.HTTPClient() to fetch the pool's jwks.json
	v, err := bearer.New(context.Background(), bearer.Config{Issuers: []bearer.Issuer{iss}, Now: op.Now})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /orders", v.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "orders of %s", bearer.ClaimsFrom(r.Context()).Username)
	}), bearer.Scopes("orders/read")))
	handler := lambdaauth.HTTPAPI(mux, lambdaauth.Options{})

	token := op.AccessToken(authflowtest.Token{User: authflowtest.User{Subject: "alice"}, Scopes: []string{"orders/read"}})
	resp, err := handler(context.Background(), events.APIGatewayV2HTTPRequest{
		RawPath: "/orders",
		Headers: map[string]string{"authorization": "Bearer " + token},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			Stage: "$default", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.StatusCode, resp.Body)
	// Output: 200 orders of alice
}

func ExampleProvider_IDToken() {
	t := &exampleT{}
	defer t.done()
	op := authflowtest.NewProvider(t)
	iss := bearer.Issuer{Issuer: op.Issuer(), TokenUse: bearer.TokenUseID, ClientIDs: []string{"web"}, JWKS: op.JWKS()}
	v, err := bearer.New(context.Background(), bearer.Config{Issuers: []bearer.Issuer{iss}, Now: op.Now})
	if err != nil {
		log.Fatal(err)
	}
	c, err := v.Verify(context.Background(), op.IDToken(authflowtest.Token{
		User:     authflowtest.User{Subject: "alice", Email: "alice@example.com"},
		ClientID: "web",
	}))
	if err != nil {
		log.Fatal(err)
	}
	var claims struct {
		Email string `json:"email"`
	}
	c.Decode(&claims)
	fmt.Println(c.Subject, c.TokenUse, c.Audience, claims.Email)
	// Output: alice id [web] alice@example.com
}

// A machine-to-machine token: the client acts for itself.
func ExampleProvider_ClientCredentialsToken() {
	t := &exampleT{}
	defer t.done()
	op := authflowtest.NewProvider(t)
	iss := bearer.Issuer{Issuer: op.Issuer(), ClientIDs: []string{"billing-service"}, JWKS: op.JWKS()}
	v, err := bearer.New(context.Background(), bearer.Config{Issuers: []bearer.Issuer{iss}, Now: op.Now})
	if err != nil {
		log.Fatal(err)
	}
	c, err := v.Verify(context.Background(), op.ClientCredentialsToken(authflowtest.Token{
		ClientID: "billing-service", Scopes: []string{"orders/read"},
	}))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Subject, c.ClientID, c.Scopes)
	// Output: billing-service billing-service [orders/read]
}

// A back-channel logout token for the session a sign-in made.
func ExampleProvider_LogoutToken() {
	t := &exampleT{}
	defer t.done()
	op := authflowtest.NewProvider(t)
	raw := op.LogoutToken(authflowtest.Token{User: authflowtest.User{Subject: "alice"}, ClientID: "web"}, "sid-42")

	header, payload := decodeParts(raw)
	fmt.Println(header["typ"], payload["sub"], payload["sid"], payload["aud"], payload["events"])
	// Output: logout+jwt alice sid-42 web map[http://schemas.openid.net/event/backchannel-logout:map[]]
}

// decodeParts shows a JWS's header and claims; it verifies nothing.
func decodeParts(raw string) (header, payload map[string]any) {
	parts := strings.Split(raw, ".")
	for i, v := range []*map[string]any{&header, &payload} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			log.Fatal(err)
		}
		json.Unmarshal(b, v)
	}
	return header, payload
}

// Refresh with no sleep: on the provider's clock, which the app shares, the
// access token expires and the app refreshes it at the next request.
func ExampleProvider_Advance() {
	t := &exampleT{}
	defer t.done()
	op := authflowtest.NewProvider(t, func(o *authflowtest.Options) { o.TokenLifetime = 5 * time.Minute })
	_, app := exampleApp(op)
	cookie := op.SignIn(t, app, "/login", authflowtest.User{Subject: "alice"})

	op.Advance(5 * time.Minute)
	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	r.AddCookie(cookie)
	show(app, r)
	fmt.Println("refreshes:", op.TokenRequests("refresh_token"))
	// Output:
	// 200 orders of alice
	// refreshes: 1
}

func ExampleProvider_Now() {
	t := &exampleT{}
	defer t.done()
	op := authflowtest.NewProvider(t)
	start := op.Now()
	op.Advance(time.Hour)
	fmt.Println(op.Now().Sub(start))
	// Output: 1h0m0s
}

// An expired session: the provider refuses the refresh token (as after
// Cognito's GlobalSignOut), and once the access token expires the app sends
// the user to sign in again.
func ExampleProvider_GlobalSignOut() {
	t := &exampleT{}
	defer t.done()
	op := authflowtest.NewProvider(t)
	_, app := exampleApp(op)
	cookie := op.SignIn(t, app, "/login", authflowtest.User{Subject: "alice"})

	op.GlobalSignOut("alice")
	op.Advance(authflowtest.DefaultTokenLifetime)
	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	r.AddCookie(cookie)
	show(app, r)
	// Output: 302 /login?return_to=%2Forders
}

func ExampleProvider_TokenRequests() {
	t := &exampleT{}
	defer t.done()
	op := authflowtest.NewProvider(t)
	_, app := exampleApp(op)
	op.SignIn(t, app, "/login", authflowtest.User{})
	fmt.Println(op.TokenRequests("authorization_code"), op.TokenRequests("refresh_token"))
	// Output: 1 0
}

// Key rotation: the verifier meets the new kid, refetches the key set, and
// still accepts tokens signed before.
func ExampleProvider_RotateKeys() {
	t := &exampleT{}
	defer t.done()
	op := authflowtest.NewProvider(t)
	v, err := bearer.New(context.Background(), bearer.Config{
		Issuers:    []bearer.Issuer{{Issuer: op.Issuer(), ClientIDs: []string{authflowtest.DefaultClientID}}},
		HTTPClient: op.HTTPClient(), Now: op.Now,
	})
	if err != nil {
		log.Fatal(err)
	}
	before := op.AccessToken(authflowtest.Token{})
	_, err = v.Verify(context.Background(), before)
	fmt.Println(err)

	op.RotateKeys()
	// The verifier refetches for an unknown kid once per RefetchInterval on
	// its clock (default 10 s), and fetched the set 0 s ago: let it pass.
	op.Advance(10 * time.Second)
	_, err = v.Verify(context.Background(), op.AccessToken(authflowtest.Token{}))
	fmt.Println(err)
	_, err = v.Verify(context.Background(), before)
	fmt.Println(err)
	// Output:
	// <nil>
	// <nil>
	// <nil>
}

func ExampleProvider_JWKS() {
	t := &exampleT{}
	defer t.done()
	op := authflowtest.NewProvider(t)
	op.RotateKeys()
	var set struct {
		Keys []struct{ Kty, Alg, Use string } `json:"keys"`
	}
	json.Unmarshal(op.JWKS(), &set)
	fmt.Println(len(set.Keys), set.Keys[0].Kty, set.Keys[0].Alg, set.Keys[0].Use)
	// Output: 2 RSA RS256 sig
}

// A Cognito user pool's own issuer, domain and key set URL, reached through
// HTTPClient: the app's production configuration under test.
func ExampleProvider_Cognito() {
	t := &exampleT{}
	defer t.done()
	pool := authflow.CognitoPool{ID: "eu-west-1_Example1", IssuerType: "UPDATED"}
	op := authflowtest.NewProvider(t, func(o *authflowtest.Options) { o.CognitoPool = &pool })
	fmt.Println(op.Issuer())
	fmt.Println(op.Cognito().Domain)

	resp, err := op.HTTPClient().Get(op.Issuer() + "/.well-known/jwks.json")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	// Output:
	// https://issuer-cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example1
	// authflowtest.auth.eu-west-1.amazoncognito.com
	// 200 OK
}

func ExampleProvider_HTTPClient() {
	t := &exampleT{}
	defer t.done()
	op := authflowtest.NewProvider(t)
	resp, err := op.HTTPClient().Get(op.Issuer() + "/.well-known/openid-configuration")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	_, err = op.HTTPClient().Get("https://example.com/")
	fmt.Println(err != nil)
	// Output:
	// 200 OK
	// true
}

func ExampleProvider_Issuer() {
	t := &exampleT{}
	defer t.done()
	op := authflowtest.NewProvider(t)
	resp, err := op.HTTPClient().Get(op.Issuer() + "/.well-known/openid-configuration")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct{ Issuer string }
	json.NewDecoder(resp.Body).Decode(&d)
	fmt.Println(d.Issuer == op.Issuer())
	// Output: true
}
