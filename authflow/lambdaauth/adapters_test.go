package lambdaauth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// clientRequest is a request as the client sent it: path and query still
// percent-encoded, headers possibly repeated.
type clientRequest struct {
	method string
	path   string
	query  string
	header http.Header
	body   []byte
	binary bool // AWS sends the body base64-encoded
}

// clientResponse is what the client gets back: every header value, the body
// decoded, and the response as the adapter's JSON, for its size.
type clientResponse struct {
	status int
	header http.Header
	body   []byte
	json   []byte
}

// adapter builds the event one AWS integration makes of a clientRequest,
// as its documentation and live captures describe it (which of path and
// query are decoded, how repeated headers travel, where cookies go), runs
// it through the adapter, and turns the response back into what the client
// gets.
type adapter struct {
	name        string
	defaultMax  int  // the response limit when Options.MaxResponseBytes is unset
	multiHeader bool // repeated request headers stay repeated
	lastHeader  bool // of repeated request headers, only the last arrives
	run         func(h http.Handler, o Options, rq clientRequest) (clientResponse, error)
}

var adapters = []adapter{
	{name: "HTTPAPI", defaultMax: defaultMaxResponseBytes, run: runHTTPAPI},
	{name: "REST", defaultMax: defaultMaxResponseBytes, multiHeader: true, run: runREST(false)},
	{name: "REST HTTPAPIPayloadV1", defaultMax: defaultMaxResponseBytes, multiHeader: true, run: runREST(true)},
	{name: "ALB multi-value", defaultMax: albMaxResponseBytes, multiHeader: true, run: runALB(true)},
	{name: "ALB single-value", defaultMax: albMaxResponseBytes, lastHeader: true, run: runALB(false)},
	{name: "FunctionURL", defaultMax: defaultMaxResponseBytes, run: runFunctionURL},
}

func mustUnescape(p string) string {
	d, err := url.PathUnescape(p)
	if err != nil {
		panic(err)
	}
	return d
}

