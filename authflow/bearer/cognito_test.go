package bearer

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

const (
	testPool       = "eu-west-1_AbC123"
	originalIss    = "https://cognito-idp.eu-west-1.amazonaws.com/" + testPool
	updatedIss     = "https://issuer-cognito-idp.eu-west-1.amazonaws.com/" + testPool
	replicaIss     = "https://cognito-idp.us-east-1.amazonaws.com/" + testPool // ORIGINAL, replica in us-east-1
	updatedReplica = "https://issuer-cognito-idp.us-east-1.amazonaws.com/" + testPool
)

// cognitoRoutes stands in for AWS: each Cognito jwks.json URL is served by
// the hostile OP that holds that issuer's keys; any other request fails the
// test. It records what was asked for.
type cognitoRoutes struct {
	t      *testing.T
	routes map[string]*bearerOP // Cognito JWKS URL → the OP serving it

	mu   sync.Mutex
	seen []string
}

func (c *cognitoRoutes) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.seen = append(c.seen, r.URL.String())
	c.mu.Unlock()
	op, ok := c.routes[r.URL.String()]
	if !ok {
		c.t.Errorf("unexpected request to %s", r.URL)
		return nil, errors.New("no route")
	}
	u, _ := url.Parse(op.jwksURL())
	r = r.Clone(r.Context())
	r.URL, r.Host = u, u.Host
	return http.DefaultTransport.RoundTrip(r)
}

