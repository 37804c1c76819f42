package httpx

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCheckEndpoint(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://idp.example.com":          true,
		"https://idp.example.com/x?y=1":    true,
		"http://127.0.0.1:8080/cb":         true,
		"http://[::1]:8080/cb":             true,
		"http://localhost/cb":              true,
		"http://idp.example.com":           false,
		"https://user@idp.example.com":     false,
		"https://idp.example.com/#frag":    false,
		"/relative":                        false,
		"ftp://idp.example.com":            false,
		"http://localhost.evil.example/cb": false,
		"%":                                false,
	} {
		if err := CheckEndpoint("X", raw); (err == nil) != ok {
			t.Errorf("CheckEndpoint(%q) = %v", raw, err)
		}
	}
}

func TestNoRedirectClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://elsewhere.example/", http.StatusFound)
	}))
	defer srv.Close()
	base := &http.Client{}
	c := NoRedirectClient(base)
	if c == base || base.CheckRedirect != nil {
		t.Fatal("the caller's client was modified")
	}
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d: the redirect was followed", resp.StatusCode)
	}
	if NoRedirectClient(nil).Timeout != DefaultTimeout {
		t.Error("default client has no timeout")
	}
}