// joined is the one-value-per-name header of payload format 2.0: repeated
// values joined with commas, cookies apart.
func joined(h http.Header) (map[string]string, []string) {
	m := map[string]string{}
	var cookies []string
	for k, vs := range h {
		if k == "Cookie" {
			for _, v := range vs {
				cookies = append(cookies, strings.Split(v, "; ")...)
			}
			continue
		}
		m[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	return m, cookies
}

func body(rq clientRequest) string {
	if rq.binary {
		return base64.StdEncoding.EncodeToString(rq.body)
	}
	return string(rq.body)
}

func decodeBody(b string, b64 bool) []byte {
	if !b64 {
		return []byte(b)
	}
	d, err := base64.StdEncoding.DecodeString(b)
	if err != nil {
		panic(err)
	}
	return d
}

func withCookies(headers map[string]string, cookies []string) http.Header {
	h := http.Header{}
	for k, v := range headers {
		h.Set(k, v)
	}
	for _, c := range cookies {
		h.Add("Set-Cookie", c)
	}
	return h
}

func runHTTPAPI(h http.Handler, o Options, rq clientRequest) (clientResponse, error) {
	headers, cookies := joined(rq.header)
	ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: mustUnescape(rq.path), RawQueryString: rq.query,
		Headers: headers, Cookies: cookies, Body: body(rq), IsBase64Encoded: rq.binary}
	ev.RequestContext.HTTP.Method, ev.RequestContext.Stage = rq.method, "$default"
	resp, err := HTTPAPI(h, o)(context.Background(), ev)
	out, _ := json.Marshal(resp)
	return clientResponse{resp.StatusCode, withCookies(resp.Headers, resp.Cookies), decodeBody(resp.Body, resp.IsBase64Encoded), out}, err
}

func runREST(payloadV1 bool) func(h http.Handler, o Options, rq clientRequest) (clientResponse, error) {
	return func(h http.Handler, o Options, rq clientRequest) (clientResponse, error) {
		q, _ := url.ParseQuery(rq.query) // API Gateway decodes the parameters
		ev := events.APIGatewayProxyRequest{HTTPMethod: rq.method, Path: rq.path, MultiValueHeaders: rq.header,
			MultiValueQueryStringParameters: q, Body: body(rq), IsBase64Encoded: rq.binary}
		if payloadV1 {
			ev.Path = mustUnescape(rq.path)
			ev.RequestContext.Stage = "$default"
		}
		ev.RequestContext.Path = ev.Path
		resp, err := REST(h, Options{HTTPAPIPayloadV1: payloadV1, MaxResponseBytes: o.MaxResponseBytes, BasePath: o.BasePath})(context.Background(), ev)
		out, _ := json.Marshal(resp)
		return clientResponse{resp.StatusCode, resp.MultiValueHeaders, decodeBody(resp.Body, resp.IsBase64Encoded), out}, err
	}
}

func runALB(multi bool) func(h http.Handler, o Options, rq clientRequest) (clientResponse, error) {
	return func(h http.Handler, o Options, rq clientRequest) (clientResponse, error) {
		ev := events.ALBTargetGroupRequest{HTTPMethod: rq.method, Path: rq.path, Body: body(rq), IsBase64Encoded: rq.binary}
		ev.RequestContext.ELB.TargetGroupArn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/orders/6d0ecf831eec9f09"
		mq, sq := map[string][]string{}, map[string]string{}
		for _, kv := range strings.Split(rq.query, "&") { // the load balancer decodes nothing
			if kv == "" {
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			mq[k], sq[k] = append(mq[k], v), v
		}
		mh, sh := map[string][]string{}, map[string]string{}
		for k, vs := range rq.header {
			mh[strings.ToLower(k)], sh[strings.ToLower(k)] = vs, vs[len(vs)-1]
		}
		mh["x-forwarded-proto"], sh["x-forwarded-proto"] = []string{"https"}, "https"
		if multi {
			ev.MultiValueHeaders, ev.MultiValueQueryStringParameters = mh, mq
		} else {
			ev.Headers, ev.QueryStringParameters = sh, sq
		}
		resp, err := ALB(h, o)(context.Background(), ev)
		out, _ := json.Marshal(resp)
		header := http.Header(resp.MultiValueHeaders)
		if multi != (resp.MultiValueHeaders != nil) || (resp.Headers != nil && resp.MultiValueHeaders != nil) {
			return clientResponse{}, errors.New("response in the other multi-value mode than the event")
		}
		if !multi {
			header = withCookies(resp.Headers, nil)
		}
		if err == nil && resp.StatusDescription != statusDescription(resp.StatusCode) {
			return clientResponse{}, errors.New("statusDescription " + resp.StatusDescription)
		}
		return clientResponse{resp.StatusCode, header, decodeBody(resp.Body, resp.IsBase64Encoded), out}, err
	}
}

func runFunctionURL(h http.Handler, o Options, rq clientRequest) (clientResponse, error) {
	headers, cookies := joined(rq.header)
	ev := events.LambdaFunctionURLRequest{Version: "2.0", RawPath: rq.path, RawQueryString: rq.query,
		Headers: headers, Cookies: cookies, Body: body(rq), IsBase64Encoded: rq.binary}
	ev.RequestContext.HTTP.Method = rq.method
	ev.RequestContext.DomainName = "abcdefghij.lambda-url.eu-west-1.on.aws"
	resp, err := FunctionURL(h, o)(context.Background(), ev)
	out, _ := json.Marshal(resp)
	return clientResponse{resp.StatusCode, withCookies(resp.Headers, resp.Cookies), decodeBody(resp.Body, resp.IsBase64Encoded), out}, err
}

// TestAdaptersSameRules gives every adapter the same hostile requests and
// finds the verdict net/http gives: the bearer rules, every Set-Cookie,
// binary bodies both ways, repeated Authorization headers, malformed
// events.
func TestAdaptersSameRules(t *testing.T) {
	is := newIssuer(t)
	b := is.verifier()
	var seen http.Request
	h := app(b, &seen)
	good := is.token(good)
	orders := func(auth ...string) clientRequest {
		hd := http.Header{"Host": {"api.example.com"}, "Cookie": {"theme=dark; lang=en"}}
		for _, a := range auth {
			hd.Add("Authorization", a)
		}
		return clientRequest{method: http.MethodPost, path: "/orders", query: "page=2&q=a%20b%26c", header: hd,
			body: []byte{0, 1, 2, 0x7f}, binary: true}
	}
	for _, ad := range adapters {
		t.Run(ad.name, func(t *testing.T) {
			resp, err := ad.run(h, Options{}, orders("Bearer "+good))
			if ad.name == "ALB single-value" {
				// Two Set-Cookie headers can't travel in a headers map: refused, not one dropped.
				if !errors.Is(err, ErrMultiValueHeaders) {
					t.Fatalf("two Set-Cookie headers, single-value mode: %v", err)
				}
				resp, err = ad.run(b.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					seen = *r
					w.Header().Add("Set-Cookie", "a=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT")
					w.Header().Add("Vary", "Origin")
					w.Header().Add("Vary", "Cookie")
				})), Options{}, orders("Bearer "+good))
				if err != nil || resp.header.Get("Set-Cookie") != "a=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT" || resp.header.Get("Vary") != "Origin, Cookie" {
					t.Fatalf("one Set-Cookie, single-value mode: %v %v", err, resp.header)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				var got map[string]string
				if resp.status != 200 || json.Unmarshal(resp.body, &got) != nil || got["sub"] != "alice-sub" || got["page"] != "2" || got["body"] != "\x00\x01\x02\x7f" {
					t.Fatalf("%d %q", resp.status, resp.body)
				}
				if c := resp.header.Values("Set-Cookie"); len(c) != 2 || c[0] != "a=1; Path=/; Secure" || c[1] != "b=2; Path=/; Secure" {
					t.Errorf("Set-Cookie = %q, want both", c)
				}
			}
			if q := seen.URL.Query(); q.Get("q") != "a b&c" || q.Get("page") != "2" {
				t.Errorf("query reached the handler as %q", seen.URL.RawQuery)
			}
			if c, err := seen.Cookie("lang"); err != nil || c.Value != "en" {
				t.Errorf("cookies of the event not passed on: %v", err)
			}

			// The bearer rules, as under net/http.
			for name, tc := range map[string]struct {
				auth   []string
				status int
				code   string
			}{
				"no token":       {nil, 401, ""},
				"Basic":          {[]string{"Basic YTpi"}, 401, ""},
				"ID token":       {[]string{"Bearer " + is.token(idToken)}, 401, "invalid_token"},
				"another client": {[]string{"Bearer " + is.token(otherClient)}, 401, "invalid_token"},
				"tampered":       {[]string{"Bearer " + tamperAt(good, 40)}, 401, "invalid_token"},
				"no scope":       {[]string{"Bearer " + is.token(noScope)}, 403, "insufficient_scope"},
				// Kept two, or joined into one invalid credential, by AWS: 400
				// either way (RFC 6750 §3.1); a single-value ALB keeps the
				// last, so only the token that arrives is judged.
				"two Authorization headers": {[]string{"Bearer " + good, "Bearer " + tamperAt(good, 40)}, 400, "invalid_request"},
			} {
				resp, err := ad.run(h, Options{}, orders(tc.auth...))
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				status, code := tc.status, tc.code
				if name == "two Authorization headers" && ad.lastHeader {
					status, code = 401, "invalid_token"
				}
				if resp.status != status {
					t.Errorf("%s: status %d, want %d", name, resp.status, status)
				}
				if ch := resp.header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer") || !strings.Contains(ch, code) {
					t.Errorf("%s: WWW-Authenticate = %q", name, ch)
				}
			}

			// Binary responses travel base64-encoded and arrive intact.
			resp, err = ad.run(h, Options{}, clientRequest{method: http.MethodGet, path: "/png", header: http.Header{}})
			if err != nil || !bytes.Equal(resp.body, []byte{0x89, 'P', 'N', 'G', 0, 1, 2}) {
				t.Errorf("binary body: %v %q", err, resp.body)
			}

		})
	}
}

