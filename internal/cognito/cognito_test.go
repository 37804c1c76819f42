package cognito

import "testing"

func TestIsIssuer(t *testing.T) {
	for iss, want := range map[string]bool{
		Issuer("eu-west-1", "eu-west-1_AbC123"):                         true,
		Issuer("us-gov-west-1", "us-gov-west-1_x9"):                     true,
		"https://cognito-idp.eu-west-1.amazonaws.com/us-east-1_AbC123":  false,
		"https://cognito-idp.eu-west-1.amazonaws.com.evil/eu-west-1_Ab": false,
		"http://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123":   false,
		"https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123/": false,
		"https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab/x":    false,
		"https://example.com/eu-west-1_AbC123":                          false,
		"":                                                              false,
	} {
		if got := IsIssuer(iss); got != want {
			t.Errorf("IsIssuer(%q) = %v", iss, got)
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
