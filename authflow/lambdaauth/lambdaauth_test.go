package lambdaauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pubauth/awsauth/authflow"
	"github.com/pubauth/awsauth/authflow/bearer"
	"github.com/pubauth/awsauth/authflowtest"
)

const (
	testPool   = "eu-west-1_TestPool1"
	testClient = "lambda-client-1"
)

// issuer is the tests' provider (authflowtest): Cognito-shaped tokens of
// testPool for testClient on keys it generated, which the Verifier holds
// offline (its JWKS). Its user is alice-sub (username alice, groups admin
// and ops).
type issuer struct {
	t  *testing.T
	op *authflowtest.Provider
}

func newIssuer(t *testing.T) *issuer {
	op := authflowtest.NewProvider(t, func(o *authflowtest.Options) {
		o.CognitoPool = &authflow.CognitoPool{ID: testPool}
		o.ClientID = testClient
		o.User = authflowtest.User{Subject: "alice-sub", Username: "alice", Groups: []string{"admin", "ops"}}
	})
	return &issuer{t: t, op: op}
}

// variant is which token token mints: a good access token with the scope
// orders/read, or one refused for one reason.
type variant int

const (
	good        variant = iota
	idToken             // an ID token of the same user and client
	otherClient         // an access token of another app client
	noScope             // scope openid only
	expired             // expired beyond the clock skew
)

func (is *issuer) token(v variant) string {
	tok := authflowtest.Token{Scopes: []string{"orders/read"}}
	switch v {
	case idToken:
		return is.op.IDToken(tok)
	case otherClient:
		tok.ClientID = "other"
	case noScope:
		tok.Scopes = []string{"openid"}
	case expired:
		tok.Flaw = authflowtest.Expired
	}
	return is.op.AccessToken(tok)
}

func (is *issuer) verifier() *bearer.Verifier {
	b, err := bearer.New(is.t.Context(), bearer.Config{
		Issuers: []bearer.Issuer{{Issuer: is.op.Issuer(), ClientIDs: []string{testClient}, JWKS: is.op.JWKS()}},
		Now:     is.op.Now, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		is.t.Fatal(err)
	}
	return b
}

// fixture reads testdata/name, puts tok where {{TOKEN}} stands, and decodes it into v.
func fixture(t *testing.T, name, tok string, v any) {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(strings.ReplaceAll(string(b), "{{TOKEN}}", tok)), v); err != nil {
		t.Fatal(err)
	}
}

// app is the net/http side: an API that needs orders/read, and a login
// route that redirects to an absolute path and sets two cookies.
func app(b *bearer.Verifier, seen *http.Request) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/orders", b.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*seen = *r
		body, _ := io.ReadAll(r.Body)
		c := bearer.ClaimsFrom(r.Context())
		w.Header().Set("Content-Type", "application/json")
		w.Header().Add("Set-Cookie", "a=1; Path=/; Secure")
		w.Header().Add("Set-Cookie", "b=2; Path=/; Secure")
		json.NewEncoder(w).Encode(map[string]string{"sub": c.Subject, "body": string(body), "page": r.URL.Query().Get("page")})
	}), bearer.Scopes("orders/read")))
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		*seen = *r
		http.SetCookie(w, &http.Cookie{Name: "__Host-flow1", Value: "x", Path: "/", Secure: true})
		http.SetCookie(w, &http.Cookie{Name: "__Host-flow2", Value: "y", Path: "/", Secure: true})
		http.Redirect(w, r, "/callback?state=s", http.StatusFound)
	})
	mux.HandleFunc("/png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write([]byte{0x89, 'P', 'N', 'G', 0, 1, 2})
	})
	return mux
}

