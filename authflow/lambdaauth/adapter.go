package lambdaauth

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// Options configures HTTPAPI and REST.
type Options struct {
	// BasePath is the public path prefix of the API, such as "/prod" for an
	// API Gateway stage reached at its execute-api URL, or a custom domain's
	// base path mapping. A redirect whose Location is an absolute path
	// ("/login") gets it prepended, so the browser stays inside the API.
	// Empty means: derived from each event (REST: requestContext.path less
	// path; HTTP API: "/"+stage when rawPath starts with it). Set it to "/"
	// to prepend nothing.
	BasePath string
	// MaxResponseBytes bounds the body as it travels in the response: base64
	// for binary content (4/3 of it), text with its JSON escapes (a "<" is
	// 6 bytes). A larger one becomes a 502 (Lambda refuses responses above
	// 6 MB, an Application Load Balancer response JSON above 1 MB). Default:
	// that limit less 64 KB of room for the envelope (6 MB for HTTPAPI, REST
	// and FunctionURL, 1 MB for ALB).
	MaxResponseBytes int
	// HTTPAPIPayloadV1 tells REST that its events come from an HTTP API
	// integration whose payloadFormatVersion is "1.0" ("version":"1.0" in
	// the event, the REST shape), not from a REST API. Such an event's path
	// is the path the client asked for, percent-decoded once by API Gateway
	// (like rawPath in 2.0), with the custom domain's API mapping or the
	// stage in front: REST then takes it as it comes, never decoding it
	// again, and removes BasePath from its front, or else "/"+stage (see
	// HTTPAPI). events.APIGatewayProxyRequest drops "version", so REST can't
	// tell the two apart itself; a function behind both kinds reads
	// "version" first (see examples/lambda).
	HTTPAPIPayloadV1 bool
}

const (
	envelopeBytes           = 64 << 10
	defaultMaxResponseBytes = 6<<20 - envelopeBytes // Lambda's synchronous response payload
	albMaxResponseBytes     = 1<<20 - envelopeBytes // an ALB target's response JSON
)

// maxResponse is MaxResponseBytes, or def when unset.
func (o Options) maxResponse(def int) int {
	if o.MaxResponseBytes > 0 {
		return o.MaxResponseBytes
	}
	return def
}

// ErrBadEvent is returned, wrapped, for an event that can't be a request
// (bad base64 body, unparsable path).
var ErrBadEvent = errors.New("lambdaauth: malformed event")

type eventV2Key struct{}
type eventV1Key struct{}

// EventV2From returns the HTTP API event behind a request served by
// HTTPAPI, or nil.
func EventV2From(ctx context.Context) *events.APIGatewayV2HTTPRequest {
	ev, _ := ctx.Value(eventV2Key{}).(*events.APIGatewayV2HTTPRequest)
	return ev
}

// EventV1From returns the REST API (or HTTP API payload 1.0) event behind a
// request served by REST, or nil.
func EventV1From(ctx context.Context) *events.APIGatewayProxyRequest {
	ev, _ := ctx.Value(eventV1Key{}).(*events.APIGatewayProxyRequest)
	return ev
}

// HTTPAPI adapts h to API Gateway HTTP API events (payload format 2.0), for
// lambda.Start. The request's path has the stage prefix removed (see
// Options.BasePath) and is rawPath as it comes: HTTP APIs percent-decode it
// before the function sees it, so it is never decoded a second time (a
// client's %252e%252e stays "%2e%2e", not ".."). Cookies come from the
// event's cookies; the body is
// decoded when isBase64Encoded. The response puts every Set-Cookie in
// cookies and joins other repeated headers with ", ".
func HTTPAPI(h http.Handler, o Options) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		base := o.BasePath
		path, prefix := cutStage(ev.RawPath, ev.RequestContext.Stage)
		if base == "" {
			base = prefix
		}
		ctx = context.WithValue(ctx, eventV2Key{}, &ev)
		r, err := newRequest(ctx, ev.RequestContext.HTTP.Method, &url.URL{Path: path}, ev.RawQueryString,
			headerV2(ev.Headers, ev.Cookies), ev.Body, ev.IsBase64Encoded, ev.RequestContext.DomainName, ev.RequestContext.HTTP.SourceIP)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		w := serve(h, r, base, o.maxResponse(defaultMaxResponseBytes))
		resp := events.APIGatewayV2HTTPResponse{StatusCode: w.status}
		resp.Headers, resp.Cookies = w.singleValue()
		resp.Body, resp.IsBase64Encoded = w.encoded, w.b64
		return resp, nil
	}
}

