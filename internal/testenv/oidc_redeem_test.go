package testenv

import (
	"context"
	"net/http"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// refreshTokenFor signs in as login at p through client id and returns the
// token response of the code exchange (with a refresh token).
func refreshTokenFor(t *testing.T, p *OIDCProvider, id, redirect, login string) *oauth2.Token {
	t.Helper()
	d := discover(t, p)
	oc := &oauth2.Config{ClientID: id, RedirectURL: redirect, Scopes: []string{"openid", "offline_access"},
		Endpoint: oauth2.Endpoint{AuthURL: d.AuthorizationEndpoint, TokenURL: d.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams}}
	verifier := oauth2.GenerateVerifier()
	authURL := oc.AuthCodeURL("state-1234567890", oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("prompt", "consent"), oauth2.SetAuthURLParam("nonce", "nonce-1234567890"))
	cb, err := ProviderLoginHTTP(t.Context(), nil, authURL, login)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := oc.Exchange(t.Context(), cb.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	return tok
}

// RefreshRedeems counts a refresh token presented twice as one reuse (and the
// rotating provider then revokes the grant); a Restart loses every grant.
func TestOIDCRefreshRedeemsAndRestart(t *testing.T) {
	const redirect = "http://127.0.0.1:1/callback"
	p := startOIDC(t, OIDCConfig{Clients: []OIDCClient{{ID: "redeem", RedirectURIs: []string{redirect}}}, RotateRefreshToken: true})
	d := discover(t, p)
	oc := &oauth2.Config{ClientID: "redeem", Endpoint: oauth2.Endpoint{TokenURL: d.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams}}
	refresh := func(rt string) (*oauth2.Token, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		return oc.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
	}

	first := refreshTokenFor(t, p, "redeem", redirect, "alice")
	next, err := refresh(first.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if next.RefreshToken == "" || next.RefreshToken == first.RefreshToken {
		t.Fatal("the refresh token was not rotated")
	}
	if total, reused := p.RefreshRedeems(); total != 1 || reused != 0 {
		t.Fatalf("after one refresh: RefreshRedeems() = %d, %d; want 1, 0", total, reused)
	}
	if _, err := refresh(first.RefreshToken); err == nil {
		t.Fatal("a reused refresh token was accepted")
	}
	if total, reused := p.RefreshRedeems(); total != 2 || reused != 1 {
		t.Fatalf("after a reuse: RefreshRedeems() = %d, %d; want 2, 1", total, reused)
	}
	if _, err := refresh(next.RefreshToken); err == nil {
		t.Fatal("the grant survived the reuse of its refresh token")
	}

	// A restart loses every grant: a fresh refresh token is refused after it.
	fresh := refreshTokenFor(t, p, "redeem", redirect, "bob")
	if err := p.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := refresh(fresh.RefreshToken); err == nil {
		t.Fatal("a refresh token survived the restart")
	}
	resp, err := http.Get(p.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery after restart: %s", resp.Status)
	}
	refreshTokenFor(t, p, "redeem", redirect, "carol") // and logins work again
}
