package jwt

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pubauth/awsauth/internal/jwks"
)

func TestIDTokenProfile(t *testing.T) {
	v := newVerifier(t, offlineKeys(t), IDToken([]string{testClient}, []string{"trusted"}, true))
	sec := func(d time.Duration) int64 { return testNow.Add(d).Unix() }
	cases := []struct {
		name   string
		header map[string]any
		claims map[string]any
		opts   Options
		want   error // nil: accepted
	}{
		{"good", nil, idClaims(), Options{Nonce: "n-1"}, nil},
		{"typ JWT", map[string]any{"typ": "JWT"}, idClaims(), Options{}, nil},
		{"typ application/jwt", map[string]any{"typ": "application/JWT"}, idClaims(), Options{}, nil},
		{"typ at+jwt", map[string]any{"typ": "at+jwt"}, idClaims(), Options{}, ErrType},
		{"typ application/at+jwt", map[string]any{"typ": "application/at+jwt"}, idClaims(), Options{}, ErrType},
		{"typ logout+jwt", map[string]any{"typ": "logout+jwt"}, idClaims(), Options{}, ErrType},
		{"typ empty media type", map[string]any{"typ": "application/"}, idClaims(), Options{}, ErrType},
		{"iss trailing slash", nil, with(idClaims(), map[string]any{"iss": testIssuer + "/"}), Options{}, ErrIssuer},
		{"iss case", nil, with(idClaims(), map[string]any{"iss": strings.ToUpper(testIssuer)}), Options{}, ErrIssuer},
		{"sub missing", nil, with(idClaims(), map[string]any{"sub": nil}), Options{}, ErrSubject},
		{"sub empty", nil, with(idClaims(), map[string]any{"sub": ""}), Options{}, ErrSubject},
		{"aud missing", nil, with(idClaims(), map[string]any{"aud": nil}), Options{}, ErrAudience},
		{"aud wrong", nil, with(idClaims(), map[string]any{"aud": "other"}), Options{}, ErrAudience},
		{"aud empty list", nil, with(idClaims(), map[string]any{"aud": []string{}}), Options{}, ErrClaimType},
		{"aud number", nil, with(idClaims(), map[string]any{"aud": 7}), Options{}, ErrClaimType},
		{"aud list of numbers", nil, with(idClaims(), map[string]any{"aud": []int{7}}), Options{}, ErrClaimType},
		{"several aud without azp", nil, with(idClaims(), map[string]any{"aud": []string{testClient, "trusted"}}), Options{}, ErrAuthorizedParty},
		{"several aud with azp", nil, with(idClaims(), map[string]any{"aud": []string{testClient, "trusted"}, "azp": testClient}), Options{}, nil},
		{"azp another client", nil, with(idClaims(), map[string]any{"azp": "other"}), Options{}, ErrAuthorizedParty},
		{"untrusted extra aud", nil, with(idClaims(), map[string]any{"aud": []string{testClient, "evil"}, "azp": testClient}), Options{}, ErrAudience},
		{"iat missing", nil, with(idClaims(), map[string]any{"iat": nil}), Options{}, ErrNoIssuedAt},
		{"iat future", nil, with(idClaims(), map[string]any{"iat": sec(2 * time.Minute)}), Options{}, ErrIssuedAt},
		{"iat within skew", nil, with(idClaims(), map[string]any{"iat": sec(30 * time.Second)}), Options{}, nil},
		{"iat before the request", nil, idClaims(), Options{IssuedAfter: testNow.Add(2 * time.Minute)}, ErrIssuedAt},
		{"iat far in the past", nil, with(idClaims(), map[string]any{"iat": sec(-48 * time.Hour)}), Options{}, ErrLifetime},
		{"exp missing", nil, with(idClaims(), map[string]any{"exp": nil}), Options{}, ErrNoExpiry},
		{"exp past", nil, with(idClaims(), map[string]any{"exp": sec(-2 * time.Minute)}), Options{}, ErrExpired},
		{"exp string", nil, with(idClaims(), map[string]any{"exp": "1999999999"}), Options{}, ErrClaimType},
		{"exp huge", nil, with(idClaims(), map[string]any{"exp": 1e300}), Options{}, ErrClaimRange},
		{"exp years ahead", nil, with(idClaims(), map[string]any{"exp": sec(3 * 365 * 24 * time.Hour)}), Options{}, ErrLifetime},
		{"nbf future", nil, with(idClaims(), map[string]any{"nbf": sec(2 * time.Minute)}), Options{}, ErrNotYetValid},
		{"nbf within skew", nil, with(idClaims(), map[string]any{"nbf": sec(30 * time.Second)}), Options{}, nil},
		{"nonce missing", nil, with(idClaims(), map[string]any{"nonce": nil}), Options{Nonce: "n-1"}, ErrNonce},
		{"nonce wrong", nil, idClaims(), Options{Nonce: "n-2"}, ErrNonce},
		{"refresh: nonce absent", nil, with(idClaims(), map[string]any{"nonce": nil}), Options{Nonce: "n-1", NonceOptional: true}, nil},
		{"refresh: nonce other", nil, idClaims(), Options{Nonce: "n-2", NonceOptional: true}, ErrNonce},
		// OIDC Core §3.1.2.1, §3.1.3.7 step 13: max_age sent → auth_time required and checked
		// with the one skew (1 minute); prompt=login → auth_time after the login began; acr_values.
		{"max_age: auth_time missing", nil, idClaims(), Options{MaxAge: 5 * time.Minute}, ErrAuthTime},
		{"max_age: auth_time recent", nil, with(idClaims(), map[string]any{"auth_time": sec(-5 * time.Minute)}), Options{MaxAge: 5 * time.Minute}, nil},
		{"max_age: auth_time within skew", nil, with(idClaims(), map[string]any{"auth_time": sec(-6 * time.Minute)}), Options{MaxAge: 5 * time.Minute}, nil},
		{"max_age: auth_time too old", nil, with(idClaims(), map[string]any{"auth_time": sec(-6*time.Minute - time.Second)}), Options{MaxAge: 5 * time.Minute}, ErrAuthTime},
		{"max_age: auth_time in the future", nil, with(idClaims(), map[string]any{"auth_time": sec(2 * time.Minute)}), Options{MaxAge: 5 * time.Minute}, ErrAuthTime},
		{"max_age: auth_time a string", nil, with(idClaims(), map[string]any{"auth_time": "1999999999"}), Options{MaxAge: 5 * time.Minute}, ErrClaimType},
		{"no max_age: auth_time absent", nil, idClaims(), Options{}, nil},
		{"no max_age: old auth_time", nil, with(idClaims(), map[string]any{"auth_time": sec(-20 * time.Hour)}), Options{}, nil},
		{"prompt=login: auth_time missing", nil, idClaims(), Options{AuthenticatedAfter: testNow.Add(-time.Minute)}, ErrAuthTime},
		{"prompt=login: authenticated since", nil, with(idClaims(), map[string]any{"auth_time": sec(-30 * time.Second)}), Options{AuthenticatedAfter: testNow.Add(-time.Minute)}, nil},
		{"prompt=login: authenticated before the login", nil, with(idClaims(), map[string]any{"auth_time": sec(-3 * time.Minute)}), Options{AuthenticatedAfter: testNow.Add(-time.Minute)}, ErrAuthTime},
		{"acr_values: acr missing", nil, idClaims(), Options{ACRValues: []string{"mfa"}}, ErrACR},
		{"acr_values: acr asked", nil, with(idClaims(), map[string]any{"acr": "mfa"}), Options{ACRValues: []string{"pwd+otp", "mfa"}}, nil},
		{"acr_values: acr not asked", nil, with(idClaims(), map[string]any{"acr": "pwd"}), Options{ACRValues: []string{"mfa"}}, ErrACR},
		{"acr_values: acr case", nil, with(idClaims(), map[string]any{"acr": "MFA"}), Options{ACRValues: []string{"mfa"}}, ErrACR},
		{"acr_values: acr a list", nil, with(idClaims(), map[string]any{"acr": []string{"mfa"}}), Options{ACRValues: []string{"mfa"}}, ErrClaimType},
		{"token_use access", nil, with(idClaims(), map[string]any{"token_use": "access"}), Options{}, ErrTokenUse},
		{"token_use id", nil, with(idClaims(), map[string]any{"token_use": "id"}), Options{}, nil},
		{"alg none", map[string]any{"alg": "none"}, idClaims(), Options{}, ErrAlgorithm},
		{"alg HS256", map[string]any{"alg": "HS256"}, idClaims(), Options{}, ErrAlgorithm},
		{"unknown kid", map[string]any{"kid": "other"}, idClaims(), Options{}, ErrSignature},
		{"jku header", map[string]any{"jku": "https://evil"}, idClaims(), Options{}, ErrMalformed},
		{"crit header", map[string]any{"crit": []string{"exp"}}, idClaims(), Options{}, ErrMalformed},
		{"duplicate claim", nil, nil, Options{}, ErrClaimsJSON},
		{"case-folded claim", nil, with(idClaims(), map[string]any{"SUB": "bob"}), Options{}, ErrClaimFold},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var tok string
			if c.claims == nil { // a duplicate member can't come from a map
				h := `{"alg":"RS256","kid":"k0"}`
				tok = signRaw(t, h, `{"iss":"`+testIssuer+`","sub":"alice","sub":"bob"}`)
			} else {
				tok = mint(t, 0, c.header, c.claims)
			}
			got, err := v.Verify(context.Background(), tok, c.opts)
			if c.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if got.Subject != "alice" {
					t.Fatalf("sub = %q", got.Subject)
				}
				return
			}
			if !errors.Is(err, c.want) || !errors.Is(err, ErrInvalid) || got != nil {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if strings.Contains(err.Error(), "alice") || strings.Contains(err.Error(), tok[:20]) {
				t.Fatalf("error quotes the token or a claim: %v", err)
			}
		})
	}
}

