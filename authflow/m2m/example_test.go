package m2m_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"golang.org/x/oauth2"

	"github.com/pubauth/awsauth/authflow/m2m"
)

// tokenEndpoint stands in for a user pool domain's /oauth2/token in these
// examples: it answers every client credentials request with a new token.
func tokenEndpoint() *httptest.Server {
	n := 0
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"token-%d","token_type":"Bearer","expires_in":3600}`, n)
	}))
}

// The token endpoint of a Cognito user pool domain.
func ExampleCognitoTokenURL() {
	fmt.Println(m2m.CognitoTokenURL("myapp.auth.eu-west-1.amazoncognito.com"))
	fmt.Println(m2m.CognitoTokenURL("auth.example.com"))
	// Output:
	// https://myapp.auth.eu-west-1.amazoncognito.com/oauth2/token
	// https://auth.example.com/oauth2/token
}

// A service calls an API with a Cognito M2M access token for a resource
// server scope. In production TokenURL is
// m2m.CognitoTokenURL("myapp.auth.eu-west-1.amazoncognito.com").
func ExampleNew() {
	cognito := tokenEndpoint()
	defer cognito.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Header.Get("Authorization"))
	}))
	defer api.Close()

	src, err := m2m.New(context.Background(), m2m.Config{
		TokenURL:     cognito.URL + "/oauth2/token",
		ClientID:     "1example23456789",
		ClientSecret: "from-your-secret-store",
		Scopes:       []string{"orders/read"},
	})
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: src.Transport(nil), Timeout: 10 * time.Second}
	for range 2 {
		resp, err := client.Get(api.URL + "/orders")
		if err != nil {
			log.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(b))
	}
	// Output:
	// Bearer token-1
	// Bearer token-1
}

// Token returns the cached token, refreshing it within ExpiryWindow of its
// expiry; ctx bounds this call only.
func ExampleSource_Token() {
	op := tokenEndpoint()
	defer op.Close()
	src, err := m2m.New(context.Background(), m2m.Config{
		TokenURL:     op.URL + "/token",
		ClientID:     "svc",
		ClientSecret: "from-your-secret-store",
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tok, err := src.Token(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.Type(), tok.AccessToken)
	// Output: Bearer token-1
}

// Transport adds the token to each request, under the request's context; a
// request that carries its own Authorization header is sent as it is.
func ExampleSource_Transport() {
	op := tokenEndpoint()
	defer op.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Header.Get("Authorization"))
	}))
	defer api.Close()
	src, err := m2m.New(context.Background(), m2m.Config{
		TokenURL:     op.URL + "/token",
		ClientID:     "svc",
		ClientSecret: "from-your-secret-store",
	})
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: src.Transport(http.DefaultTransport)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api.URL+"/orders", nil)
	resp, err := client.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Println(string(b))
	// Output: Bearer token-1
}

// TokenSource serves APIs that take an oauth2.TokenSource; it uses the
// context it is given for every call.
func ExampleSource_TokenSource() {
	op := tokenEndpoint()
	defer op.Close()
	src, err := m2m.New(context.Background(), m2m.Config{
		TokenURL:     op.URL + "/token",
		ClientID:     "svc",
		ClientSecret: "from-your-secret-store",
	})
	if err != nil {
		log.Fatal(err)
	}
	ts := src.TokenSource(context.Background()) // the service's lifetime context
	tok, err := ts.Token()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.AccessToken)
	// Output: token-1
}

// Any OpenID provider: the token endpoint from discovery, the client
// authenticated with private_key_jwt (not supported by Cognito), an RFC 8707
// resource indicator.
func ExampleConfig_privateKeyJWT() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // in production, from your key store or a KMS signer
	if err != nil {
		log.Fatal(err)
	}
	cfg := m2m.Config{
		Issuer:               "https://op.example.com",
		ClientID:             "svc",
		ClientAssertionKey:   key,
		ClientAssertionKeyID: "svc-2025-01", // the kid registered with the provider
		Scopes:               []string{"orders/read"},
		EndpointParams:       map[string][]string{"resource": {"https://api.example.com"}},
	}
	_ = cfg // m2m.New(ctx, cfg) reads https://op.example.com/.well-known/openid-configuration
	fmt.Println(cfg.ClientID)
	// Output: svc
}

// Cognito's GetClientToken API, instead of the token endpoint, through
// Config.Fetch. getClientToken stands in for a call with aws-sdk-go-v2's
// cognitoidentityprovider client: GetClientToken(ctx,
// &GetClientTokenInput{ClientId, Secret, Scopes}) and its
// ClientAuthenticationResult's AccessToken and ExpiresIn.
func ExampleConfig_getClientToken() {
	getClientToken := func(ctx context.Context) (accessToken string, expiresIn int32, err error) {
		return "token-from-GetClientToken", 3600, nil
	}
	src, err := m2m.New(context.Background(), m2m.Config{
		Fetch: func(ctx context.Context) (*oauth2.Token, error) {
			at, exp, err := getClientToken(ctx)
			if err != nil {
				return nil, err
			}
			return &oauth2.Token{AccessToken: at, TokenType: "Bearer", Expiry: time.Now().Add(time.Duration(exp) * time.Second)}, nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	tok, err := src.Token(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.AccessToken)
	// Output: token-from-GetClientToken
}
