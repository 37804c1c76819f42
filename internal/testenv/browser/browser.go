// Package browser drives a headless Chromium (through chromedp) for tests that
// sign in the way a user does: New starts the browser, ProviderLogin and
// ProviderConfirmLogout click through node oidc-provider's pages (see
// testenv.StartOIDC), SessionCookie reads the app's HttpOnly session cookie.
// It is apart from package testenv because chromedp is a large dependency the
// token stores' tests (and so `go mod tidy` in any module importing a store)
// must not pull in.
//
// The binary is $AWSAUTH_CHROMIUM, else chromium, chromium-browser or
// google-chrome on PATH: run `bash scripts/deps.sh` to install it.
package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/pubauth/awsauth/internal/testenv/internal/peer"
)

// New starts a headless Chromium with a fresh profile and returns a
// chromedp context for its first tab. cancel closes the browser and removes the
// profile; so does the end of ctx. The browser resolves no host names but
// localhost, so a page can reach only loopback peers (the provider's pages
// @import web fonts that would otherwise be looked up).
func New(ctx context.Context) (context.Context, context.CancelFunc, error) {
	bin, err := peer.FindBinary("AWSAUTH_CHROMIUM", "", "chromium", "chromium-browser", "google-chrome")
	if err != nil {
		return nil, nil, err
	}
	out := peer.NewOutput()
	// The defaults already hold headless, no-first-run, disable-sync and
	// disable-background-networking; chromedp makes and removes a temporary
	// user-data-dir.
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(bin),
		chromedp.NoSandbox, // root in containers; the pages are our own
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE [::1]"),
		chromedp.CombinedOutput(out),
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	cancel := func() { bcancel(); acancel() }
	// Start it now, so a broken browser fails here and not in a test's first step.
	// chromedp ties the browser's life to the context of this first run, so the
	// start is bounded by a timer that cancels, not by a derived context.
	timer := time.AfterFunc(peer.StartTimeout, cancel)
	err = chromedp.Do(bctx)
	if !timer.Stop() && err == nil {
		err = fmt.Errorf("not started within %v", peer.StartTimeout)
	}
	if err != nil {
		cancel()
		tail := out.String()
		if tail == "" {
			tail = "(no output)"
		}
		return nil, nil, fmt.Errorf("testenv: start %s: %w\n--- chromium output (tail) ---\n%s", bin, err, tail)
	}
	return bctx, cancel, nil
}

// pageState is what the page scripts below report.
type pageState struct {
	Href      string `json:"href"`
	Step      string `json:"step"` // what the script did or saw on this page
	Error     string `json:"error"`
	Ready     string `json:"ready"`     // document.readyState
	Submitted bool   `json:"submitted"` // the script has clicked on this page
}

// loginScript fills and submits the dev login form, or submits the consent
// form, once per page (a marker on window survives until the next page), and
// reports oidc-provider's error page.
const loginScript = `(() => {
  const r = {href: location.href, step: '', error: '', ready: document.readyState, submitted: !!window.__testenvSubmitted};
  if (document.title.startsWith('oops')) { r.step = 'error'; r.error = document.body.innerText; return r; }
  const prompt = document.querySelector('form input[name=prompt]');
  if (!prompt) return r;
  r.step = prompt.value;
  if (window.__testenvSubmitted) return r;
  const form = prompt.form;
  if (prompt.value === 'login') {
    form.querySelector('input[name=login]').value = LOGIN;
    form.querySelector('input[name=password]').value = 'password';
  } else if (prompt.value !== 'consent') {
    return r;
  }
  window.__testenvSubmitted = true;
  form.querySelector('button.login-submit').click();
  return r;
})()`

// ProviderLogin signs in at the test OpenID provider in the browser of ctx (from
// New): call it once the browser is on, or on its way to, the provider's
// login or consent page. It fills the dev login form with login (any password
// works), submits it, confirms the consent page when one is shown, and returns
// once the browser has left the provider's origin (normally for the client's
// redirect URI). It waits at most until ctx ends, and 30 s when ctx has no deadline.
func ProviderLogin(ctx context.Context, login string) error {
	quoted, err := json.Marshal(login)
	if err != nil {
		return err
	}
	script := strings.Replace(loginScript, "LOGIN", string(quoted), 1)
	return drivePages(ctx, "provider login", script, func(s pageState) bool {
		return s.Step == "login" || s.Step == "consent"
	})
}

