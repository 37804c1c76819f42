package authflow

import (
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
)

// wantsJSON reports whether the caller is a program rather than a browser
// navigation: it asks for JSON, sends credentials of its own, or is an XHR.
func wantsJSON(r *http.Request) bool {
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		return true
	}
	if r.Header.Get("Authorization") != "" {
		return true
	}
	return r.Header.Get("X-Requested-With") == "XMLHttpRequest"
}

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Sign-in problem</title></head>
<body><h1>{{.Title}}</h1><p>{{.Message}}</p><p><a href="/">Home</a></p></body></html>
`))

// httpError writes a fixed, generic error: a JSON object for programs, a
// small page for browsers. code and message are chosen by this package,
// never copied from the request or the provider.
func httpError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if wantsJSON(r) {
		h.Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": message})
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	errorPage.Execute(w, struct{ Title, Message string }{http.StatusText(status), message})
}