// TestAdaptersBadBase64Body: an event whose isBase64Encoded body is not
// base64 is ErrBadEvent under every adapter.
func TestAdaptersBadBase64Body(t *testing.T) {
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	ctx := context.Background()
	errs := map[string]error{}
	_, errs["HTTPAPI"] = HTTPAPI(h, Options{})(ctx, events.APIGatewayV2HTTPRequest{RawPath: "/", Body: "%%%", IsBase64Encoded: true})
	_, errs["REST"] = REST(h, Options{})(ctx, events.APIGatewayProxyRequest{Path: "/", Body: "%%%", IsBase64Encoded: true})
	_, errs["ALB"] = ALB(h, Options{})(ctx, events.ALBTargetGroupRequest{Path: "/", Body: "%%%", IsBase64Encoded: true})
	_, errs["FunctionURL"] = FunctionURL(h, Options{})(ctx, events.LambdaFunctionURLRequest{RawPath: "/", Body: "%%%", IsBase64Encoded: true})
	_, errs["ALB bad path"] = ALB(h, Options{})(ctx, events.ALBTargetGroupRequest{Path: "/a%zz"})
	_, errs["FunctionURL bad path"] = FunctionURL(h, Options{})(ctx, events.LambdaFunctionURLRequest{RawPath: "/a%zz"})
	for name, err := range errs {
		if !errors.Is(err, ErrBadEvent) {
			t.Errorf("%s: %v, want ErrBadEvent", name, err)
		}
	}
}

