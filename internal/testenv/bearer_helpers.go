package testenv

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

var (
	formAction        = regexp.MustCompile(`<form[^>]*\baction="([^"]+)"`)
	formPrompt        = regexp.MustCompile(`name="prompt" value="([a-z]+)"`)
	errNoProviderForm = errors.New("testenv: no login or consent form on the provider's page")
)

// ProviderLoginHTTP signs in at the test OpenID provider without a browser:
// it opens authURL (an authorization request to the provider) with client,
// posts the dev login form as login (any password) and the consent form when
// one is shown, and returns the URL the provider finally redirects to on
// another origin (normally the client's redirect_uri with code, state and
// iss). client's Jar carries the provider's cookies; nil client or jar means
// a fresh one. Redirects are followed only on the provider's origin. ctx
// bounds the whole exchange.
func ProviderLoginHTTP(ctx context.Context, client *http.Client, authURL, login string) (*url.URL, error) {
	start, err := url.Parse(authURL)
	if err != nil {
		return nil, err
	}
	origin := start.Scheme + "://" + start.Host
	var c http.Client
	if client != nil {
		c = *client
	}
	if c.Jar == nil {
		c.Jar, _ = cookiejar.New(nil)
	}
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Scheme+"://"+req.URL.Host != origin {
			return http.ErrUseLastResponse
		}
		if len(via) > 20 {
			return errors.New("testenv: too many redirects at the provider")
		}
		return nil
	}

	method, target, form := http.MethodGet, start, url.Values(nil)
	for step := 0; step < 8; step++ {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequestWithContext(ctx, method, target.String(), body)
		if err != nil {
			return nil, err
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, fmt.Errorf("testenv: provider login: %w", err)
		}
		page, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			loc, err := resp.Location()
			if err != nil {
				return nil, fmt.Errorf("testenv: provider redirect: %w", err)
			}
			return loc, nil // off the provider's origin: CheckRedirect stopped here
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("testenv: provider login: %s at %s: %.300s", resp.Status, resp.Request.URL.Path, page)
		}
		action, prompt := formAction.FindSubmatch(page), formPrompt.FindSubmatch(page)
		if action == nil || prompt == nil {
			return nil, fmt.Errorf("%w (%s): %.300s", errNoProviderForm, resp.Request.URL.Path, page)
		}
		next, err := resp.Request.URL.Parse(html.UnescapeString(string(action[1])))
		if err != nil {
			return nil, err
		}
		switch string(prompt[1]) {
		case "login":
			form = url.Values{"prompt": {"login"}, "login": {login}, "password": {"any"}}
		case "consent":
			form = url.Values{"prompt": {"consent"}}
		default:
			return nil, fmt.Errorf("testenv: unknown prompt %q", prompt[1])
		}
		method, target = http.MethodPost, next
	}
	return nil, errors.New("testenv: provider login did not finish in 8 steps")
}