func TestHTTPAPI(t *testing.T) {
	is := newIssuer(t)
	b := is.verifier()
	var seen http.Request
	h := HTTPAPI(app(b, &seen), Options{})
	ctx := context.Background()

	var ev events.APIGatewayV2HTTPRequest
	fixture(t, "httpapi_v2_orders.json", is.token(good), &ev)
	resp, err := h(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.IsBase64Encoded {
		t.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || body["sub"] != "alice-sub" || body["page"] != "2" {
		t.Fatalf("body %s: %v", resp.Body, err)
	}
	if got := strings.Join(resp.Cookies, " | "); got != "a=1; Path=/; Secure | b=2; Path=/; Secure" {
		t.Errorf("cookies = %q", got)
	}
	if _, ok := resp.Headers["Set-Cookie"]; ok {
		t.Error("Set-Cookie left in headers")
	}
	if seen.URL.Path != "/orders" || seen.Host != "abc123defg.execute-api.eu-west-1.amazonaws.com" ||
		seen.RemoteAddr != "203.0.113.7:0" || EventV2From(seen.Context()) == nil {
		t.Errorf("request seen: path %q host %q remote %q", seen.URL.Path, seen.Host, seen.RemoteAddr)
	}
	if c, err := seen.Cookie("lang"); err != nil || c.Value != "en" {
		t.Errorf("cookies of the event not passed on: %v", err)
	}

	// The same rules as net/http: no token, an ID token, another client, a tampered token, no scope.
	for name, tc := range map[string]struct {
		tok    string
		status int
		code   string
	}{
		"no token":       {"", 401, ""},
		"ID token":       {is.token(idToken), 401, "invalid_token"},
		"another client": {is.token(otherClient), 401, "invalid_token"},
		"tampered":       {tamperAt(is.token(good), 40), 401, "invalid_token"},
		"no scope":       {is.token(noScope), 403, "insufficient_scope"},
	} {
		t.Run(name, func(t *testing.T) {
			var ev events.APIGatewayV2HTTPRequest
			fixture(t, "httpapi_v2_orders.json", tc.tok, &ev)
			if tc.tok == "" {
				delete(ev.Headers, "authorization")
			}
			resp, err := h(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if ch := resp.Headers["Www-Authenticate"]; !strings.HasPrefix(ch, "Bearer") || !strings.Contains(ch, tc.code) {
				t.Errorf("WWW-Authenticate = %q", ch)
			}
		})
	}

	// A redirect to an absolute path keeps the stage prefix; both cookies arrive.
	var login events.APIGatewayV2HTTPRequest
	fixture(t, "httpapi_v2_login.json", "", &login)
	resp, err = h(ctx, login)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusFound || resp.Headers["Location"] != "/prod/callback?state=s" || len(resp.Cookies) != 2 {
		t.Fatalf("login: %d %v %v", resp.StatusCode, resp.Headers, resp.Cookies)
	}
	if seen.URL.Path != "/login" || seen.URL.Query().Get("return_to") != "/prod/orders" {
		t.Errorf("login request: %v", seen.URL)
	}
	// BasePath "/" disables the prefix (custom domain without a mapping).
	resp, _ = HTTPAPI(app(b, &seen), Options{BasePath: "/"})(ctx, login)
	if resp.Headers["Location"] != "/callback?state=s" {
		t.Errorf("BasePath /: Location %q", resp.Headers["Location"])
	}

	// Binary bodies go back base64-encoded.
	login.RawPath = "/prod/png"
	resp, _ = h(ctx, login)
	if !resp.IsBase64Encoded || resp.Body != base64.StdEncoding.EncodeToString([]byte{0x89, 'P', 'N', 'G', 0, 1, 2}) {
		t.Errorf("binary body: %v %q", resp.IsBase64Encoded, resp.Body)
	}
}

func TestREST(t *testing.T) {
	is := newIssuer(t)
	b := is.verifier()
	var seen http.Request
	h := REST(app(b, &seen), Options{})
	ctx := context.Background()

	var ev events.APIGatewayProxyRequest
	fixture(t, "rest_v1_orders.json", is.token(good), &ev)
	resp, err := h(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	if resp.StatusCode != 200 || json.Unmarshal([]byte(resp.Body), &body) != nil || body["body"] != `{"item":"book","qty":2}` {
		t.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
	if got := resp.MultiValueHeaders["Set-Cookie"]; len(got) != 2 {
		t.Errorf("Set-Cookie = %q, want both", got)
	}
	if seen.Method != http.MethodPost || seen.URL.Path != "/orders" || seen.URL.Query().Get("dry_run") != "1" || EventV1From(seen.Context()) == nil {
		t.Errorf("request seen: %s %v", seen.Method, seen.URL)
	}

	// Two Authorization headers stay two: 400 invalid_request (RFC 6750 §3.1).
	var two events.APIGatewayProxyRequest
	fixture(t, "rest_v1_two_authorization.json", is.token(good), &two)
	resp, err = h(ctx, two)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 400 || !strings.Contains(strings.Join(resp.MultiValueHeaders["Www-Authenticate"], ""), "invalid_request") {
		t.Fatalf("two headers: %d %v", resp.StatusCode, resp.MultiValueHeaders)
	}
	if _, err := AuthenticateV1(ctx, b, &two); !errors.Is(err, bearer.ErrInvalidRequest) {
		t.Errorf("AuthenticateV1, two headers: %v", err)
	}
	if c, err := AuthenticateV1(ctx, b, &ev, bearer.Scopes("orders/read")); err != nil || c.Username != "alice" {
		t.Errorf("AuthenticateV1: %v", err)
	}

	// The stage prefix comes from requestContext.path.
	ev.Path, ev.RequestContext.Path, ev.HTTPMethod = "/login", "/prod/login", http.MethodGet
	resp, _ = h(ctx, ev)
	if resp.StatusCode != http.StatusFound || resp.MultiValueHeaders["Location"][0] != "/prod/callback?state=s" ||
		len(resp.MultiValueHeaders["Set-Cookie"]) != 2 {
		t.Errorf("REST redirect: %d %v", resp.StatusCode, resp.MultiValueHeaders)
	}

	ev.IsBase64Encoded, ev.Body = true, "%%%"
	if _, err := h(ctx, ev); !errors.Is(err, ErrBadEvent) {
		t.Errorf("bad base64 body: %v", err)
	}
}

func TestAuthorizers(t *testing.T) {
	is := newIssuer(t)
	b := is.verifier()
	ctx := context.Background()
	const wildcard = "arn:aws:execute-api:eu-west-1:123456789012:abc123defg/prod/*/*"

	var tokEv events.APIGatewayCustomAuthorizerRequest
	fixture(t, "authorizer_token.json", is.token(good), &tokEv)
	resp, err := TokenAuthorizer(b, bearer.Scopes("orders/read"))(ctx, tokEv)
	if err != nil {
		t.Fatal(err)
	}
	st := resp.PolicyDocument.Statement
	if resp.PrincipalID != "alice-sub" || len(st) != 1 || st[0].Effect != "Allow" || st[0].Resource[0] != wildcard ||
		st[0].Action[0] != "execute-api:Invoke" || resp.PolicyDocument.Version != "2012-10-17" {
		t.Fatalf("policy %+v", resp)
	}
	if resp.Context["scope"] != "orders/read" || resp.Context["cognito:groups"] != "admin,ops" || resp.Context["client_id"] != testClient {
		t.Errorf("context %v", resp.Context)
	}
	// The response marshals as API Gateway expects.
	out, _ := json.Marshal(resp)
	if !strings.Contains(string(out), `"policyDocument":{"Version":"2012-10-17","Statement":[{"Action":["execute-api:Invoke"],"Effect":"Allow","Resource":["`+wildcard+`"]}]}`) {
		t.Errorf("JSON %s", out)
	}

	// Missing scope → Deny (403); bad tokens → "Unauthorized" (401).
	fixture(t, "authorizer_token.json", is.token(noScope), &tokEv)
	resp, err = TokenAuthorizer(b, bearer.Scopes("orders/read"))(ctx, tokEv)
	if err != nil || resp.PolicyDocument.Statement[0].Effect != "Deny" {
		t.Fatalf("no scope: %+v %v", resp, err)
	}
	for name, tok := range map[string]string{
		"ID token":       is.token(idToken),
		"another client": is.token(otherClient),
		"expired":        is.token(expired),
		"garbage":        "abc",
	} {
		fixture(t, "authorizer_token.json", tok, &tokEv)
		_, err := TokenAuthorizer(b)(ctx, tokEv)
		if err == nil || err.Error() != "Unauthorized" {
			t.Errorf("%s: %v, want Unauthorized", name, err)
		}
	}
	tokEv.AuthorizationToken = ""
	if _, err := TokenAuthorizer(b)(ctx, tokEv); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("no token: %v", err)
	}
	tokEv.MethodArn = "arn:aws:s3:::bucket"
	if _, err := TokenAuthorizer(b)(ctx, tokEv); !errors.Is(err, ErrMethodARN) {
		t.Errorf("bad methodArn: %v", err)
	}

	var reqEv events.APIGatewayCustomAuthorizerRequestTypeRequest
	fixture(t, "authorizer_request.json", is.token(good), &reqEv)
	resp, err = RequestAuthorizer(b, bearer.Groups("admin"))(ctx, reqEv)
	if err != nil || resp.PolicyDocument.Statement[0].Effect != "Allow" || resp.PolicyDocument.Statement[0].Resource[0] != wildcard {
		t.Fatalf("REQUEST authorizer: %+v %v", resp, err)
	}
	reqEv.MultiValueHeaders["Authorization"] = append(reqEv.MultiValueHeaders["Authorization"], "Bearer x")
	if _, err := RequestAuthorizer(b)(ctx, reqEv); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("two headers: %v", err)
	}

	// A custom Requirement: its plain refusal is a Deny (403); one wrapping
	// bearer.ErrInvalidToken is "Unauthorized" (401), as under Require.
	fixture(t, "authorizer_token.json", is.token(good), &tokEv)
	for _, tc := range []struct {
		err    error
		effect string
	}{
		{errors.New("tenant closed"), "Deny"},
		{fmt.Errorf("%w: revoked", bearer.ErrInvalidToken), ""},
	} {
		check := bearer.Check(func(context.Context, *bearer.Claims) error { return tc.err })
		resp, err := TokenAuthorizer(b, check)(ctx, tokEv)
		if tc.effect == "" {
			if !errors.Is(err, ErrUnauthorized) {
				t.Errorf("%v: %+v %v, want Unauthorized", tc.err, resp, err)
			}
			continue
		}
		if err != nil || resp.PolicyDocument.Statement[0].Effect != tc.effect || resp.PrincipalID != "alice-sub" {
			t.Errorf("%v: %+v %v, want %s", tc.err, resp, err, tc.effect)
		}
	}
}

func TestStageARN(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:execute-api:eu-west-1:123456789012:abc/prod/GET/orders":   "arn:aws:execute-api:eu-west-1:123456789012:abc/prod/*/*",
		"arn:aws-cn:execute-api:cn-north-1:123456789012:abc/$default/GET/": "arn:aws-cn:execute-api:cn-north-1:123456789012:abc/$default/*/*",
		"arn:aws:execute-api:eu-west-1:123456789012:abc/prod/POST/a/b/c":   "arn:aws:execute-api:eu-west-1:123456789012:abc/prod/*/*",
		"arn:aws:execute-api:eu-west-1:123456789012:abc":                   "",
		"arn:aws:lambda:eu-west-1:123456789012:function/prod/GET/x":        "",
		"arn:aws:execute-api:eu-west-1::abc/prod/GET/x":                    "",
		"": "",
		"arn:aws:execute-api:eu-west-1:123456789012:abc:extra/prod/GET/x": "",
		// The policy is reused for every request with the token: no field
		// may widen it to another API, stage, account or region.
		"arn:aws:execute-api:eu-west-1:123456789012:*/prod/GET/x":   "",
		"arn:aws:execute-api:eu-west-1:123456789012:ab?/prod/GET/x": "",
		"arn:aws:execute-api:eu-west-1:123456789012:abc/*/GET/x":    "",
		"arn:aws:execute-api:eu-west-1:*:abc/prod/GET/x":            "",
		"arn:aws:execute-api:eu-west-1:12345678901*:abc/prod/GET/x": "",
		"arn:aws:execute-api:eu-west-1:1234:abc/prod/GET/x":         "",
		"arn:aws:execute-api:*:123456789012:abc/prod/GET/x":         "",
		"arn:*:execute-api:eu-west-1:123456789012:abc/prod/GET/x":   "",
	} {
		got, err := StageARN(in)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("StageARN(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// FuzzJSONStringLen: jsonStringLen is the length encoding/json gives a
// string, quotes aside.
func FuzzJSONStringLen(f *testing.F) {
	for _, s := range []string{"", "abc", `"\`, "\n\r\t\b\f\x00\x1f\x7f", "<>&", "é☕\U0001F600", "\u2028\u2029", "\xff\xfe", "a\xe2\x82"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := jsonStringLen(s); got != len(b)-2 {
			t.Fatalf("jsonStringLen(%q) = %d, encoding/json %d", s, got, len(b)-2)
		}
	})
}

// TestHTTPAPIPathIsDecodedOnce: HTTP APIs hand the function rawPath already
// percent-decoded (a client's /files/%252e%252e arrives as /files/%2e%2e),
// so the adapter must not decode it again: that second decoding would turn
// it into /files/.., past any check made on the path API Gateway routed.
func TestHTTPAPIPathIsDecodedOnce(t *testing.T) {
	var seen *http.Request
	h := HTTPAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r }), Options{})
	for _, path := range []string{"/files/%2e%2e%2fbob%2fsecret.txt", "/files/100%", "/files/a b?c#d", "/files/caf\u00e9"} {
		ev := events.APIGatewayV2HTTPRequest{RawPath: "/prod" + path, RawQueryString: "x=1"}
		ev.RequestContext.Stage = "prod"
		ev.RequestContext.HTTP.Method = http.MethodGet
		seen = nil
		resp, err := h(context.Background(), ev)
		if err != nil || resp.StatusCode != 200 || seen == nil {
			t.Fatalf("%q: %v %d", path, err, resp.StatusCode)
		}
		if seen.URL.Path != path || seen.URL.RawQuery != "x=1" {
			t.Errorf("rawPath %q reached the handler as path %q, query %q", path, seen.URL.Path, seen.URL.RawQuery)
		}
	}
}

// TestHTTPAPIPayloadV1: an HTTP API integration with payload format 1.0
// sends the REST shape with "version":"1.0", its path decoded and with the
// stage (or the custom domain's API mapping) in front; REST with
// HTTPAPIPayloadV1 serves the route's path.
func TestHTTPAPIPayloadV1(t *testing.T) {
	is := newIssuer(t)
	b := is.verifier()
	var seen http.Request
	h := REST(app(b, &seen), Options{HTTPAPIPayloadV1: true})
	ctx := context.Background()

	var ev events.APIGatewayProxyRequest
	fixture(t, "httpapi_v1_orders.json", is.token(good), &ev)
	resp, err := h(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	if resp.StatusCode != 200 || json.Unmarshal([]byte(resp.Body), &body) != nil || body["sub"] != "alice-sub" || body["page"] != "2" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
	if got := resp.MultiValueHeaders["Set-Cookie"]; len(got) != 2 {
		t.Errorf("Set-Cookie = %q, want both", got)
	}
	if seen.URL.Path != "/orders" || seen.URL.Query().Get("sort") != "desc" || seen.RemoteAddr != "203.0.113.7:0" ||
		seen.Host != "abc123defg.execute-api.eu-west-1.amazonaws.com" || EventV1From(seen.Context()) == nil {
		t.Errorf("request seen: path %q query %q remote %q host %q", seen.URL.Path, seen.URL.RawQuery, seen.RemoteAddr, seen.Host)
	}
	if c, err := seen.Cookie("lang"); err != nil || c.Value != "en" {
		t.Errorf("cookie header of the event not passed on: %v", err)
	}

	// A redirect to an absolute path gets the stage back.
	ev.Path, ev.RequestContext.Path = "/prod/login", "/prod/login"
	resp, _ = h(ctx, ev)
	if resp.StatusCode != http.StatusFound || resp.MultiValueHeaders["Location"][0] != "/prod/callback?state=s" {
		t.Errorf("redirect: %d %v", resp.StatusCode, resp.MultiValueHeaders)
	}

	// Behind a custom domain the path starts with the API mapping, not the
	// stage: BasePath is removed from the path and put back on redirects.
	mapped := REST(app(b, &seen), Options{HTTPAPIPayloadV1: true, BasePath: "/v1"})
	for path, want := range map[string]struct {
		status   int
		seen     string
		location string
	}{
		"/v1/login":   {http.StatusFound, "/login", "/v1/callback?state=s"},
		"/prod/login": {http.StatusFound, "/login", "/v1/callback?state=s"}, // the execute-api URL of the same stage
		"/v1x/login":  {http.StatusNotFound, "", ""},                        // not under /v1: left as it is, and no route has it
	} {
		ev.Path, ev.RequestContext.Path = path, path
		ev.RequestContext.DomainName = "api.example.com"
		seen = http.Request{}
		resp, err := mapped(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		loc, got := "", ""
		if l := resp.MultiValueHeaders["Location"]; len(l) == 1 {
			loc = l[0]
		}
		if seen.URL != nil {
			got = seen.URL.Path
		}
		if resp.StatusCode != want.status || got != want.seen || loc != want.location {
			t.Errorf("%s: %d, handler saw %q, Location %q; want %d %q %q", path, resp.StatusCode, got, loc, want.status, want.seen, want.location)
		}
	}
}

// TestHTTPAPIPayloadV1PathIsDecodedOnce: as with rawPath, a 1.0 event's
// path was decoded by API Gateway, so a client's %252e%252e arrives as
// %2e%2e and must reach the handler so, not as "..", and a decoded "%" is
// not a malformed event.
func TestHTTPAPIPayloadV1PathIsDecodedOnce(t *testing.T) {
	var seen *http.Request
	h := REST(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r }), Options{HTTPAPIPayloadV1: true})
	for _, path := range []string{"/files/%2e%2e%2fbob%2fsecret.txt", "/files/100%", "/files/a b?c#d", "/files/caf\u00e9", "/"} {
		ev := events.APIGatewayProxyRequest{Path: "/prod" + path, HTTPMethod: http.MethodGet,
			MultiValueQueryStringParameters: map[string][]string{"x": {"1"}}}
		ev.RequestContext.Stage, ev.RequestContext.Path = "prod", ev.Path
		seen = nil
		resp, err := h(context.Background(), ev)
		if err != nil || resp.StatusCode != 200 || seen == nil {
			t.Fatalf("%q: %v %d", path, err, resp.StatusCode)
		}
		if seen.URL.Path != path || seen.URL.RawQuery != "x=1" {
			t.Errorf("path %q reached the handler as path %q, query %q", path, seen.URL.Path, seen.URL.RawQuery)
		}
	}
	// The $default stage has no prefix to remove.
	ev := events.APIGatewayProxyRequest{Path: "/prod/x", HTTPMethod: http.MethodGet}
	ev.RequestContext.Stage = "$default"
	if _, err := h(context.Background(), ev); err != nil || seen.URL.Path != "/prod/x" {
		t.Errorf("$default stage: %v, path %q", err, seen.URL.Path)
	}
}

// tamperAt returns tok with the character at i replaced by another one (a
// fixed replacement would leave the token unchanged where it already stood).
func tamperAt(tok string, i int) string {
	c := byte('x')
	if tok[i] == c {
		c = 'y'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

// authorizerKind runs one kind of authorizer on a fixture event carrying
// tok and says what API Gateway makes of the answer: "Allow" or "Deny", the
// policy's resource, the context; or the error.
type authorizerKind struct {
	name string
	run  func(t *testing.T, b *bearer.Verifier, tok string, reqs ...bearer.Requirement) (effect, resource string, context map[string]any, err error)
}

func policyVerdict(principal, sub string, p events.APIGatewayCustomAuthorizerPolicy, c map[string]any, err error) (string, string, map[string]any, error) {
	if err != nil {
		return "", "", nil, err
	}
	if len(p.Statement) != 1 || len(p.Statement[0].Resource) != 1 || p.Version != "2012-10-17" ||
		len(p.Statement[0].Action) != 1 || p.Statement[0].Action[0] != "execute-api:Invoke" || principal != sub {
		return "", "", nil, fmt.Errorf("policy %+v, principal %q", p, principal)
	}
	return p.Statement[0].Effect, p.Statement[0].Resource[0], c, nil
}

var authorizerKinds = []authorizerKind{
	{"REST TOKEN", func(t *testing.T, b *bearer.Verifier, tok string, reqs ...bearer.Requirement) (string, string, map[string]any, error) {
		var ev events.APIGatewayCustomAuthorizerRequest
		fixture(t, "authorizer_token.json", tok, &ev)
		if tok == "" {
			ev.AuthorizationToken = ""
		}
		resp, err := TokenAuthorizer(b, reqs...)(context.Background(), ev)
		return policyVerdict(resp.PrincipalID, "alice-sub", resp.PolicyDocument, resp.Context, err)
	}},
	{"REST REQUEST", func(t *testing.T, b *bearer.Verifier, tok string, reqs ...bearer.Requirement) (string, string, map[string]any, error) {
		var ev events.APIGatewayCustomAuthorizerRequestTypeRequest
		fixture(t, "authorizer_request.json", tok, &ev)
		if tok == "" {
			delete(ev.Headers, "Authorization")
			delete(ev.MultiValueHeaders, "Authorization")
		}
		resp, err := RequestAuthorizer(b, reqs...)(context.Background(), ev)
		return policyVerdict(resp.PrincipalID, "alice-sub", resp.PolicyDocument, resp.Context, err)
	}},
	{"HTTP API simple", func(t *testing.T, b *bearer.Verifier, tok string, reqs ...bearer.Requirement) (string, string, map[string]any, error) {
		var ev events.APIGatewayV2CustomAuthorizerV2Request
		fixture(t, "httpapi_authorizer_v2.json", tok, &ev)
		if tok == "" {
			delete(ev.Headers, "authorization")
		}
		resp, err := HTTPAPISimpleAuthorizer(b, reqs...)(context.Background(), ev)
		if err != nil {
			return "", "", nil, err
		}
		if resp.IsAuthorized {
			return "Allow", "", resp.Context, nil
		}
		return "Deny", "", resp.Context, nil
	}},
	{"HTTP API policy", func(t *testing.T, b *bearer.Verifier, tok string, reqs ...bearer.Requirement) (string, string, map[string]any, error) {
		var ev events.APIGatewayV2CustomAuthorizerV2Request
		fixture(t, "httpapi_authorizer_v2.json", tok, &ev)
		if tok == "" {
			delete(ev.Headers, "authorization")
		}
		resp, err := HTTPAPIPolicyAuthorizer(b, reqs...)(context.Background(), ev)
		return policyVerdict(resp.PrincipalID, "alice-sub", resp.PolicyDocument, resp.Context, err)
	}},
}

// TestAuthorizersSameVerdicts: every authorizer kind gives a token the
// verdict bearer.Apply's classification gives it: Allow; Deny (403) for a
// valid token a Requirement refuses; "Unauthorized" (401) for no token, an
// invalid one, or a refusal wrapping bearer.ErrInvalidToken.
func TestAuthorizersSameVerdicts(t *testing.T) {
	is := newIssuer(t)
	b := is.verifier()
	good := is.token(good)
	for _, kind := range authorizerKinds {
		for _, tc := range []struct {
			name string
			tok  string
			reqs []bearer.Requirement
			want string
		}{
			{"valid", good, []bearer.Requirement{bearer.Scopes("orders/read"), bearer.Groups("admin")}, "Allow"},
			{"no scope", is.token(noScope), []bearer.Requirement{bearer.Scopes("orders/read")}, "Deny"},
			{"not in group", good, []bearer.Requirement{bearer.Groups("billing")}, "Deny"},
			{"custom refusal", good, []bearer.Requirement{bearer.Check(func(context.Context, *bearer.Claims) error { return errors.New("tenant closed") })}, "Deny"},
			{"custom invalid token", good, []bearer.Requirement{bearer.Check(func(context.Context, *bearer.Claims) error { return fmt.Errorf("%w: revoked", bearer.ErrInvalidToken) })}, "Unauthorized"},
			{"no token", "", nil, "Unauthorized"},
			{"ID token", is.token(idToken), nil, "Unauthorized"},
			{"another client", is.token(otherClient), nil, "Unauthorized"},
			{"expired", is.token(expired), nil, "Unauthorized"},
			{"tampered", tamperAt(good, 40), nil, "Unauthorized"},
			{"garbage", "abc", nil, "Unauthorized"},
		} {
			t.Run(kind.name+"/"+tc.name, func(t *testing.T) {
				effect, _, ctx, err := kind.run(t, b, tc.tok, tc.reqs...)
				if tc.want == "Unauthorized" {
					if err == nil || err.Error() != "Unauthorized" || !errors.Is(err, ErrUnauthorized) {
						t.Fatalf("%s %v, want the error Unauthorized", effect, err)
					}
					return
				}
				if err != nil || effect != tc.want {
					t.Fatalf("%s %v, want %s", effect, err, tc.want)
				}
				if ctx["sub"] != "alice-sub" || ctx["client_id"] != testClient || ctx["cognito:groups"] != "admin,ops" {
					t.Errorf("context %v", ctx)
				}
			})
		}
	}
}

// TestHTTPAPIAuthorizers replays the API Gateway guide's payload format 2.0
// authorizer event: the simple response and the IAM policy response as API
// Gateway reads them, the policy on the routeArn's whole stage (its $default
// route included) and never wider.
func TestHTTPAPIAuthorizers(t *testing.T) {
	is := newIssuer(t)
	b := is.verifier()
	ctx := context.Background()
	var ev events.APIGatewayV2CustomAuthorizerV2Request
	fixture(t, "httpapi_authorizer_v2.json", is.token(good), &ev)

	simple, err := HTTPAPISimpleAuthorizer(b, bearer.Scopes("orders/read"))(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(simple)
	if !strings.HasPrefix(string(out), `{"isAuthorized":true,"context":{`) || simple.Context["username"] != "alice" {
		t.Errorf("simple response %s", out)
	}

	for routeARN, want := range map[string]string{
		"arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/request":    "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/*",
		"arn:aws:execute-api:us-east-1:123456789012:abcdef123/$default/$default":   "arn:aws:execute-api:us-east-1:123456789012:abcdef123/$default/*",
		"arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/POST/orders/42": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/*",
		"arn:aws:execute-api:us-east-1:123456789012:abcdef123/*/GET/request":       "",
		"arn:aws:execute-api:us-east-1:*:abcdef123/test/GET/request":               "",
		"arn:aws:execute-api:us-east-1:123456789012:*/test/GET/request":            "",
		"": "",
	} {
		ev.RouteArn = routeARN
		resp, err := HTTPAPIPolicyAuthorizer(b, bearer.Scopes("orders/read"))(ctx, ev)
		if want == "" {
			if !errors.Is(err, ErrMethodARN) {
				t.Errorf("routeArn %q: %+v %v, want ErrMethodARN", routeARN, resp, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("routeArn %q: %v", routeARN, err)
		}
		out, _ := json.Marshal(resp)
		if !strings.Contains(string(out), `"principalId":"alice-sub","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":["execute-api:Invoke"],"Effect":"Allow","Resource":["`+want+`"]}]}`) {
			t.Errorf("routeArn %q: JSON %s", routeARN, out)
		}
	}

	// Two Authorization headers arrive joined with a comma: one invalid credential.
	ev.Headers["authorization"] += ",Bearer " + is.token(good)
	if _, err := HTTPAPISimpleAuthorizer(b)(ctx, ev); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("two headers: %v", err)
	}
}

// TestALB replays the Elastic Load Balancing guide's sample events in both
// modes: the query as the load balancer passes it (still encoded, decoded
// once by the handler), repeated headers and parameters in multi-value
// mode, the scheme from X-Forwarded-Proto, the response in the event's mode
// with statusDescription.
func TestALB(t *testing.T) {
	is := newIssuer(t)
	b := is.verifier()
	var seen http.Request
	h := ALB(app(b, &seen), Options{})
	ctx := context.Background()

	var single events.ALBTargetGroupRequest
	fixture(t, "alb_single.json", is.token(good), &single)
	_, err := h(ctx, single)
	if !errors.Is(err, ErrMultiValueHeaders) {
		t.Fatalf("two Set-Cookie headers in single-value mode: %v", err)
	}
	if seen.URL.Query().Get("q") != "a b&c" || seen.URL.Query().Get("page") != "2" || seen.URL.Scheme != "https" ||
		seen.Host != "lambda-846800462-us-east-2.elb.amazonaws.com" || EventALBFrom(seen.Context()) == nil {
		t.Errorf("request seen: %v host %q", seen.URL, seen.Host)
	}

	var multi events.ALBTargetGroupRequest
	fixture(t, "alb_multi.json", is.token(good), &multi)
	resp, err := h(ctx, multi)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if resp.StatusCode != 200 || resp.StatusDescription != "200 OK" || resp.Headers != nil ||
		json.Unmarshal([]byte(resp.Body), &got) != nil || got["body"] != "request_body" || got["sub"] != "alice-sub" {
		t.Fatalf("%+v", resp)
	}
	if c := resp.MultiValueHeaders["Set-Cookie"]; len(c) != 2 {
		t.Errorf("Set-Cookie = %q, want both", c)
	}
	if q := seen.URL.Query()["myKey"]; len(q) != 2 || q[0] != "val1" || q[1] != "val2" || seen.URL.Scheme != "http" {
		t.Errorf("request seen: %v", seen.URL)
	}
	if c := seen.Cookies(); len(c) != 2 || c[0].Name != "name1" || c[1].Name != "name2" {
		t.Errorf("cookies seen: %v", c)
	}
	out, _ := json.Marshal(resp)
	if !strings.Contains(string(out), `"statusDescription":"200 OK"`) || !strings.Contains(string(out), `"multiValueHeaders":{`) {
		t.Errorf("JSON %s", out)
	}

	// The health check reaches the handler like any request.
	var health events.ALBTargetGroupRequest
	fixture(t, "alb_healthcheck.json", "", &health)
	resp, err = h(ctx, health)
	if err != nil || resp.StatusCode != 404 || resp.StatusDescription != "404 Not Found" || resp.MultiValueHeaders != nil {
		t.Errorf("health check: %+v %v", resp, err)
	}

	// A redirect to an absolute path gets BasePath when set; nothing strips it from the path.
	multi.Path = "/app/login"
	resp, _ = ALB(http.StripPrefix("/app", app(b, &seen)), Options{BasePath: "/app"})(ctx, multi)
	if resp.StatusCode != http.StatusFound || resp.MultiValueHeaders["Location"][0] != "/app/callback?state=s" || len(resp.MultiValueHeaders["Set-Cookie"]) != 2 {
		t.Errorf("redirect: %+v", resp)
	}
}

// TestFunctionURL replays the Lambda guide's function URL request payload:
// rawPath and rawQueryString as the client sent them, cookies from the
// cookies list, the IAM caller in the event, every Set-Cookie in cookies.
func TestFunctionURL(t *testing.T) {
	is := newIssuer(t)
	b := is.verifier()
	var seen http.Request
	h := FunctionURL(app(b, &seen), Options{})
	ctx := context.Background()

	var ev events.LambdaFunctionURLRequest
	fixture(t, "functionurl_orders.json", is.token(good), &ev)
	resp, err := h(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if resp.StatusCode != 200 || resp.IsBase64Encoded || json.Unmarshal([]byte(resp.Body), &got) != nil ||
		got["body"] != "Hello from client!" || got["page"] != "2" {
		t.Fatalf("%+v", resp)
	}
	if got := strings.Join(resp.Cookies, " | "); got != "a=1; Path=/; Secure | b=2; Path=/; Secure" {
		t.Errorf("cookies = %q", got)
	}
	if _, ok := resp.Headers["Set-Cookie"]; ok {
		t.Error("Set-Cookie left in headers")
	}
	if seen.Method != http.MethodPost || seen.URL.Path != "/orders" || seen.URL.Query()["page"][1] != "3" || seen.URL.Query().Get("q") != "a b&c" ||
		seen.RemoteAddr != "123.123.123.123:0" || seen.Host != "<url-id>.lambda-url.us-west-2.on.aws" {
		t.Errorf("request seen: %s %v remote %q host %q", seen.Method, seen.URL, seen.RemoteAddr, seen.Host)
	}
	if c, err := seen.Cookie("lang"); err != nil || c.Value != "en" {
		t.Errorf("cookies of the event not passed on: %v", err)
	}
	if e := EventFunctionURLFrom(seen.Context()); e == nil || e.RequestContext.Authorizer.IAM.UserARN != "arn:aws:iam::111122223333:user/example-user" {
		t.Errorf("event in the context: %+v", e)
	}

	// A redirect to an absolute path is left alone: a function URL has no stage.
	ev.RawPath = "/login"
	resp, _ = h(ctx, ev)
	if resp.StatusCode != http.StatusFound || resp.Headers["Location"] != "/callback?state=s" || len(resp.Cookies) != 2 {
		t.Errorf("login: %+v", resp)
	}
}