// TestAdaptersPathIsDecodedOnce: the client's path reaches the handler
// decoded exactly once, as under net/http, whichever integration decoded
// it first: a client's %252e%252e is "%2e%2e" to the handler, never "..".
func TestAdaptersPathIsDecodedOnce(t *testing.T) {
	var seen *http.Request
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r })
	for _, ad := range adapters {
		for _, path := range []string{"/files/%252e%252e%252fbob%252fsecret.txt", "/files/100%25", "/files/a%20b%3Fc%23d", "/files/caf%C3%A9", "/files/a%2Fb"} {
			seen = nil
			resp, err := ad.run(h, Options{}, clientRequest{method: http.MethodGet, path: path, query: "x=1", header: http.Header{}})
			if err != nil || resp.status != 200 || seen == nil {
				t.Fatalf("%s %q: %v %d", ad.name, path, err, resp.status)
			}
			if want := mustUnescape(path); seen.URL.Path != want || seen.URL.RawQuery != "x=1" {
				t.Errorf("%s: client path %q reached the handler as %q, query %q; want %q", ad.name, path, seen.URL.Path, seen.URL.RawQuery, want)
			}
		}
	}
}

// TestResponseSize: a body larger than MaxResponseBytes, as it travels in
// the response (base64 for binary, JSON-escaped text), is a 502 with none of
// the handler's headers; by default that bound is Lambda's 6 MB payload, or
// an ALB target's 1 MB response JSON.
func TestResponseSize(t *testing.T) {
	body := func(ct string, b []byte) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ct)
			w.Header().Add("Set-Cookie", "a=1")
			w.Write(b)
		})
	}
	for _, ad := range adapters {
		for _, tc := range []struct {
			name   string
			h      http.Handler
			max    int
			status int
		}{
			{"text at the limit", body("text/plain", bytes.Repeat([]byte("a"), 1000)), 1000, 200},
			{"text over the limit", body("text/plain", bytes.Repeat([]byte("a"), 1001)), 1000, 502},
			{"binary whose base64 is over the limit", body("image/png", bytes.Repeat([]byte{0}, 751)), 1000, 502},
			{"binary whose base64 fits", body("image/png", bytes.Repeat([]byte{0}, 750)), 1000, 200},
			{"text whose JSON escapes are over the limit", body("text/html", bytes.Repeat([]byte("<"), 200)), 1000, 502},
			{"binary whose base64 is over the default", body("application/octet-stream", make([]byte, ad.defaultMax/4*3+3)), 0, 502},
			{"binary whose base64 is the default", body("application/octet-stream", make([]byte, ad.defaultMax/4*3)), 0, 200},
		} {
			t.Run(ad.name+"/"+tc.name, func(t *testing.T) {
				resp, err := ad.run(tc.h, Options{MaxResponseBytes: tc.max}, clientRequest{method: http.MethodGet, path: "/x", header: http.Header{}})
				if err != nil {
					t.Fatal(err)
				}
				if resp.status != tc.status {
					t.Fatalf("status %d, want %d", resp.status, tc.status)
				}
				limit := tc.max
				if limit == 0 {
					limit = ad.defaultMax
				}
				if len(resp.json) > limit+envelopeBytes {
					t.Errorf("response JSON is %d bytes, over %d", len(resp.json), limit+envelopeBytes)
				}
				if tc.status == 502 && (len(resp.header.Values("Set-Cookie")) != 0 || string(resp.body) != "response too large\n") {
					t.Errorf("502 keeps the handler's cookies or body: %v %.40q", resp.header, resp.body)
				}
			})
		}
	}
}