// REST adapts h to API Gateway REST API proxy events (Lambda proxy
// integration, v1), for lambda.Start, and with Options.HTTPAPIPayloadV1 to
// HTTP API payload format 1.0 events, which have the same shape. Headers
// and query come from the multi-value maps when present; the response uses
// multiValueHeaders only, so repeated headers such as Set-Cookie all arrive.
//
// A REST API's path is the resource path, still percent-encoded, without
// the stage (requestContext.path has it, and gives BasePath when unset).
// An HTTP API 1.0 event's path is decoded and has the stage or API mapping
// in front; see Options.HTTPAPIPayloadV1.
func REST(h http.Handler, o Options) func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	return func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		base := o.BasePath
		var u *url.URL
		if o.HTTPAPIPayloadV1 {
			path, ok := cutPathPrefix(ev.Path, o.BasePath)
			if !ok {
				var prefix string
				path, prefix = cutStage(ev.Path, ev.RequestContext.Stage)
				if base == "" {
					base = prefix
				}
			}
			u = &url.URL{Path: path} // decoded by API Gateway already: never again
		} else {
			if base == "" {
				if p := ev.RequestContext.Path; p != ev.Path && strings.HasSuffix(p, ev.Path) {
					base = strings.TrimSuffix(p, ev.Path)
				}
			}
			var err error
			if u, err = parseEncodedPath(ev.Path); err != nil {
				return events.APIGatewayProxyResponse{}, err
			}
		}
		header := headerV1(ev.Headers, ev.MultiValueHeaders)
		q := url.Values{}
		if len(ev.MultiValueQueryStringParameters) > 0 {
			for k, vs := range ev.MultiValueQueryStringParameters {
				q[k] = append(q[k], vs...)
			}
		} else {
			for k, v := range ev.QueryStringParameters {
				q.Set(k, v)
			}
		}
		ctx = context.WithValue(ctx, eventV1Key{}, &ev)
		r, err := newRequest(ctx, ev.HTTPMethod, u, q.Encode(), header, ev.Body, ev.IsBase64Encoded,
			ev.RequestContext.DomainName, ev.RequestContext.Identity.SourceIP)
		if err != nil {
			return events.APIGatewayProxyResponse{}, err
		}
		w := serve(h, r, base, o.maxResponse(defaultMaxResponseBytes))
		resp := events.APIGatewayProxyResponse{StatusCode: w.status, MultiValueHeaders: map[string][]string(w.header)}
		resp.Body, resp.IsBase64Encoded = w.encoded, w.b64
		return resp, nil
	}
}

// cutStage removes the "/"+stage that an HTTP API puts in front of the
// path on a stage other than $default. It returns the path left ("/" at
// least) and the prefix removed, "" when there was none.
func cutStage(path, stage string) (string, string) {
	if stage == "" || stage == "$default" {
		return path, ""
	}
	prefix := "/" + stage
	if rest, ok := cutPathPrefix(path, prefix); ok {
		return rest, prefix
	}
	return path, ""
}

// cutPathPrefix removes prefix ("/v1") from the front of path when it ends
// there or at a "/" ("/v1/orders", not "/v1x"); "" and "/" remove nothing.
func cutPathPrefix(path, prefix string) (string, bool) {
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix == "" {
		return path, false
	}
	if path == prefix {
		return "/", true
	}
	if rest, ok := strings.CutPrefix(path, prefix+"/"); ok {
		return "/" + rest, true
	}
	return path, false
}

// parseEncodedPath parses a path that arrives as the client sent it, still
// percent-encoded (REST APIs, ALB, function URLs): it is decoded here, once.
func parseEncodedPath(path string) (*url.URL, error) {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u, err := url.ParseRequestURI(path)
	if err != nil {
		return nil, fmt.Errorf("%w: path", ErrBadEvent)
	}
	return u, nil
}

// headerV2 is the header of a payload format 2.0 event (HTTP API, function
// URL, HTTP API authorizer): one value per name, repeated headers already
// joined with commas by AWS, and the cookies, which 2.0 moves out of the
// headers, put back as one Cookie header.
func headerV2(headers map[string]string, cookies []string) http.Header {
	h := http.Header{}
	for k, v := range headers {
		h.Set(k, v)
	}
	if len(cookies) > 0 {
		h.Set("Cookie", strings.Join(cookies, "; "))
	}
	return h
}

// headerV1 prefers the multi-value map, which keeps a repeated header
// repeated (two Authorization headers must stay two).
func headerV1(single map[string]string, multi map[string][]string) http.Header {
	h := http.Header{}
	if len(multi) > 0 {
		for k, vs := range multi {
			for _, v := range vs {
				h.Add(k, v)
			}
		}
		return h
	}
	for k, v := range single {
		h.Set(k, v)
	}
	return h
}

