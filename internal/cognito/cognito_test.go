package cognito

import "testing"

func TestPoolIssuer(t *testing.T) {
	for _, tt := range []struct {
		name string
		pool Pool
		want string // "" = refused
	}{
		{"original by default", Pool{ID: "eu-west-1_AbC123"}, "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"},
		{"original", Pool{ID: "us-gov-west-1_x9", IssuerType: Original}, "https://cognito-idp.us-gov-west-1.amazonaws.com/us-gov-west-1_x9"},
		{"updated", Pool{ID: "eu-west-1_AbC123", IssuerType: Updated}, "https://issuer-cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"},
		{"original replica", Pool{ID: "eu-west-1_AbC123", Region: "us-east-1"}, "https://cognito-idp.us-east-1.amazonaws.com/eu-west-1_AbC123"},
		{"updated names the primary", Pool{ID: "eu-west-1_AbC123", IssuerType: Updated, Region: "eu-west-1"}, "https://issuer-cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"},
		{"China", Pool{ID: "cn-north-1_AbC", IssuerType: Updated}, "https://issuer-cognito-idp.cn-north-1.amazonaws.com.cn/cn-north-1_AbC"},
		{"updated never names a replica", Pool{ID: "eu-west-1_AbC123", IssuerType: Updated, Region: "us-east-1"}, ""},
		{"issuer type in lower case", Pool{ID: "eu-west-1_AbC123", IssuerType: "updated"}, ""},
		{"unknown issuer type", Pool{ID: "eu-west-1_AbC123", IssuerType: "MULTI"}, ""},
		{"no pool id", Pool{}, ""},
		{"pool id with a path", Pool{ID: "eu-west-1_Ab/../x"}, ""},
		{"Region with a host", Pool{ID: "eu-west-1_AbC123", Region: "eu-west-1.evil.example/x"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.pool.Issuer()
			if got != tt.want || (err == nil) != (tt.want != "") {
				t.Fatalf("Issuer() = %q, %v; want %q", got, err, tt.want)
			}
			if tt.want == "" {
				return
			}
			p, ok := ParseIssuer(got)
			if !ok {
				t.Fatalf("ParseIssuer(%q) refused its own issuer", got)
			}
			if back, _ := p.Issuer(); back != got {
				t.Fatalf("ParseIssuer(%q) = %+v, which spells %q", got, p, back)
			}
		})
	}
}

// TestParseIssuerLookalikes: only what Pool.Issuer spells is a Cognito issuer.
func TestParseIssuerLookalikes(t *testing.T) {
	for _, iss := range []string{
		"",
		"https://example.com/eu-west-1_AbC123",
		"http://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123",
		"https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123/",
		"https://issuer-cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123/",
		"https://issuer-cognito-idp.x.eu-west-1.amazonaws.com/eu-west-1_AbC123",
		"https://issuer-cognito-idp.eu-west-1.x.amazonaws.com/eu-west-1_AbC123",
		"https://x.issuer-cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123",
		"https://issuer-cognito-idp.eu-west-1.amazonaws.com.evil.example/eu-west-1_AbC123",
		"https://issuer-cognito-idp.us-east-1.amazonaws.com/eu-west-1_AbC123", // updated names the primary only
		"https://ISSUER-COGNITO-IDP.eu-west-1.amazonaws.com/eu-west-1_AbC123",
		"https://issuer-cognito-idp.eu-west-1.amazonaws.com/EU-WEST-1_AbC123",
		"HTTPS://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123",
		"https://user@issuer-cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123",
		"https://issuer-cognito-idp.eu-west-1.amazonaws.com:443/eu-west-1_AbC123",
		"https://issuer-cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123?x=1",
		"https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab/x",
		"https://cognito-idp.eu-west-1.amazonaws.com/x/eu-west-1_AbC123",
		"https://cognito-idp.eu-west-1.amazonaws.com.cn/eu-west-1_AbC123",
		"https://cognito-idp.cn-north-1.amazonaws.com/cn-north-1_AbC123",
		"https://issuer-cognito-idp-eu-west-1.amazonaws.com/eu-west-1_AbC123",
	} {
		if p, ok := ParseIssuer(iss); ok {
			t.Errorf("ParseIssuer(%q) = %+v, want refused", iss, p)
		}
	}
}

// TestParseIssuerReplica: an ORIGINAL iss naming another Region than its
// pool id's is a replica's; ParseIssuer says which, the caller decides.
func TestParseIssuerReplica(t *testing.T) {
	p, ok := ParseIssuer("https://cognito-idp.us-east-1.amazonaws.com/eu-west-1_AbC123")
	if !ok || p != (Pool{ID: "eu-west-1_AbC123", IssuerType: Original, Region: "us-east-1"}) {
		t.Fatalf("ParseIssuer = %+v, %v", p, ok)
	}
}

func TestCheckIssuer(t *testing.T) {
	for iss, ok := range map[string]bool{
		"https://issuer-cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123":  true,
		"https://cognito-idp.us-east-1.amazonaws.com/eu-west-1_AbC123":         true, // a replica's
		"https://login.example.com":                                            true, // not Cognito's
		"https://issuer-cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123/": false,
		"https://COGNITO-IDP.eu-west-1.amazonaws.com/eu-west-1_AbC123":         false,
		"https://idp.example.com/cognito-idp":                                  false,
	} {
		if err := CheckIssuer(iss); (err == nil) != ok {
			t.Errorf("CheckIssuer(%q) = %v", iss, err)
		}
	}
}

func TestRegionOf(t *testing.T) {
	for pool, want := range map[string]string{
		"eu-west-1_AbC123": "eu-west-1",
		"us-gov-west-1_x9": "us-gov-west-1",
		"eu-west-1":        "",
		"eu-west-1_":       "",
		"eu-west-1_a_b":    "",
		"EU-west-1_AbC":    "",
	} {
		got, ok := RegionOf(pool)
		if got != want || ok != (want != "") {
			t.Errorf("RegionOf(%q) = %q, %v", pool, got, ok)
		}
	}
}
