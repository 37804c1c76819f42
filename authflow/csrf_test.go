package authflow

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckCSRF(t *testing.T) {
	op := newTestOP(t)
	app := newTestApp(t, op)
	c := app.browser()
	app.login(c, "/")
	sid := app.sessionCookie(c).Value
	token := app.csrf(c)
	other := app.browser()
	app.login(other, "/")
	otherToken := app.csrf(other)

	form := func(v url.Values) (string, string) {
		return "application/x-www-form-urlencoded", v.Encode()
	}
	multi := func(v url.Values) (string, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for k, vs := range v {
			for _, x := range vs {
				mw.WriteField(k, x)
			}
		}
		mw.Close()
		return mw.FormDataContentType(), b.String()
	}
	for _, tt := range []struct {
		name    string
		body    func() (string, string)
		hdr     map[string]string
		noSess  bool
		parse   bool // the handler parsed a multipart body before the check
		wantErr []error
	}{
		{name: "form field", body: func() (string, string) { return form(url.Values{"csrf_token": {token}}) }},
		{name: "header", hdr: map[string]string{"X-CSRF-Token": token}},
		{name: "same origin, Fetch Metadata same-origin", body: func() (string, string) { return form(url.Values{"csrf_token": {token}}) },
			hdr: map[string]string{"Origin": app.srv.URL, "Sec-Fetch-Site": "same-origin"}},
		{name: "multipart, parsed by the handler first", body: func() (string, string) { return multi(url.Values{"csrf_token": {token}}) }, parse: true},
		{name: "multipart, not parsed: never read here", body: func() (string, string) { return multi(url.Values{"csrf_token": {token}}) },
			wantErr: []error{ErrCSRFToken}},
		{name: "no token", wantErr: []error{ErrCSRFToken}},
		{name: "wrong token", hdr: map[string]string{"X-CSRF-Token": "forged"}, wantErr: []error{ErrCSRFToken}},
		{name: "another session's token", hdr: map[string]string{"X-CSRF-Token": otherToken}, wantErr: []error{ErrCSRFToken}},
		{name: "repeated field", body: func() (string, string) { return form(url.Values{"csrf_token": {token, token}}) }, wantErr: []error{ErrCSRFToken}},
		{name: "no session cookie", hdr: map[string]string{"X-CSRF-Token": token}, noSess: true,
			wantErr: []error{ErrCSRFToken, ErrSessionEnded}},
		{name: "foreign Origin", hdr: map[string]string{"X-CSRF-Token": token, "Origin": "https://evil.example"},
			wantErr: []error{ErrCrossOrigin}},
		{name: "null Origin", hdr: map[string]string{"X-CSRF-Token": token, "Origin": "null"}, wantErr: []error{ErrCrossOrigin}},
		{name: "cross-site", hdr: map[string]string{"X-CSRF-Token": token, "Sec-Fetch-Site": "cross-site"}, wantErr: []error{ErrCrossOrigin}},
		{name: "same-site, other origin", hdr: map[string]string{"X-CSRF-Token": token, "Sec-Fetch-Site": "same-site"},
			wantErr: []error{ErrCrossOrigin}},
		{name: "cross-origin without a session", hdr: map[string]string{"Origin": "https://evil.example"}, noSess: true,
			wantErr: []error{ErrCrossOrigin}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var body string
			r := httptest.NewRequest(http.MethodPost, app.srv.URL+"/x", nil)
			if tt.body != nil {
				var ct string
				ct, body = tt.body()
				r = httptest.NewRequest(http.MethodPost, app.srv.URL+"/x", strings.NewReader(body))
				r.Header.Set("Content-Type", ct)
			}
			for k, v := range tt.hdr {
				r.Header.Set(k, v)
			}
			if !tt.noSess {
				r.AddCookie(&http.Cookie{Name: defaultSessionCookieName, Value: sid})
			}
			if tt.parse {
				require.NoError(t, r.ParseMultipartForm(1<<20))
			}
			err := app.h.CheckCSRF(r)
			if tt.wantErr == nil {
				assert.NoError(t, err)
				return
			}
			for _, want := range tt.wantErr {
				assert.ErrorIs(t, err, want)
			}
			assert.NotContains(t, err.Error(), token, "no token in errors")
		})
	}
}

func TestCSRFProtect(t *testing.T) {
	op := newTestOP(t)
	app := newTestApp(t, op)
	c := app.browser()
	app.login(c, "/")
	sid := app.sessionCookie(c).Value
	token := app.csrf(c)
	served := 0
	h := app.h.CSRFProtect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served++
		// The form the check parsed is the handler's to read.
		w.Write([]byte(r.PostFormValue("item")))
	}))
	do := func(method string, v url.Values, hdr ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, app.srv.URL+"/items", strings.NewReader(v.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		r.AddCookie(&http.Cookie{Name: defaultSessionCookieName, Value: sid})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodOptions} {
		assert.Equal(t, http.StatusOK, do(m, nil).Code, "%s passes unchecked", m)
	}
	w := do(http.MethodPost, url.Values{"csrf_token": {token}, "item": {"pen"}})
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "pen", w.Body.String())
	served = 0
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		w := do(m, url.Values{"item": {"pen"}}, "Accept", "application/json")
		assert.Equal(t, http.StatusForbidden, w.Code, m)
		assert.Contains(t, w.Body.String(), `"error":"invalid_request"`)
	}
	assert.Equal(t, http.StatusForbidden, do(http.MethodPost, url.Values{"csrf_token": {token}}, "Origin", "https://evil.example").Code)
	assert.Zero(t, served, "refused requests never reach the handler")
}

// Issue 8: every refusal of logout, by Origin or by token, is logged alike
// (one message, one reason attribute), as CSRFProtect's are.
func TestCSRFRefusalsLoggedAlike(t *testing.T) {
	op := newTestOP(t)
	app := newTestApp(t, op)
	c := app.browser()
	app.login(c, "/")
	token := app.csrf(c)

	for _, tt := range []struct {
		name   string
		form   url.Values
		hdr    []string
		reason string
	}{
		{"logout without a token", nil, nil, "csrf_token"},
		{"logout with a wrong token", url.Values{"csrf_token": {"forged"}}, nil, "csrf_token"},
		{"logout from another origin", url.Values{"csrf_token": {token}}, []string{"Origin", "https://evil.example"}, "cross_origin"},
		{"logout cross-site", url.Values{"csrf_token": {token}}, []string{"Sec-Fetch-Site", "cross-site"}, "cross_origin"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			start := len(app.logs.String())
			resp := app.postLogout(c, tt.form, tt.hdr...)
			assert.Equal(t, http.StatusForbidden, resp.StatusCode)
			logged := strings.TrimSpace(app.logs.String()[start:])
			assert.Equal(t, 1, strings.Count(logged, "\n")+1, "one log line: %s", logged)
			assert.Contains(t, logged, `level=INFO msg="authflow: request refused by the CSRF check" reason=`+tt.reason)
			assert.True(t, strings.HasSuffix(logged, "reason="+tt.reason), "reason is the only attribute: %s", logged)
		})
	}
}