// newRequest builds the request for u (its path decoded; its query is
// replaced by rawQuery).
func newRequest(ctx context.Context, method string, u *url.URL, rawQuery string, header http.Header, body string, b64 bool, domain, sourceIP string) (*http.Request, error) {
	var data []byte
	if b64 {
		var err error
		if data, err = base64.StdEncoding.DecodeString(body); err != nil {
			return nil, fmt.Errorf("%w: body is not base64", ErrBadEvent)
		}
	} else {
		data = []byte(body)
	}
	if method == "" {
		method = http.MethodGet
	}
	if !strings.HasPrefix(u.Path, "/") {
		u.Path = "/" + u.Path
	}
	u.RawQuery = rawQuery
	r, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadEvent, err)
	}
	r.Header = header
	r.RequestURI = u.RequestURI()
	r.Host = header.Get("Host")
	if r.Host == "" {
		r.Host = domain
	}
	r.URL.Host = r.Host
	r.URL.Scheme = "https" // API Gateway endpoints are TLS only
	if sourceIP != "" {
		r.RemoteAddr = sourceIP + ":0"
	}
	return r, nil
}

// response collects what the handler writes.
type response struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	max      int
	overflow bool
	encoded  string // the body as sent: text, or base64 when b64
	b64      bool
}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *response) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.body.Len()+len(p) > w.max {
		w.overflow = true
		return 0, errors.New("lambdaauth: response larger than MaxResponseBytes")
	}
	return w.body.Write(p)
}

// serve runs h on r and collects its response: the body encoded as it will
// be sent, a 502 instead when that is over max bytes, and a Location that
// is an absolute path prefixed with base.
func serve(h http.Handler, r *http.Request, base string, max int) *response {
	w := &response{header: http.Header{}, max: max}
	h.ServeHTTP(w, r)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if !w.overflow {
		w.encoded, w.b64 = w.encodedBody()
		w.overflow = jsonStringLen(w.encoded) > w.max
	}
	if w.overflow {
		w.header = http.Header{"Content-Type": {"text/plain; charset=utf-8"}}
		w.status = http.StatusBadGateway
		w.body.Reset()
		w.encoded, w.b64 = "response too large\n", false
	}
	if loc := w.header.Get("Location"); base != "" && base != "/" && strings.HasPrefix(loc, "/") &&
		!strings.HasPrefix(loc, "//") && !strings.HasPrefix(loc, `/\`) &&
		loc != base && !strings.HasPrefix(loc, base+"/") && !strings.HasPrefix(loc, base+"?") {
		w.header.Set("Location", base+loc)
	}
	return w
}

// singleValue returns the headers one value each, repeated ones joined
// with ", " (RFC 9110 §5.3), and every Set-Cookie apart: a Set-Cookie can't
// be joined (its Expires holds a comma), so payload format 2.0 has a
// cookies list for them.
func (w *response) singleValue() (map[string]string, []string) {
	headers := map[string]string{}
	var cookies []string
	for k, vs := range w.header {
		if k == "Set-Cookie" {
			cookies = append(cookies, vs...)
			continue
		}
		headers[k] = strings.Join(vs, ", ")
	}
	return headers, cookies
}

// encodedBody returns the body as text, or base64 for anything that is not
// text (API Gateway then decodes it for the client).
func (w *response) encodedBody() (string, bool) {
	ct := w.header.Get("Content-Type")
	if ct == "" && w.body.Len() > 0 {
		ct = http.DetectContentType(w.body.Bytes())
	}
	if isText(ct) {
		return w.body.String(), false
	}
	return base64.StdEncoding.EncodeToString(w.body.Bytes()), true
}

// jsonStringLen is the length of s inside the quotes of encoding/json's
// encoding (aws-lambda-go's), which escapes quotes, backslashes, control
// characters, <, >, &, U+2028, U+2029 and invalid UTF-8.
func jsonStringLen(s string) int {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f':
				n += 2
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || r == '\u2028' || r == '\u2029' {
			n += 6
		} else {
			n += size
		}
		i += size
	}
	return n
}

func isText(ct string) bool {
	mt, _, _ := strings.Cut(strings.ToLower(ct), ";")
	mt = strings.TrimSpace(mt)
	switch {
	case mt == "", strings.HasPrefix(mt, "text/"), strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"):
		return true
	}
	switch mt {
	case "application/json", "application/xml", "application/javascript", "application/x-www-form-urlencoded":
		return true
	}
	return false
}
