package alb

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path"
	"strings"
	"testing"
	"time"
)

// servePEM answers the testdata key for its kid and 404 for any other, in process.
type servePEM struct {
	kid string
	pem []byte
}

func (s servePEM) RoundTrip(r *http.Request) (*http.Response, error) {
	if path.Base(r.URL.Path) != s.kid {
		return &http.Response{StatusCode: http.StatusNotFound, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
	}
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(s.pem)), Request: r}, nil
}

// FuzzVerify feeds arbitrary x-amzn-oidc-data values to a Verifier holding the testdata key
// (SECURITY J37, the ALB header): no panic, errors of the sentinel set, and nothing accepted
// but the genuine header, padded as ALB sent it or not padded in its signature (the
// signature's padding is not signed).
func FuzzVerify(f *testing.F) {
	pemKey, err := os.ReadFile("testdata/alb_public_key.pem")
	if err != nil {
		f.Fatal(err)
	}
	raw, err := os.ReadFile("testdata/x-amzn-oidc-data.jwt")
	if err != nil {
		f.Fatal(err)
	}
	genuine := strings.TrimSpace(string(raw))
	v, err := New(Config{
		LoadBalancerARN: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188",
		Issuer:          "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123",
		HTTPClient:      &http.Client{Transport: servePEM{"7b5b2a4e-3c1d-4f2a-9e8b-0a1b2c3d4e5f", pemKey}},
		Logger:          slog.New(slog.DiscardHandler),
		Now:             func() time.Time { return time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(genuine, ".")
	f.Add(genuine)
	f.Add(strings.ReplaceAll(genuine, "=", ""))
	f.Add(parts[0] + "." + parts[1] + "." + strings.TrimRight(parts[2], "="))
	f.Add(parts[0] + "=." + parts[1] + "." + parts[2])
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add("eyJhbGciOiJub25lIn0." + parts[1] + ".")
	f.Add(strings.Repeat("=", 64))
	f.Add("...")
	ctx := f.Context()
	f.Fuzz(func(t *testing.T, data string) {
		c, err := v.Verify(ctx, data)
		if err != nil {
			if c != nil {
				t.Fatal("claims with an error")
			}
			if !errors.Is(err, ErrInvalidToken) && !errors.Is(err, ErrKeyUnavailable) {
				t.Fatalf("error outside the sentinel set: %v", err)
			}
			return
		}
		i := strings.LastIndexByte(data, '.')
		if data[:i] != parts[0]+"."+parts[1] || strings.TrimRight(data[i+1:], "=") != strings.TrimRight(parts[2], "=") {
			t.Fatalf("accepted a header other than the genuine one: %q", data)
		}
	})
}