const logoutScript = `(() => {
  const r = {href: location.href, step: '', error: '', ready: document.readyState, submitted: !!window.__testenvSubmitted};
  if (document.title.startsWith('oops')) { r.step = 'error'; r.error = document.body.innerText; return r; }
  const yes = document.querySelector('button[name=logout][value=yes]');
  if (!yes) return r;
  r.step = 'confirm';
  if (!window.__testenvSubmitted) { window.__testenvSubmitted = true; yes.click(); }
  return r;
})()`

// ProviderConfirmLogout answers "Yes, sign me out" on the provider's
// end-session confirmation page, which it shows for RP-initiated logout when
// testenv.OIDCConfig.ConfirmLogout is set and the browser has a session there. Call it
// once the browser is on, or on its way to, that page; it returns once the
// browser has left the provider's origin (for post_logout_redirect_uri, or the
// provider's own "Sign-out Success" page when none was given: that page stays
// on the origin, so give one). Without ConfirmLogout the page submits itself
// and nothing needs clicking.
func ProviderConfirmLogout(ctx context.Context) error {
	return drivePages(ctx, "provider logout", logoutScript, func(s pageState) bool {
		return s.Step == "confirm"
	})
}

// drivePages runs script on whatever page is loaded, every peer.PollInterval, until
// the browser leaves the origin of the first page where isProvider held.
// Evaluation errors while a page is navigating away are expected and retried.
func drivePages(ctx context.Context, what, script string, isProvider func(pageState) bool) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, peer.StartTimeout)
		defer cancel()
	}
	tick := time.NewTicker(peer.PollInterval)
	defer tick.Stop()
	var origin string
	var last pageState
	var lastErr error
	var trace []string // distinct states seen, for the error of a stuck login
	start := time.Now()
	for {
		s, err := chromedp.Run(ctx, chromedp.Evaluate[pageState](script))
		if t := fmt.Sprintf("%v %+v %v", time.Since(start).Round(time.Millisecond), s, err); len(trace) == 0 || trace[len(trace)-1][strings.Index(trace[len(trace)-1], " "):] != t[strings.Index(t, " "):] {
			trace = append(trace, t)
		}
		switch {
		case err != nil:
			lastErr = err
		case s.Step == "error":
			return fmt.Errorf("testenv: %s: the provider shows an error page at %s: %s", what, s.Href, strings.TrimSpace(s.Error))
		default:
			last, lastErr = s, nil
			if origin == "" && isProvider(s) {
				origin = originOf(s.Href)
			}
			if origin != "" && originOf(s.Href) != origin {
				return nil
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			if origin == "" {
				return fmt.Errorf("testenv: %s: no provider page showed up (last at %q, %v): %w", what, last.Href, lastErr, context.Cause(ctx))
			}
			return fmt.Errorf("testenv: %s: still on %s (%v): %w\n%s", what, last.Href, lastErr, context.Cause(ctx), strings.Join(trace, "\n"))
		}
	}
}

func originOf(href string) string {
	u, err := url.Parse(href)
	if err != nil || u.Host == "" {
		return href // about:blank, chrome-error://...: not the provider's
	}
	return u.Scheme + "://" + u.Host
}

// SessionCookieName is the cookie authflow keeps its session id in.
const SessionCookieName = "__Host-awsauth-session"

// SessionCookie returns the session cookie (SessionCookieName) the browser
// holds for appURL, read through the DevTools protocol since it is HttpOnly.
// Right after a login the browser may still be following the callback's
// redirects, so it waits for the cookie, bounded by ctx and 10 s.
func SessionCookie(ctx context.Context, appURL string) (*http.Cookie, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{appURL + "/"}})
		if err != nil {
			return nil, fmt.Errorf("testenv: reading the browser's cookies: %w", err)
		}
		for _, c := range res.Cookies {
			if c.Name == SessionCookieName {
				return &http.Cookie{Name: c.Name, Value: c.Value}, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("testenv: no session cookie for %s: %w", appURL, context.Cause(ctx))
		case <-time.After(peer.PollInterval): // readiness polling, bounded by ctx
		}
	}
}
