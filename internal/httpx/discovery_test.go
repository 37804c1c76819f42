package httpx

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDiscover(t *testing.T) {
	var status int
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		w.Write([]byte(strings.ReplaceAll(body, "ISS", "http://"+r.Host)))
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name        string
		status      int
		body        string
		ok, healing bool
	}{
		{"good", 200, `{"issuer":"ISS","jwks_uri":"ISS/jwks"}`, true, false},
		{"issuer with a trailing slash", 200, `{"issuer":"ISS/"}`, false, false},
		{"another issuer", 200, `{"issuer":"https://evil.example"}`, false, false},
		{"not JSON", 200, `<html>`, false, false},
		{"too large", 200, `{"issuer":"ISS","x":"` + strings.Repeat("a", MaxDiscoveryBytes) + `"}`, false, false},
		{"404", 404, `secret-looking body`, false, false},
		{"503", 503, `secret-looking body`, false, true},
		{"429", 429, ``, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body = tc.status, tc.body
			var doc struct {
				JWKSURI string `json:"jwks_uri"`
			}
			err := Discover(t.Context(), srv.Client(), srv.URL, &doc)
			if tc.ok {
				if err != nil || doc.JWKSURI != srv.URL+"/jwks" {
					t.Fatalf("%v %+v", err, doc)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if errors.Is(err, ErrUnavailable) != tc.healing {
				t.Errorf("%v: ErrUnavailable %v, want %v", err, !tc.healing, tc.healing)
			}
			if strings.Contains(err.Error(), "secret-looking") || len(err.Error()) > 400 {
				t.Errorf("the body reached the error: %.100s", err)
			}
		})
	}
	srv.Close()
	if err := Discover(t.Context(), http.DefaultClient, srv.URL, &struct{}{}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("connection refused: %v, want ErrUnavailable", err)
	}
}
