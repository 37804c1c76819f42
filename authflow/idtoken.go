package authflow

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// ErrIDToken wraps every reason an ID token is refused.
var ErrIDToken = errors.New("authflow: invalid ID token")

// ErrNonceMismatch is returned (wrapped in ErrIDToken) when the ID token's
// nonce is not the one the login sent (OIDC Core §3.1.3.7 step 11).
var ErrNonceMismatch = fmt.Errorf("%w: nonce mismatch", ErrIDToken)

// maxIDTokenLifetime bounds exp from now: a provider sending a token valid
// for years is broken or lying.
const maxIDTokenLifetime = 24 * time.Hour

// idClaims are the claims checked beyond what go-oidc's verifier checks.
// Times stay raw so their JSON type can be checked: go-oidc accepts strings.
type idClaims struct {
	Issuer    string          `json:"iss"`
	Subject   *string         `json:"sub"`
	Audience  json.RawMessage `json:"aud"`
	AZP       *string         `json:"azp"`
	Nonce     *string         `json:"nonce"`
	Expiry    json.RawMessage `json:"exp"`
	IssuedAt  json.RawMessage `json:"iat"`
	NotBefore json.RawMessage `json:"nbf"`
}

// verifiedIDToken is an ID token that passed every check.
type verifiedIDToken struct {
	Raw      string
	Subject  string
	Audience []string
	AZP      string
	Nonce    string
	Expiry   time.Time
	claims   map[string]json.RawMessage
}

// idTokenVerifier runs go-oidc's verifier (signature on the project's key
// set, iss, aud contains client_id, exp, nbf, alg allow-list) and then what
// go-oidc leaves to the caller.
type idTokenVerifier struct {
	oidc             *oidc.IDTokenVerifier
	clientID         string
	trustedAudiences []string
	skew             time.Duration
	maxAge           time.Duration
	now              func() time.Time
}

// verify checks raw. wantNonce is required at the callback; after a refresh
// the caller checks nonce itself (absent or the original).
func (v *idTokenVerifier) verify(ctx context.Context, raw string) (*verifiedIDToken, error) {
	tok, err := v.oidc.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIDToken, err)
	}
	var c idClaims
	if err := tok.Claims(&c); err != nil {
		return nil, fmt.Errorf("%w: claims: %w", ErrIDToken, err)
	}
	now := v.now()
	exp, err := numericDate(c.Expiry, true)
	if err != nil {
		return nil, fmt.Errorf("%w: exp: %w", ErrIDToken, err)
	}
	if !exp.After(now.Add(-v.skew)) {
		return nil, fmt.Errorf("%w: expired", ErrIDToken)
	}
	if exp.After(now.Add(maxIDTokenLifetime)) {
		return nil, fmt.Errorf("%w: exp too far in the future", ErrIDToken)
	}
	iat, err := numericDate(c.IssuedAt, true)
	if err != nil {
		return nil, fmt.Errorf("%w: iat: %w", ErrIDToken, err)
	}
	if iat.After(now.Add(v.skew)) {
		return nil, fmt.Errorf("%w: iat in the future", ErrIDToken)
	}
	if iat.Before(now.Add(-v.maxAge - v.skew)) {
		return nil, fmt.Errorf("%w: iat too old", ErrIDToken)
	}
	if nbf, err := numericDate(c.NotBefore, false); err != nil {
		return nil, fmt.Errorf("%w: nbf: %w", ErrIDToken, err)
	} else if !nbf.IsZero() && nbf.After(now.Add(v.skew)) {
		return nil, fmt.Errorf("%w: not yet valid (nbf)", ErrIDToken)
	}
	if c.Subject == nil || *c.Subject == "" {
		return nil, fmt.Errorf("%w: sub missing", ErrIDToken)
	}
	aud, err := audiences(c.Audience)
	if err != nil {
		return nil, fmt.Errorf("%w: aud: %w", ErrIDToken, err)
	}
	if !slices.Contains(aud, v.clientID) {
		return nil, fmt.Errorf("%w: aud does not contain the client id", ErrIDToken)
	}
	// OIDC Core §3.1.3.7 steps 3-5: extra audiences must be trusted, and
	// with several audiences azp must be present and be this client.
	for _, a := range aud {
		if a != v.clientID && !slices.Contains(v.trustedAudiences, a) {
			return nil, fmt.Errorf("%w: untrusted audience", ErrIDToken)
		}
	}
	azp := ""
	if c.AZP != nil {
		azp = *c.AZP
		if azp != v.clientID {
			return nil, fmt.Errorf("%w: azp is not the client id", ErrIDToken)
		}
	} else if len(aud) > 1 {
		return nil, fmt.Errorf("%w: several audiences without azp", ErrIDToken)
	}
	nonce := ""
	if c.Nonce != nil {
		nonce = *c.Nonce
	}
	var all map[string]json.RawMessage
	if err := tok.Claims(&all); err != nil {
		return nil, fmt.Errorf("%w: claims: %w", ErrIDToken, err)
	}
	return &verifiedIDToken{
		Raw: raw, Subject: *c.Subject, Audience: aud, AZP: azp, Nonce: nonce,
		Expiry: exp, claims: all,
	}, nil
}

// checkNonce compares in constant time.
func checkNonce(got, want string) error {
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return ErrNonceMismatch
	}
	return nil
}

// numericDate parses a JSON NumericDate (RFC 7519 §2): a number of seconds,
// not a string. A missing value is an error when required, else zero.
func numericDate(raw json.RawMessage, required bool) (time.Time, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		if required {
			return time.Time{}, errors.New("missing")
		}
		return time.Time{}, nil
	}
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return time.Time{}, errors.New("not a number")
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return time.Time{}, errors.New("not a number")
	}
	// Keep within what time.Unix represents without overflow; anything
	// beyond year 9999 is nonsense for a token anyway.
	if math.IsNaN(f) || f < 0 || f > 253402300799 {
		return time.Time{}, errors.New("out of range")
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// audiences accepts a string or an array of strings (RFC 7519 §4.1.3).
func audiences(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, errors.New("missing")
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, errors.New("malformed")
		}
		return []string{s}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, errors.New("not a string or array of strings")
	}
	if len(list) == 0 {
		return nil, errors.New("empty")
	}
	return list, nil
}

// keptClaims returns a JSON object with sub and the named claims that are
// present in the token.
func (t *verifiedIDToken) keptClaims(names []string) []byte {
	kept := map[string]json.RawMessage{}
	for _, n := range names {
		if v, ok := t.claims[n]; ok {
			kept[n] = v
		}
	}
	subJSON, _ := json.Marshal(t.Subject)
	kept["sub"] = subJSON
	b, _ := json.Marshal(kept)
	return b
}

// parseUnverified reads the identity claims of an ID token that was verified
// before it was stored, to compare a refreshed token with it.
func (v *idTokenVerifier) parseUnverified(raw string) (*verifiedIDToken, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, errors.New("malformed")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, errors.New("malformed payload")
	}
	var c idClaims
	if err := json.Unmarshal(payload, &c); err != nil || c.Subject == nil {
		return nil, errors.New("malformed claims")
	}
	aud, err := audiences(c.Audience)
	if err != nil {
		return nil, err
	}
	t := &verifiedIDToken{Raw: raw, Subject: *c.Subject, Audience: aud}
	if c.AZP != nil {
		t.AZP = *c.AZP
	}
	return t, nil
}