func TestAccessTokenProfile(t *testing.T) {
	ks := offlineKeys(t)
	cognito := newVerifier(t, ks, AccessToken([]string{testClient}, nil, false, false))
	rfc9068 := newVerifier(t, ks, AccessToken(nil, []string{"https://api"}, true, true))
	rfc9068Claims := with(accessClaims(), map[string]any{"token_use": nil, "aud": "https://api"})
	cases := []struct {
		name   string
		v      *Verifier
		header map[string]any
		claims map[string]any
		want   error
	}{
		{"cognito good", cognito, nil, accessClaims(), nil},
		{"cognito ID token", cognito, nil, with(accessClaims(), map[string]any{"token_use": "id"}), ErrTokenUse},
		{"cognito no token_use", cognito, nil, with(accessClaims(), map[string]any{"token_use": nil}), ErrTokenUse},
		{"cognito other client", cognito, nil, with(accessClaims(), map[string]any{"client_id": "other"}), ErrClientID},
		{"cognito logout+jwt", cognito, map[string]any{"typ": "logout+jwt"}, accessClaims(), ErrType},
		{"cognito other pool", cognito, nil, with(accessClaims(), map[string]any{"iss": "https://idp.example.evil"}), ErrIssuer},
		{"rfc9068 good", rfc9068, map[string]any{"typ": "at+jwt"}, rfc9068Claims, nil},
		{"rfc9068 application/at+jwt", rfc9068, map[string]any{"typ": "application/AT+JWT"}, rfc9068Claims, nil},
		{"rfc9068 no typ", rfc9068, nil, rfc9068Claims, ErrType},
		{"rfc9068 typ JWT", rfc9068, map[string]any{"typ": "JWT"}, rfc9068Claims, ErrType},
		{"rfc9068 other aud", rfc9068, map[string]any{"typ": "at+jwt"}, with(rfc9068Claims, map[string]any{"aud": "https://other"}), ErrAudience},
		{"rfc9068 token_use id", rfc9068, map[string]any{"typ": "at+jwt"}, with(rfc9068Claims, map[string]any{"token_use": "id"}), ErrTokenUse},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.v.Verify(context.Background(), mint(t, 0, c.header, c.claims), Options{})
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func TestNewRefusesOpenProfiles(t *testing.T) {
	ks := offlineKeys(t)
	for name, cfg := range map[string]Config{
		"no issuer":               {Keys: ks, Profile: IDToken([]string{testClient}, nil, true)},
		"no keys":                 {Issuer: testIssuer, Profile: IDToken([]string{testClient}, nil, true)},
		"ID token without client": {Issuer: testIssuer, Keys: ks, Profile: IDToken(nil, nil, true)},
		"access token unbound":    {Issuer: testIssuer, Keys: ks, Profile: AccessToken(nil, nil, false, false)},
		"empty client id":         {Issuer: testIssuer, Keys: ks, Profile: AccessToken([]string{""}, nil, false, false)},
		"skew too large":          {Issuer: testIssuer, Keys: ks, Profile: IDToken([]string{testClient}, nil, true), ClockSkew: time.Hour},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}

// A key rotated right after an unknown-kid probe burned the refetch interval: a token from the
// token endpoint (RefetchOnce) still verifies with exactly one more fetch; the same token sent
// by anyone (RefetchLimited) waits for the interval. A failing fetch is ErrKeySetUnavailable.
func TestRefetchPolicyPerToken(t *testing.T) {
	var body atomic.Value
	body.Store(jwksOf(0, "k0"))
	var fail atomic.Bool
	var fetches atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		if fail.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Write(body.Load().([]byte))
	}))
	defer srv.Close()
	ks, err := jwks.New(jwks.Config{URL: srv.URL, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, ks, IDToken([]string{testClient}, nil, true))
	ctx := context.Background()
	if _, err := v.Verify(ctx, mint(t, 0, nil, idClaims()), Options{}); err != nil {
		t.Fatal(err)
	}
	probe := mint(t, 0, map[string]any{"kid": "probe"}, idClaims())
	if _, err := v.Verify(ctx, probe, Options{}); !errors.Is(err, ErrSignature) {
		t.Fatalf("probe: %v", err)
	}
	// The provider rotates to key 1 ("k1") while the interval holds.
	body.Store(jwksOf(1, "k1"))
	rotated := mint(t, 1, map[string]any{"kid": "k1"}, idClaims())
	before := fetches.Load()
	if _, err := v.Verify(ctx, rotated, Options{Refetch: jwks.RefetchLimited}); !errors.Is(err, ErrSignature) {
		t.Fatalf("limited: %v", err)
	}
	if _, err := v.Verify(ctx, rotated, Options{Refetch: jwks.RefetchOnce}); err != nil {
		t.Fatalf("once: %v", err)
	}
	if n := fetches.Load() - before; n != 1 {
		t.Fatalf("fetches = %d, want exactly 1", n)
	}
	fail.Store(true)
	if _, err := v.Verify(ctx, mint(t, 1, map[string]any{"kid": "k2"}, idClaims()), Options{Refetch: jwks.RefetchOnce}); !errors.Is(err, ErrKeySetUnavailable) || errors.Is(err, ErrInvalid) {
		t.Fatalf("failing fetch: %v", err)
	}
}

// signRaw signs a hand-written header and payload with key 0.
func signRaw(t testing.TB, header, payload string) string {
	t.Helper()
	return signInput(t, b64([]byte(header))+"."+b64([]byte(payload)))
}
