package exampleapp

import (
	"errors"
	"html/template"
	"log/slog"
	"net/http"

	"github.com/pubauth/awsauth/authflow"
)

// HomeData is what a home page template is given: the signed-in user's
// Subject and the CSRF token a logout (or other) form must send, both empty
// for a visitor, and the example's own Extra.
type HomeData struct {
	Subject, CSRF string
	Extra         any
}

// Home serves page, a home page for everyone that shows more to signed-in
// users. extra, when not nil, gives the template's Extra; it is called with
// the session, or nil for a visitor. A session store that fails gives 503.
func Home(auth *authflow.Handler, page *template.Template, logger *slog.Logger, extra func(*authflow.Session) any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var data HomeData
		s, err := auth.Session(r)
		switch {
		case err == nil:
			data.Subject, data.CSRF = s.Subject, auth.CSRFToken(r)
		case errors.Is(err, authflow.ErrSessionEnded):
			s = nil
		default:
			logger.Error("home: session", "error", err)
			http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
			return
		}
		if extra != nil {
			data.Extra = extra(s)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		page.Execute(w, data)
	}
}