// TestBearerCognitoIssuerFormats: tokens minted by hostile OPs under a user
// pool's issuers pass exactly where that issuer type is configured, each on
// the key set at its own issuer's jwks.json; lookalikes are refused before
// any key is fetched.
func TestBearerCognitoIssuerFormats(t *testing.T) {
	clock := newTestClock()
	opOriginal, opUpdated, opReplica := newBearerOP(t), newBearerOP(t), newBearerOP(t)
	rt := &cognitoRoutes{t: t, routes: map[string]*bearerOP{
		originalIss + "/.well-known/jwks.json": opOriginal,
		updatedIss + "/.well-known/jwks.json":  opUpdated,
		replicaIss + "/.well-known/jwks.json":  opReplica,
	}}
	verifier := func(pools ...CognitoPool) *Verifier {
		cfg := Config{HTTPClient: &http.Client{Transport: rt}, Now: clock.Now, Logger: slog.New(slog.DiscardHandler)}
		for _, p := range pools {
			cfg.Issuers = append(cfg.Issuers, Cognito(p, testClient))
		}
		v, err := New(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	original := verifier(CognitoPool{ID: testPool})
	updated := verifier(CognitoPool{ID: testPool, IssuerType: "UPDATED"})
	replicated := verifier(CognitoPool{ID: testPool}, CognitoPool{ID: testPool, Region: "us-east-1"})
	migrating := verifier(CognitoPool{ID: testPool}, CognitoPool{ID: testPool, IssuerType: "UPDATED"})

	mint := func(op *bearerOP, iss string) string {
		c := op.claims(clock.Now(), testClient)
		c["iss"] = iss
		return op.mint("k1", c)
	}
	for _, tc := range []struct {
		name string
		v    *Verifier
		tok  string
		ok   bool
	}{
		{"original where configured", original, mint(opOriginal, originalIss), true},
		{"updated where configured", updated, mint(opUpdated, updatedIss), true},
		{"replica where configured", replicated, mint(opReplica, replicaIss), true},
		{"primary beside a replica", replicated, mint(opOriginal, originalIss), true},
		{"original while migrating", migrating, mint(opOriginal, originalIss), true},
		{"updated while migrating", migrating, mint(opUpdated, updatedIss), true},

		{"updated where original is configured", original, mint(opUpdated, updatedIss), false},
		{"original where updated is configured", updated, mint(opOriginal, originalIss), false},
		{"replica where not configured", original, mint(opReplica, replicaIss), false},
		{"replica where updated is configured", updated, mint(opReplica, replicaIss), false},
		{"updated naming a replica's Region", updated, mint(opUpdated, updatedReplica), false},
		{"replica signed by the primary's key", replicated, mint(opOriginal, replicaIss), false},
		{"updated signed by the original's key", migrating, mint(opOriginal, updatedIss), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.v.Verify(t.Context(), tc.tok)
			if tc.ok && err != nil {
				t.Fatal(err)
			}
			if !tc.ok {
				wantVerifyErr(t, err, ErrInvalidToken, tc.tok)
			}
		})
	}

	// Lookalikes of the configured issuers buy no key fetch.
	fetches := opOriginal.fetches.Load() + opUpdated.fetches.Load() + opReplica.fetches.Load()
	for _, iss := range []string{
		"https://issuer-cognito-idp.x.eu-west-1.amazonaws.com/" + testPool, // an extra label
		"https://x.issuer-cognito-idp.eu-west-1.amazonaws.com/" + testPool,
		"https://issuer-cognito-idp.eu-west-1.amazonaws.com.evil.example/" + testPool,
		updatedIss + "/", // a trailing slash
		strings.ToUpper(updatedIss[:30]) + updatedIss[30:], // case
		"https://Issuer-Cognito-Idp.eu-west-1.amazonaws.com/" + testPool,
		"https://user@issuer-cognito-idp.eu-west-1.amazonaws.com/" + testPool, // user info
		"https://issuer-cognito-idp.eu-west-1.amazonaws.com:443/" + testPool,
		"https://issuer-cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC123", // a pool id of another Region
		"https://issuer-cognito-idp.eu-west-1.amazonaws.com/us-east-1_AbC123",
		"https://cognito-idp.eu-west-1.amazonaws.com/us-east-1_AbC123",
		"https://issuer-cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC124", // another pool
		"https://cognito-idp.eu-central-1.amazonaws.com/" + testPool,          // a replica nobody configured
		updatedReplica,
	} {
		for _, v := range []*Verifier{original, updated, replicated, migrating} {
			tok := mint(opUpdated, iss)
			if _, err := v.Verify(t.Context(), tok); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("iss %q: err = %v, want ErrInvalidToken", iss, err)
			}
		}
	}
	if got := opOriginal.fetches.Load() + opUpdated.fetches.Load() + opReplica.fetches.Load(); got != fetches {
		t.Errorf("lookalike issuers caused %d key fetches", got-fetches)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, u := range rt.seen {
		if _, ok := rt.routes[u]; !ok {
			t.Errorf("fetched %s", u)
		}
	}
}

// TestBearerCognitoLookalikeConfig: an Issuer naming cognito-idp must be a
// user pool issuer exactly; a lookalike is refused at New, before any request.
func TestBearerCognitoLookalikeConfig(t *testing.T) {
	for _, iss := range []string{
		"https://issuer-cognito-idp.x.eu-west-1.amazonaws.com/" + testPool,
		updatedIss + "/",
		"https://ISSUER-COGNITO-IDP.eu-west-1.amazonaws.com/" + testPool,
		"https://issuer-cognito-idp.eu-west-1.amazonaws.com/EU-west-1_AbC123",
		"https://user@issuer-cognito-idp.eu-west-1.amazonaws.com/" + testPool,
		updatedReplica,
		"https://issuer-cognito-idp.eu-west-1.amazonaws.com.evil.example/" + testPool,
		"https://cognito-idp.eu-west-1.amazonaws.com/" + testPool + "/x",
	} {
		_, err := New(t.Context(), Config{
			Issuers:    []Issuer{{Issuer: iss, ClientIDs: []string{testClient}}},
			HTTPClient: &http.Client{Transport: failTransport{t}},
		})
		if err == nil || !strings.HasPrefix(err.Error(), "bearer: invalid config") {
			t.Errorf("New accepted %q: %v", iss, err)
		}
	}
	// Written out by hand, each issuer type is accepted too, with no request.
	for _, iss := range []string{originalIss, updatedIss, replicaIss} {
		if _, err := New(t.Context(), Config{
			Issuers:    []Issuer{{Issuer: iss, ClientIDs: []string{testClient}}},
			HTTPClient: &http.Client{Transport: failTransport{t}},
		}); err != nil {
			t.Errorf("New refused %q: %v", iss, err)
		}
	}
}

// TestBearerCognitoPrimedJWKS: a Cognito issuer whose key set is primed
// from a document (Issuer.JWKS) verifies with no request, and still fetches
// the pool's own jwks.json, once, for a kid the document lacks.
func TestBearerCognitoPrimedJWKS(t *testing.T) {
	clock := newTestClock()
	op := newBearerOP(t)
	rt := &cognitoRoutes{t: t, routes: map[string]*bearerOP{originalIss + "/.well-known/jwks.json": op}}
	iss := Cognito(CognitoPool{ID: testPool}, testClient)
	iss.JWKS = op.jwksDoc()
	v, err := New(t.Context(), Config{Issuers: []Issuer{iss}, HTTPClient: &http.Client{Transport: rt},
		Now: clock.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	mint := func(kid string) string {
		c := op.claims(clock.Now(), testClient)
		c["iss"] = originalIss
		return op.mint(kid, c)
	}
	if _, err := v.Verify(t.Context(), mint("k1")); err != nil {
		t.Fatal(err)
	}
	if n := op.fetches.Load(); n != 0 {
		t.Fatalf("primed: %d key set fetches, want 0", n)
	}
	op.addKey("k2") // rotated in after the document was saved
	if _, err := v.Verify(t.Context(), mint("k2")); err != nil {
		t.Fatal(err)
	}
	if n := op.fetches.Load(); n != 1 {
		t.Errorf("an unknown kid: %d key set fetches, want 1", n)
	}
}
