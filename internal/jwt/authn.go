package jwt

import (
	"slices"
	"time"
)

// The rules of how a user authenticated (OIDC Core §2 auth_time and acr), written once: the
// Verifier applies them to an ID token at the callback (Options.MaxAge, AuthenticatedAfter,
// ACRValues) and authflow's step-up middleware to the session that token made.

// AuthTimeWithin reports whether authTime (auth_time; zero means the token had none) is at
// most maxAge before now, with skew for the issuer's clock: max_age's rule (OIDC Core
// §3.1.2.1; §3.1.3.7 step 13). An auth_time in the future beyond the skew fails too.
func AuthTimeWithin(authTime, now time.Time, maxAge, skew time.Duration) bool {
	if authTime.IsZero() {
		return false
	}
	return !authTime.Before(now.Add(-maxAge-skew)) && !authTime.After(now.Add(skew))
}

// ACRAccepted reports whether acr (the acr claim; "" means none) is one of values, the
// acr_values asked for (OIDC Core §3.1.2.1; acr requested as essential, §5.5.1.1).
func ACRAccepted(acr string, values []string) bool {
	return acr != "" && slices.Contains(values, acr)
}

// checkAuthentication applies o's MaxAge, AuthenticatedAfter and ACRValues to c.
func (v *Verifier) checkAuthentication(c *Claims, o *Options) error {
	if o.MaxAge <= 0 && o.AuthenticatedAfter.IsZero() && len(o.ACRValues) == 0 {
		return nil
	}
	now := v.now()
	authTime := c.AuthTime
	if !c.Has(ClaimAuthTime) {
		authTime = time.Time{}
	}
	switch {
	case o.MaxAge > 0 && !AuthTimeWithin(authTime, now, o.MaxAge, v.skew):
		return ErrAuthTime
	case !o.AuthenticatedAfter.IsZero() && (authTime.IsZero() || authTime.Before(o.AuthenticatedAfter.Add(-v.skew)) ||
		authTime.After(now.Add(v.skew))):
		return ErrAuthTime
	case len(o.ACRValues) > 0 && !ACRAccepted(c.ACR, o.ACRValues):
		return ErrACR
	}
	return nil
}
