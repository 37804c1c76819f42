package awscreds

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentity"
	citypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentity/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/tokenstore"
)

const (
	testPoolID     = "eu-west-1:11111111-2222-3333-4444-555555555555"
	testIdentityID = "eu-west-1:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	testIssuer     = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"
	// testUpdatedIssuer is the same pool's issuer when its IssuerConfiguration.Type is UPDATED.
	testUpdatedIssuer = "https://issuer-cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"
	testProvider      = "cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"
)

// stubCognito implements IdentityPoolAPIClient and the developer operation. Each op answers
// through its func, given the 1-based number of the call to that op; a nil func answers OK.
type stubCognito struct {
	getID     func(ctx context.Context, in *cognitoidentity.GetIdInput, call int) (*cognitoidentity.GetIdOutput, error)
	getCreds  func(ctx context.Context, in *cognitoidentity.GetCredentialsForIdentityInput, call int) (*cognitoidentity.GetCredentialsForIdentityOutput, error)
	getOpenID func(ctx context.Context, in *cognitoidentity.GetOpenIdTokenInput, call int) (*cognitoidentity.GetOpenIdTokenOutput, error)
	getDev    func(ctx context.Context, in *cognitoidentity.GetOpenIdTokenForDeveloperIdentityInput, call int) (*cognitoidentity.GetOpenIdTokenForDeveloperIdentityOutput, error)

	mu        sync.Mutex
	idIn      []*cognitoidentity.GetIdInput
	credsIn   []*cognitoidentity.GetCredentialsForIdentityInput
	openIDIn  []*cognitoidentity.GetOpenIdTokenInput
	devIn     []*cognitoidentity.GetOpenIdTokenForDeveloperIdentityInput
	expiresAt time.Time // what a nil getCreds returns; zero = an hour from now
}

func (s *stubCognito) GetId(ctx context.Context, in *cognitoidentity.GetIdInput, _ ...func(*cognitoidentity.Options)) (*cognitoidentity.GetIdOutput, error) {
	s.mu.Lock()
	s.idIn = append(s.idIn, in)
	n := len(s.idIn)
	s.mu.Unlock()
	if s.getID == nil {
		return &cognitoidentity.GetIdOutput{IdentityId: aws.String(testIdentityID)}, nil
	}
	return s.getID(ctx, in, n)
}

func (s *stubCognito) GetCredentialsForIdentity(ctx context.Context, in *cognitoidentity.GetCredentialsForIdentityInput, _ ...func(*cognitoidentity.Options)) (*cognitoidentity.GetCredentialsForIdentityOutput, error) {
	s.mu.Lock()
	s.credsIn = append(s.credsIn, in)
	n := len(s.credsIn)
	exp := s.expiresAt
	s.mu.Unlock()
	if s.getCreds == nil {
		if exp.IsZero() {
			exp = time.Now().Add(time.Hour)
		}
		return cognitoCreds(aws.ToString(in.IdentityId), exp), nil
	}
	return s.getCreds(ctx, in, n)
}

func (s *stubCognito) GetOpenIdToken(ctx context.Context, in *cognitoidentity.GetOpenIdTokenInput, _ ...func(*cognitoidentity.Options)) (*cognitoidentity.GetOpenIdTokenOutput, error) {
	s.mu.Lock()
	s.openIDIn = append(s.openIDIn, in)
	n := len(s.openIDIn)
	s.mu.Unlock()
	if s.getOpenID == nil {
		return &cognitoidentity.GetOpenIdTokenOutput{IdentityId: in.IdentityId, Token: aws.String(fakeJWT(`{"sub":"` + aws.ToString(in.IdentityId) + `","n":` + fmt.Sprint(n) + `}`))}, nil
	}
	return s.getOpenID(ctx, in, n)
}

func (s *stubCognito) GetOpenIdTokenForDeveloperIdentity(ctx context.Context, in *cognitoidentity.GetOpenIdTokenForDeveloperIdentityInput, _ ...func(*cognitoidentity.Options)) (*cognitoidentity.GetOpenIdTokenForDeveloperIdentityOutput, error) {
	s.mu.Lock()
	s.devIn = append(s.devIn, in)
	n := len(s.devIn)
	s.mu.Unlock()
	if s.getDev == nil {
		return &cognitoidentity.GetOpenIdTokenForDeveloperIdentityOutput{IdentityId: aws.String(testIdentityID), Token: aws.String(fakeJWT(`{"sub":"dev","n":` + fmt.Sprint(n) + `}`))}, nil
	}
	return s.getDev(ctx, in, n)
}

func (s *stubCognito) counts() (getID, getCreds, getOpenID, getDev int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.idIn), len(s.credsIn), len(s.openIDIn), len(s.devIn)
}

func cognitoCreds(identityID string, exp time.Time) *cognitoidentity.GetCredentialsForIdentityOutput {
	return &cognitoidentity.GetCredentialsForIdentityOutput{
		IdentityId: aws.String(identityID),
		Credentials: &citypes.Credentials{
			AccessKeyId:  aws.String("ASIACOGNITO"),
			SecretKey:    aws.String("secret"),
			SessionToken: aws.String("session"),
			Expiration:   aws.Time(exp),
		},
	}
}

// loginTokens returns a LoginsFunc for the test pool that hands out toks in order (repeating
// the last) and counts calls.
func loginTokens(n *atomic.Int32, toks ...string) LoginsFunc {
	return func(ctx context.Context) (map[string]string, error) {
		i := int(n.Add(1)) - 1
		return map[string]string{testProvider: toks[min(i, len(toks)-1)]}, nil
	}
}

func notAuthorized() error {
	return &smithy.OperationError{ServiceID: "Cognito Identity", OperationName: "GetCredentialsForIdentity",
		Err: &citypes.NotAuthorizedException{Message: aws.String("Invalid login token. Token expired: 1700000000 >= 1690000000")}}
}

func TestCognitoProviderName(t *testing.T) {
	tests := []struct {
		issuer, want string
	}{
		{issuer: testIssuer, want: testProvider},
		{issuer: "https://cognito-idp.us-gov-west-1.amazonaws.com/us-gov-west-1_X9", want: "cognito-idp.us-gov-west-1.amazonaws.com/us-gov-west-1_X9"},
		{issuer: "https://cognito-idp.cn-north-1.amazonaws.com.cn/cn-north-1_abc", want: "cognito-idp.cn-north-1.amazonaws.com.cn/cn-north-1_abc"},
		{issuer: testIssuer + "/"}, // trailing slash: not the iss
		{issuer: "http://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"},                          // not https
		{issuer: testUpdatedIssuer, want: "issuer-cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"}, // UPDATED
		{issuer: "https://issuer-cognito-idp.cn-north-1.amazonaws.com.cn/cn-north-1_abc", want: "issuer-cognito-idp.cn-north-1.amazonaws.com.cn/cn-north-1_abc"},
		{issuer: "https://cognito-idp.eu-west-1.amazonaws.com/us-east-1_AbC123"},          // pool of another region (a replica's shape)
		{issuer: "https://issuer-cognito-idp.eu-west-1.amazonaws.com/us-east-1_AbC123"},   // pool of another region
		{issuer: "https://issuer-cognito-idp.us-east-1.amazonaws.com/eu-west-1_AbC123"},   // UPDATED names the primary only
		{issuer: "https://issuer-cognito-idp.x.eu-west-1.amazonaws.com/eu-west-1_AbC123"}, // an extra label
		{issuer: testUpdatedIssuer + "/"},
		{issuer: "https://Issuer-Cognito-Idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"},
		{issuer: "https://user@issuer-cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"},
		{issuer: "https://cognito-idp.eu-west-1.amazonaws.com.cn/eu-west-1_AbC123"},    // China's suffix, another partition's Region
		{issuer: "https://cognito-idp.eu-west-1.amazonaws.com.evil.com/eu-west-1_AbC"}, // lookalike host
		{issuer: "https://COGNITO-IDP.eu-west-1.amazonaws.com/eu-west-1_AbC123"},       // case differs from iss
		{issuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123?x=1"},
		{issuer: "https://example.com"},
		{issuer: ""},
	}
	for _, tt := range tests {
		t.Run(tt.issuer, func(t *testing.T) {
			got, err := CognitoProviderName(tt.issuer)
			if tt.want == "" {
				assert.ErrorIs(t, err, ErrConfiguration)
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestOIDCProviderName(t *testing.T) {
	for issuer, want := range map[string]string{
		"https://example.eu.auth0.com/":         "example.eu.auth0.com",
		"https://keycloak.example.com/realms/x": "keycloak.example.com/realms/x",
		testIssuer:                              testProvider,
		"http://127.0.0.1:4444":                 "127.0.0.1:4444",
		"http://localhost:4444/op":              "localhost:4444/op",
		"HTTPS://Example.eu.auth0.com/":         "Example.eu.auth0.com",
		"https://example.eu.auth0.com//":        "example.eu.auth0.com",
		"http://example.com":                    "",
		"ftp://example.com":                     "",
		"https://example.com/?a=b":              "",
		"https://user@example.com":              "",
		"example.com":                           "",
		"":                                      "",
	} {
		t.Run(issuer, func(t *testing.T) {
			got, err := OIDCProviderName(issuer)
			if want == "" {
				assert.ErrorIs(t, err, ErrConfiguration)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}
}

// SECURITY I.33: the Logins key is cognito-idp.<region>.amazonaws.com/<pool> and the value
// the ID token, on every call that takes Logins.
func TestIdentityPoolLoginsKeyAndValue(t *testing.T) {
	token := fakeJWT(`{"iss":"` + testIssuer + `","sub":"alice"}`)
	idToken := func(context.Context) (string, error) { return token, nil }
	updatedToken := fakeJWT(`{"iss":"` + testUpdatedIssuer + `","sub":"alice"}`)
	updated := func(context.Context) (string, error) { return updatedToken, nil }
	for name, tt := range map[string]struct {
		logins LoginsFunc
		want   map[string]string
	}{
		"issuer given":       {CognitoLogins(testIssuer, idToken), map[string]string{testProvider: token}},
		"issuer from iss":    {CognitoLogins("", idToken), map[string]string{testProvider: token}},
		"OIDC, Cognito iss":  {OIDCLogins(testIssuer, idToken), map[string]string{testProvider: token}},
		"OIDC, iss of token": {OIDCLogins("", idToken), map[string]string{testProvider: token}},
		// A pool whose IssuerConfiguration.Type is UPDATED: its issuer, without https://.
		"UPDATED issuer given":    {CognitoLogins(testUpdatedIssuer, updated), map[string]string{testUpdatedIssuer[len("https://"):]: updatedToken}},
		"UPDATED issuer from iss": {CognitoLogins("", updated), map[string]string{testUpdatedIssuer[len("https://"):]: updatedToken}},
	} {
		logins, want := tt.logins, tt.want
		t.Run(name, func(t *testing.T) {
			for _, flow := range []string{"enhanced", "basic"} {
				stub := &stubCognito{}
				stubSTS := &stubSTS{}
				p := NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) {
					o.Logins = logins
					if flow == "basic" {
						o.BasicFlow = &BasicFlowOptions{RoleARN: testRoleARN, STS: stubSTS}
					}
				})
				_, err := p.Retrieve(context.Background())
				require.NoError(t, err)
				require.Len(t, stub.idIn, 1)
				assert.Equal(t, want, stub.idIn[0].Logins, "GetId")
				assert.Equal(t, testPoolID, aws.ToString(stub.idIn[0].IdentityPoolId))
				if flow == "enhanced" {
					require.Len(t, stub.credsIn, 1)
					assert.Equal(t, want, stub.credsIn[0].Logins, "GetCredentialsForIdentity")
					assert.Equal(t, testIdentityID, aws.ToString(stub.credsIn[0].IdentityId))
				} else {
					require.Len(t, stub.openIDIn, 1)
					assert.Equal(t, want, stub.openIDIn[0].Logins, "GetOpenIdToken")
					in := stubSTS.calls()[0]
					assert.Equal(t, "alice", aws.ToString(in.RoleSessionName))
					assert.Equal(t, testRoleARN, aws.ToString(in.RoleArn))
				}
			}
		})
	}
}

// issToken returns an IDTokenFunc of a token whose iss is iss ("" = none).
func issToken(iss string) IDTokenFunc {
	payload := `{"sub":"a"}`
	if iss != "" {
		payload = `{"iss":"` + iss + `","sub":"a"}`
	}
	token := fakeJWT(payload)
	return func(context.Context) (string, error) { return token, nil }
}

func TestIdentityPoolLoginsErrors(t *testing.T) {
	tests := map[string]LoginsFunc{
		"not a Cognito issuer": CognitoLogins("https://example.com", func(context.Context) (string, error) { return fakeJWT(`{"sub":"a"}`), nil }),
		"iss not Cognito":      CognitoLogins("", func(context.Context) (string, error) { return fakeJWT(`{"iss":"https://evil.example","sub":"a"}`), nil }),
		"no iss":               CognitoLogins("", func(context.Context) (string, error) { return fakeJWT(`{"sub":"a"}`), nil }),
		"nil IDTokenFunc":      CognitoLogins(testIssuer, nil),
		// The configured issuer type, exactly: a token of the other type, a replica's or a
		// lookalike never gets the configured provider name.
		"issuer: token of the UPDATED type":       CognitoLogins(testIssuer, issToken(testUpdatedIssuer)),
		"issuer: token of the ORIGINAL type":      CognitoLogins(testUpdatedIssuer, issToken(testIssuer)),
		"issuer: token of a replica":              CognitoLogins(testIssuer, issToken("https://cognito-idp.us-east-1.amazonaws.com/eu-west-1_AbC123")),
		"issuer: token with a trailing slash":     CognitoLogins(testUpdatedIssuer, issToken(testUpdatedIssuer+"/")),
		"issuer: token in another case":           CognitoLogins(testUpdatedIssuer, issToken(strings.ToUpper(testUpdatedIssuer))),
		"issuer: token with an extra label":       CognitoLogins(testUpdatedIssuer, issToken("https://issuer-cognito-idp.x.eu-west-1.amazonaws.com/eu-west-1_AbC123")),
		"issuer: token without iss":               CognitoLogins(testUpdatedIssuer, issToken("")),
		"issuer of a replica":                     CognitoLogins("https://cognito-idp.us-east-1.amazonaws.com/eu-west-1_AbC123", issToken("https://cognito-idp.us-east-1.amazonaws.com/eu-west-1_AbC123")),
		"issuer from iss: a replica's":            CognitoLogins("", issToken("https://cognito-idp.us-east-1.amazonaws.com/eu-west-1_AbC123")),
		"issuer from iss: user info":              CognitoLogins("", issToken("https://user@issuer-cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123")),
		"issuer from iss: pool of another region": CognitoLogins("", issToken("https://issuer-cognito-idp.eu-west-1.amazonaws.com/us-east-1_AbC123")),
		"IDTokenFunc fails":                       CognitoLogins(testIssuer, func(context.Context) (string, error) { return "", errSessionEnded }),
		"empty token":                             CognitoLogins(testIssuer, func(context.Context) (string, error) { return "", nil }),
		"empty map":                               func(context.Context) (map[string]string, error) { return map[string]string{}, nil },
		"empty value":                             func(context.Context) (map[string]string, error) { return map[string]string{testProvider: ""}, nil },
		"huge value": func(context.Context) (map[string]string, error) {
			return map[string]string{testProvider: strings.Repeat("a", maxLoginsToken+1)}, nil
		},
	}
	for name, logins := range tests {
		t.Run(name, func(t *testing.T) {
			stub := &stubCognito{}
			_, err := NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) { o.Logins = logins }).Retrieve(context.Background())
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "awscreds: "), err.Error())
			if name == "IDTokenFunc fails" {
				assert.ErrorIs(t, err, errSessionEnded)
			}
			if (strings.Contains(name, "issuer") && !strings.Contains(name, "without iss")) || name == "iss not Cognito" || name == "nil IDTokenFunc" {
				assert.ErrorIs(t, err, ErrConfiguration)
			}
			getID, getCreds, _, _ := stub.counts()
			assert.Zero(t, getID+getCreds, "Cognito called with bad logins")
		})
	}
}

func TestIdentityPoolConfigErrors(t *testing.T) {
	stub := &stubCognito{}
	var n atomic.Int32
	logins := loginTokens(&n, fakeJWT(`{"sub":"alice"}`))
	tests := []struct {
		name   string
		client IdentityPoolAPIClient
		poolID string
		opt    func(*IdentityPoolOptions)
	}{
		{name: "nil client", poolID: testPoolID},
		{name: "empty pool id", client: stub},
		{name: "pool id without region", client: stub, poolID: "11111111-2222"},
		{name: "bad IdentityID", client: stub, poolID: testPoolID, opt: func(o *IdentityPoolOptions) { o.IdentityID = "x" }},
		{name: "basic flow without RoleARN", client: stub, poolID: testPoolID, opt: func(o *IdentityPoolOptions) {
			o.BasicFlow = &BasicFlowOptions{STS: &stubSTS{}}
		}},
		{name: "basic flow with only a Policy", client: stub, poolID: testPoolID, opt: func(o *IdentityPoolOptions) {
			o.BasicFlow = &BasicFlowOptions{WebIdentitySession: WebIdentitySession{Policy: aws.String("{}")}}
		}},
		{name: "basic flow without STS", client: stub, poolID: testPoolID, opt: func(o *IdentityPoolOptions) {
			o.BasicFlow = &BasicFlowOptions{RoleARN: testRoleARN}
		}},
		{name: "CustomRoleARN with the basic flow", client: stub, poolID: testPoolID, opt: func(o *IdentityPoolOptions) {
			o.BasicFlow = &BasicFlowOptions{RoleARN: testRoleARN, STS: &stubSTS{}}
			o.CustomRoleARN = testRoleARN
		}},
		{name: "bad session name", client: stub, poolID: testPoolID, opt: func(o *IdentityPoolOptions) {
			o.BasicFlow = &BasicFlowOptions{RoleARN: testRoleARN, STS: &stubSTS{}, WebIdentitySession: WebIdentitySession{RoleSessionName: "a/b"}}
		}},
		{name: "short duration", client: stub, poolID: testPoolID, opt: func(o *IdentityPoolOptions) {
			o.BasicFlow = &BasicFlowOptions{RoleARN: testRoleARN, STS: &stubSTS{}, WebIdentitySession: WebIdentitySession{Duration: time.Minute}}
		}},
		{name: "negative timeout", client: stub, poolID: testPoolID, opt: func(o *IdentityPoolOptions) { o.Timeout = -1 }},
		{name: "developer without client", client: stub, poolID: testPoolID, opt: func(o *IdentityPoolOptions) {
			o.Developer = &DeveloperIdentity{ProviderName: "login.app", UserIdentifier: "u"}
		}},
		{name: "developer without user", client: stub, poolID: testPoolID, opt: func(o *IdentityPoolOptions) {
			o.Developer = &DeveloperIdentity{Client: stub, ProviderName: "login.app"}
		}},
		{name: "developer user with NUL", client: stub, poolID: testPoolID, opt: func(o *IdentityPoolOptions) {
			o.Developer = &DeveloperIdentity{Client: stub, ProviderName: "login.app", UserIdentifier: "u\x00login.x\x00v"}
		}},
		{name: "developer provider with NUL", client: stub, poolID: testPoolID, opt: func(o *IdentityPoolOptions) {
			o.Developer = &DeveloperIdentity{Client: stub, ProviderName: "login\x00app", UserIdentifier: "u"}
		}},
		{name: "developer token for 2 days", client: stub, poolID: testPoolID, opt: func(o *IdentityPoolOptions) {
			o.Developer = &DeveloperIdentity{Client: stub, ProviderName: "login.app", UserIdentifier: "u", TokenDuration: 48 * time.Hour}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []func(*IdentityPoolOptions){func(o *IdentityPoolOptions) { o.Logins = logins }}
			if tt.opt != nil {
				opts = append(opts, tt.opt)
			}
			p := NewIdentityPool(tt.client, tt.poolID, opts...)
			_, err := p.Retrieve(context.Background())
			assert.ErrorIs(t, err, ErrConfiguration)
			assert.True(t, strings.HasPrefix(err.Error(), "awscreds: IdentityPool: "), err.Error())
			_, err = p.IdentityID(context.Background())
			assert.ErrorIs(t, err, ErrConfiguration)
		})
	}
	getID, getCreds, getOpenID, getDev := stub.counts()
	assert.Zero(t, getID+getCreds+getOpenID+getDev)
	assert.Zero(t, n.Load(), "a misconfigured provider called the LoginsFunc")
}

// SECURITY I.34: NotAuthorizedException → the ID token refreshed once, then re-login.
func TestIdentityPoolNotAuthorized(t *testing.T) {
	old, fresh := fakeJWT(`{"sub":"alice","n":1}`), fakeJWT(`{"sub":"alice","n":2}`)
	t.Run("fresh token accepted", func(t *testing.T) {
		stub := &stubCognito{getCreds: func(_ context.Context, in *cognitoidentity.GetCredentialsForIdentityInput, call int) (*cognitoidentity.GetCredentialsForIdentityOutput, error) {
			if in.Logins[testProvider] == old {
				return nil, notAuthorized()
			}
			return cognitoCreds(testIdentityID, time.Now().Add(time.Hour)), nil
		}}
		var n atomic.Int32
		creds, err := NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) { o.Logins = loginTokens(&n, old, fresh) }).Retrieve(context.Background())
		require.NoError(t, err)
		assert.True(t, creds.HasKeys())
		assert.Equal(t, int32(2), n.Load())
		_, getCreds, _, _ := stub.counts()
		assert.Equal(t, 2, getCreds)
	})
	t.Run("fresh token rejected", func(t *testing.T) {
		stub := &stubCognito{getCreds: func(context.Context, *cognitoidentity.GetCredentialsForIdentityInput, int) (*cognitoidentity.GetCredentialsForIdentityOutput, error) {
			return nil, notAuthorized()
		}}
		var n atomic.Int32
		_, err := NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) { o.Logins = loginTokens(&n, old, fresh, "third") }).Retrieve(context.Background())
		checkIdentityPoolRejected(t, err)
		_, getCreds, _, _ := stub.counts()
		assert.Equal(t, 2, getCreds, "one retry only")
		assert.Equal(t, int32(2), n.Load())
	})
	t.Run("same token again", func(t *testing.T) {
		stub := &stubCognito{getCreds: func(context.Context, *cognitoidentity.GetCredentialsForIdentityInput, int) (*cognitoidentity.GetCredentialsForIdentityOutput, error) {
			return nil, notAuthorized()
		}}
		var n atomic.Int32
		_, err := NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) { o.Logins = loginTokens(&n, old) }).Retrieve(context.Background())
		checkIdentityPoolRejected(t, err)
		_, getCreds, _, _ := stub.counts()
		assert.Equal(t, 1, getCreds, "no retry with the same token")
	})
	t.Run("refresh fails", func(t *testing.T) {
		stub := &stubCognito{getID: func(context.Context, *cognitoidentity.GetIdInput, int) (*cognitoidentity.GetIdOutput, error) {
			return nil, notAuthorized()
		}}
		var n atomic.Int32
		logins := func(ctx context.Context) (map[string]string, error) {
			if n.Add(1) > 1 {
				return nil, errSessionEnded
			}
			return map[string]string{testProvider: old}, nil
		}
		_, err := NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) { o.Logins = logins }).Retrieve(context.Background())
		checkIdentityPoolRejected(t, err)
		assert.ErrorIs(t, err, errSessionEnded)
	})
	t.Run("cached identity id refused: dropped, GetId again", func(t *testing.T) {
		store := tokenstore.NewMemory()
		staleID := "eu-west-1:00000000-0000-0000-0000-000000000000"
		key, _ := identityKey(testPoolID, map[string]string{testProvider: "alice"})
		require.NoError(t, store.Set(context.Background(), key, []byte(staleID), time.Time{}))
		stub := &stubCognito{getCreds: func(_ context.Context, in *cognitoidentity.GetCredentialsForIdentityInput, _ int) (*cognitoidentity.GetCredentialsForIdentityOutput, error) {
			if aws.ToString(in.IdentityId) == staleID {
				return nil, notAuthorized()
			}
			return cognitoCreds(aws.ToString(in.IdentityId), time.Now().Add(time.Hour)), nil
		}}
		var n atomic.Int32
		p := NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) { o.Logins, o.Store = loginTokens(&n, old), store })
		_, err := p.Retrieve(context.Background())
		require.NoError(t, err)
		getID, getCreds, _, _ := stub.counts()
		assert.Equal(t, 1, getID)
		assert.Equal(t, 2, getCreds)
		b, err := store.Get(context.Background(), key)
		require.NoError(t, err)
		assert.Equal(t, testIdentityID, string(b), "the store holds the new identity id")
	})
	// The usual NotAuthorized is the token's (expired on AWS's clock): the user's stored
	// identity id is still right and must survive, or GetId runs again at every such refusal.
	t.Run("token refused with a cached identity id: the id stays stored", func(t *testing.T) {
		store := tokenstore.NewMemory()
		key, _ := identityKey(testPoolID, map[string]string{testProvider: "alice"})
		require.NoError(t, store.Set(context.Background(), key, []byte(testIdentityID), time.Time{}))
		stub := &stubCognito{
			getID: func(context.Context, *cognitoidentity.GetIdInput, int) (*cognitoidentity.GetIdOutput, error) {
				return nil, notAuthorized()
			},
			getCreds: func(context.Context, *cognitoidentity.GetCredentialsForIdentityInput, int) (*cognitoidentity.GetCredentialsForIdentityOutput, error) {
				return nil, notAuthorized()
			},
		}
		var n atomic.Int32
		_, err := NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) { o.Logins, o.Store = loginTokens(&n, old), store }).Retrieve(context.Background())
		checkIdentityPoolRejected(t, err)
		getID, getCreds, _, _ := stub.counts()
		assert.Equal(t, 1, getCreds, "the same token is not sent to GetCredentialsForIdentity twice")
		assert.Equal(t, 1, getID, "GetId, once, tells a changed identity from a refused token")
		b, err := store.Get(context.Background(), key)
		require.NoError(t, err)
		assert.Equal(t, testIdentityID, string(b))
	})
	t.Run("token refused, identity unchanged: no second GetCredentialsForIdentity", func(t *testing.T) {
		store := tokenstore.NewMemory()
		key, _ := identityKey(testPoolID, map[string]string{testProvider: "alice"})
		require.NoError(t, store.Set(context.Background(), key, []byte(testIdentityID), time.Time{}))
		stub := &stubCognito{getCreds: func(context.Context, *cognitoidentity.GetCredentialsForIdentityInput, int) (*cognitoidentity.GetCredentialsForIdentityOutput, error) {
			return nil, notAuthorized()
		}}
		var n atomic.Int32
		_, err := NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) { o.Logins, o.Store = loginTokens(&n, old), store }).Retrieve(context.Background())
		checkIdentityPoolRejected(t, err)
		getID, getCreds, _, _ := stub.counts()
		assert.Equal(t, 1, getID)
		assert.Equal(t, 1, getCreds, "GetId gave the cached id back: the token is at fault, a retry would be refused too")
	})
	t.Run("guest: configuration error", func(t *testing.T) {
		stub := &stubCognito{getID: func(context.Context, *cognitoidentity.GetIdInput, int) (*cognitoidentity.GetIdOutput, error) {
			return nil, &citypes.NotAuthorizedException{Message: aws.String("Unauthenticated access is not supported for this identity pool.")}
		}}
		_, err := NewIdentityPool(stub, testPoolID).Retrieve(context.Background())
		assert.ErrorIs(t, err, ErrConfiguration)
		assert.NotErrorIs(t, err, ErrIDTokenRejected)
		getID, _, _, _ := stub.counts()
		assert.Equal(t, 1, getID)
	})
}

func checkIdentityPoolRejected(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, ErrIDTokenRejected)
	assert.NotErrorIs(t, err, ErrConfiguration)
	var na *citypes.NotAuthorizedException
	assert.ErrorAs(t, err, &na, "the AWS error is wrapped")
	assert.True(t, strings.HasPrefix(err.Error(), "awscreds: IdentityPool: "), err.Error())
}

// SECURITY I.35: in the basic flow, STS ExpiredToken → a fresh ID token first, then a retry.
func TestIdentityPoolBasicFlowExpiredToken(t *testing.T) {
	old, fresh := fakeJWT(`{"sub":"alice","n":1}`), fakeJWT(`{"sub":"alice","n":2}`)
	stub := &stubCognito{}
	sts := &stubSTS{respond: func(_ context.Context, _ *sts.AssumeRoleWithWebIdentityInput, call int) (*sts.AssumeRoleWithWebIdentityOutput, error) {
		if call == 1 {
			return nil, &types.ExpiredTokenException{Message: aws.String("Token expired")}
		}
		return okOutput(time.Now().Add(time.Hour)), nil
	}}
	var n atomic.Int32
	p := NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) {
		o.Logins, o.BasicFlow = loginTokens(&n, old, fresh), &BasicFlowOptions{RoleARN: testRoleARN, STS: sts}
	})
	_, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int32(2), n.Load(), "the ID token was asked for again")
	require.Len(t, stub.openIDIn, 2)
	assert.Equal(t, fresh, stub.openIDIn[1].Logins[testProvider], "the retry used the fresh ID token")
	assert.Len(t, sts.calls(), 2)
}

// In the basic flow, STS refusing the role (its trust policy, the session policy, the region)
// is a configuration error, as AssumeRole reports it: not ridden out under a cache, no fresh
// token asked for.
func TestIdentityPoolBasicFlowSTSConfigurationErrors(t *testing.T) {
	for name, awsErr := range map[string]error{
		"AccessDenied": &smithy.OperationError{ServiceID: "STS", OperationName: "AssumeRoleWithWebIdentity",
			Err: &smithy.GenericAPIError{Code: "AccessDenied", Message: "Not authorized to perform sts:AssumeRoleWithWebIdentity"}},
		"MalformedPolicyDocument": &types.MalformedPolicyDocumentException{Message: aws.String("bad")},
		"PackedPolicyTooLarge":    &types.PackedPolicyTooLargeException{Message: aws.String("too large")},
		"RegionDisabled":          &types.RegionDisabledException{Message: aws.String("disabled")},
	} {
		t.Run(name, func(t *testing.T) {
			var fail atomic.Bool
			st := &stubSTS{respond: func(context.Context, *sts.AssumeRoleWithWebIdentityInput, int) (*sts.AssumeRoleWithWebIdentityOutput, error) {
				if fail.Load() {
					return nil, awsErr
				}
				return okOutput(time.Now().Add(time.Hour)), nil
			}}
			var n atomic.Int32
			p := NewIdentityPool(&stubCognito{}, testPoolID, func(o *IdentityPoolOptions) {
				o.Logins, o.BasicFlow = loginTokens(&n, fakeJWT(`{"sub":"a","n":1}`), fakeJWT(`{"sub":"a","n":2}`)), &BasicFlowOptions{RoleARN: testRoleARN, STS: st}
			})
			last, err := p.Retrieve(context.Background())
			require.NoError(t, err)
			fail.Store(true)
			_, err = p.Retrieve(context.Background())
			assert.ErrorIs(t, err, ErrConfiguration)
			assert.ErrorIs(t, err, awsErr)
			assert.NotErrorIs(t, err, ErrIDTokenRejected)
			assert.Equal(t, int32(2), n.Load(), "no fresh token for a configuration error")
			_, herr := p.HandleFailToRefresh(context.Background(), last, err)
			assert.ErrorIs(t, herr, ErrConfiguration, "a configuration error is not ridden out")
		})
	}
}

// SECURITY I.34: ResourceNotFound / InvalidIdentityPoolConfiguration → configuration error at
// once: one call, no fresh token.
func TestIdentityPoolConfigurationFromAWS(t *testing.T) {
	errs := map[string]error{
		"ResourceNotFoundException": &smithy.OperationError{ServiceID: "Cognito Identity", OperationName: "GetId",
			Err: &citypes.ResourceNotFoundException{Message: aws.String("IdentityPool 'eu-west-1:x' not found.")}},
		"InvalidIdentityPoolConfigurationException": &citypes.InvalidIdentityPoolConfigurationException{Message: aws.String("Invalid identity pool configuration. Check assigned IAM roles for this pool.")},
		"code only": &smithy.GenericAPIError{Code: "ResourceNotFoundException", Message: "not found"},
	}
	for name, awsErr := range errs {
		for _, op := range []string{"GetId", "GetCredentialsForIdentity"} {
			t.Run(name+"/"+op, func(t *testing.T) {
				stub := &stubCognito{}
				if op == "GetId" {
					stub.getID = func(context.Context, *cognitoidentity.GetIdInput, int) (*cognitoidentity.GetIdOutput, error) {
						return nil, awsErr
					}
				} else {
					stub.getCreds = func(context.Context, *cognitoidentity.GetCredentialsForIdentityInput, int) (*cognitoidentity.GetCredentialsForIdentityOutput, error) {
						return nil, awsErr
					}
				}
				var n atomic.Int32
				_, err := NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) {
					o.Logins = loginTokens(&n, fakeJWT(`{"sub":"a","n":1}`), fakeJWT(`{"sub":"a","n":2}`))
				}).Retrieve(context.Background())
				assert.ErrorIs(t, err, ErrConfiguration)
				assert.ErrorIs(t, err, awsErr)
				assert.NotErrorIs(t, err, ErrIDTokenRejected)
				assert.Equal(t, int32(1), n.Load(), "no fresh token for a configuration error")
				getID, getCreds, _, _ := stub.counts()
				assert.Equal(t, 1, getID)
				assert.LessOrEqual(t, getCreds, 1)
			})
		}
	}
}

// SECURITY I.34: throttling is the SDK retryer's, not the provider's: one call here, a
// transient error that is neither a rejection nor a configuration error.
func TestIdentityPoolThrottlingNotRetriedByProvider(t *testing.T) {
	stub := &stubCognito{getCreds: func(context.Context, *cognitoidentity.GetCredentialsForIdentityInput, int) (*cognitoidentity.GetCredentialsForIdentityOutput, error) {
		return nil, &citypes.TooManyRequestsException{Message: aws.String("Rate exceeded")}
	}}
	var n atomic.Int32
	_, err := NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) { o.Logins = loginTokens(&n, fakeJWT(`{"sub":"a"}`)) }).Retrieve(context.Background())
	var tmr *citypes.TooManyRequestsException
	assert.ErrorAs(t, err, &tmr)
	assert.NotErrorIs(t, err, ErrConfiguration)
	assert.NotErrorIs(t, err, ErrIDTokenRejected)
	_, getCreds, _, _ := stub.counts()
	assert.Equal(t, 1, getCreds)
}

func TestIdentityPoolIdentityIDCache(t *testing.T) {
	ctx := context.Background()
	t.Run("GetId once per user across providers", func(t *testing.T) {
		store := tokenstore.NewMemory()
		stub := &stubCognito{}
		for range 3 {
			var n atomic.Int32
			p := NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) { o.Logins, o.Store = loginTokens(&n, fakeJWT(`{"sub":"alice"}`)), store })
			for range 2 {
				_, err := p.Retrieve(ctx)
				require.NoError(t, err)
			}
		}
		getID, getCreds, _, _ := stub.counts()
		assert.Equal(t, 1, getID)
		assert.Equal(t, 6, getCreds)
	})
	t.Run("keys are hashed and per pool, provider and sub", func(t *testing.T) {
		base, _ := identityKey(testPoolID, map[string]string{testProvider: "alice"})
		assert.True(t, strings.HasPrefix(base, identityIDKeyPrefix))
		assert.NotContains(t, base, "alice")
		assert.NotContains(t, base, testProvider)
		for name, k := range map[string]string{
			"other sub":      must(identityKey(testPoolID, map[string]string{testProvider: "bob"})),
			"other provider": must(identityKey(testPoolID, map[string]string{"accounts.google.com": "alice"})),
			"other pool":     must(identityKey("eu-west-1:99999999-2222-3333-4444-555555555555", map[string]string{testProvider: "alice"})),
			"shifted bytes":  must(identityKey(testPoolID, map[string]string{testProvider + "a": "lice"})),
		} {
			assert.NotEqual(t, base, k, name)
		}
		_, ok := identityKey(testPoolID, nil)
		assert.False(t, ok)
		// A JSON sub may hold NUL ("\u0000"), and a LoginsFunc may name any provider: the
		// separator must not let one user's pairs spell another's.
		linked, ok := identityKey(testPoolID, map[string]string{"p": "a", "q": "b"})
		require.True(t, ok)
		for name, users := range map[string]map[string]string{
			"NUL in sub":      {"p": "a\x00q\x00b"},
			"NUL in provider": {"p\x00a\x00q": "b"},
		} {
			k, ok := identityKey(testPoolID, users)
			assert.False(t, ok && k == linked, "%s: %q names the user of %q", name, users, map[string]string{"p": "a", "q": "b"})
		}
	})
	t.Run("sub with NUL: memory only", func(t *testing.T) {
		store := &countingStore{Memory: tokenstore.NewMemory()}
		stub := &stubCognito{}
		var n atomic.Int32
		p := NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) {
			o.Logins, o.Store = loginTokens(&n, fakeJWT(`{"sub":"alice\u0000`+testProvider+`\u0000x"}`)), store
		})
		_, err := p.Retrieve(ctx)
		require.NoError(t, err)
		assert.Zero(t, store.sets.Load(), "a sub with NUL can't be told apart from linked logins in a key")
	})
	t.Run("opaque tokens: memory only", func(t *testing.T) {
		store := &countingStore{Memory: tokenstore.NewMemory()}
		stub := &stubCognito{}
		p := NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) {
			o.Logins = func(context.Context) (map[string]string, error) {
				return map[string]string{"graph.facebook.com": "EAAopaque-access-token"}, nil
			}
			o.Store = store
		})
		for range 2 {
			_, err := p.Retrieve(ctx)
			require.NoError(t, err)
		}
		getID, _, _, _ := stub.counts()
		assert.Equal(t, 1, getID)
		assert.Zero(t, store.sets.Load(), "nothing stored for a user without a sub")
	})
	t.Run("corrupt entry ignored and replaced", func(t *testing.T) {
		store := tokenstore.NewMemory()
		key, _ := identityKey(testPoolID, map[string]string{testProvider: "alice"})
		require.NoError(t, store.Set(ctx, key, []byte("not an identity id\x00"), time.Time{}))
		stub := &stubCognito{}
		var n atomic.Int32
		_, err := NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) { o.Logins, o.Store = loginTokens(&n, fakeJWT(`{"sub":"alice"}`)), store }).Retrieve(ctx)
		require.NoError(t, err)
		assert.Equal(t, testIdentityID, aws.ToString(stub.credsIn[0].IdentityId))
		b, err := store.Get(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, testIdentityID, string(b))
	})
	t.Run("store down: GetId, no failure", func(t *testing.T) {
		stub := &stubCognito{}
		var n atomic.Int32
		p := NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) {
			o.Logins, o.Store = loginTokens(&n, fakeJWT(`{"sub":"alice"}`)), failingStore{}
		})
		for range 2 {
			_, err := p.Retrieve(ctx)
			require.NoError(t, err)
		}
		getID, _, _, _ := stub.counts()
		assert.Equal(t, 1, getID, "the id is still kept in memory")
	})
	t.Run("deleted identity: ResourceNotFound on a cached id → GetId once", func(t *testing.T) {
		store := tokenstore.NewMemory()
		gone := "eu-west-1:00000000-0000-0000-0000-000000000000"
		key, _ := identityKey(testPoolID, map[string]string{testProvider: "alice"})
		require.NoError(t, store.Set(ctx, key, []byte(gone), time.Time{}))
		stub := &stubCognito{getCreds: func(_ context.Context, in *cognitoidentity.GetCredentialsForIdentityInput, _ int) (*cognitoidentity.GetCredentialsForIdentityOutput, error) {
			if aws.ToString(in.IdentityId) == gone {
				return nil, &citypes.ResourceNotFoundException{Message: aws.String("Identity '" + gone + "' not found.")}
			}
			return cognitoCreds(aws.ToString(in.IdentityId), time.Now().Add(time.Hour)), nil
		}}
		var n atomic.Int32
		_, err := NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) { o.Logins, o.Store = loginTokens(&n, fakeJWT(`{"sub":"alice"}`)), store }).Retrieve(ctx)
		require.NoError(t, err)
		getID, getCreds, _, _ := stub.counts()
		assert.Equal(t, 1, getID)
		assert.Equal(t, 2, getCreds)
	})
}

func must(s string, ok bool) string {
	if !ok {
		panic("identityKey: no key")
	}
	return s
}

type countingStore struct {
	*tokenstore.Memory
	sets atomic.Int32
}

func (s *countingStore) Set(ctx context.Context, key string, v []byte, exp time.Time) error {
	s.sets.Add(1)
	return s.Memory.Set(ctx, key, v, exp)
}

type failingStore struct{}

var errStoreDown = errors.New("store: connection refused")

func (failingStore) Get(context.Context, string) ([]byte, error)          { return nil, errStoreDown }
func (failingStore) Set(context.Context, string, []byte, time.Time) error { return errStoreDown }
func (failingStore) Delete(context.Context, string) error                 { return errStoreDown }

func TestIdentityPoolDeveloperIdentity(t *testing.T) {
	ctx := context.Background()
	store := tokenstore.NewMemory()
	stub := &stubCognito{}
	newP := func(basic bool) *IdentityPool {
		return NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) {
			o.Developer = &DeveloperIdentity{Client: stub, ProviderName: "login.app", UserIdentifier: "user-1",
				TokenDuration: time.Hour, PrincipalTags: map[string]string{"sub": "user-1"}}
			o.Store = store
			if basic {
				o.BasicFlow = &BasicFlowOptions{RoleARN: testRoleARN, STS: &stubSTS{}}
			}
		})
	}
	_, err := newP(false).Retrieve(ctx)
	require.NoError(t, err)
	require.Len(t, stub.devIn, 1)
	in := stub.devIn[0]
	assert.Equal(t, map[string]string{"login.app": "user-1"}, in.Logins)
	assert.Equal(t, int64(3600), aws.ToInt64(in.TokenDuration))
	assert.Equal(t, map[string]string{"sub": "user-1"}, in.PrincipalTags)
	assert.Nil(t, in.IdentityId, "no identity id known yet")
	require.Len(t, stub.credsIn, 1)
	assert.Equal(t, []string{cognitoIdentityProvider}, keysOf(stub.credsIn[0].Logins), "the enhanced flow presents Cognito's own token")

	_, err = newP(true).Retrieve(ctx)
	require.NoError(t, err)
	require.Len(t, stub.devIn, 2)
	assert.Equal(t, testIdentityID, aws.ToString(stub.devIn[1].IdentityId), "the stored identity id is passed back")
	getID, _, _, _ := stub.counts()
	assert.Zero(t, getID)

	// Linked logins whose tokens name no user (opaque, or a sub Cognito can't tell apart) must
	// not stop a developer identity: the developer user identifier names it on its own.
	t.Run("linked opaque logins: named by the developer identifier", func(t *testing.T) {
		store := tokenstore.NewMemory()
		stub := &stubCognito{}
		newP := func(token string) *IdentityPool {
			return NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) {
				o.Developer = &DeveloperIdentity{Client: stub, ProviderName: "login.app", UserIdentifier: "user-1"}
				o.Logins = func(context.Context) (map[string]string, error) {
					return map[string]string{"graph.facebook.com": token}, nil
				}
				o.Store = store
			})
		}
		for i, token := range []string{"EAAopaque-access-token", fakeJWT(`{"sub":"a\u0000b"}`)} {
			var err error
			require.NotPanics(t, func() { _, err = newP(token).Retrieve(ctx) })
			require.NoError(t, err)
			require.Len(t, stub.devIn, i+1)
			assert.Equal(t, map[string]string{"login.app": "user-1", "graph.facebook.com": token}, stub.devIn[i].Logins)
		}
		assert.Nil(t, stub.devIn[0].IdentityId)
		assert.Equal(t, testIdentityID, aws.ToString(stub.devIn[1].IdentityId), "the identity id is stored under the developer identifier")
		key, _ := identityKey(testPoolID, map[string]string{"login.app": "user-1"})
		b, err := store.Get(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, testIdentityID, string(b))
	})

	t.Run("refused: configuration error", func(t *testing.T) {
		refuse := &stubCognito{getDev: func(context.Context, *cognitoidentity.GetOpenIdTokenForDeveloperIdentityInput, int) (*cognitoidentity.GetOpenIdTokenForDeveloperIdentityOutput, error) {
			return nil, &citypes.NotAuthorizedException{Message: aws.String("not authorized")}
		}}
		_, err := NewIdentityPool(refuse, testPoolID, func(o *IdentityPoolOptions) {
			o.Developer = &DeveloperIdentity{Client: refuse, ProviderName: "login.app", UserIdentifier: "user-1"}
		}).Retrieve(ctx)
		assert.ErrorIs(t, err, ErrConfiguration)
	})
}

func keysOf(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// A hostile Cognito echoes the Logins tokens in its errors: no message may contain one.
func TestIdentityPoolErrorsNeverContainToken(t *testing.T) {
	old, fresh := fakeJWT(`{"sub":"alice","n":1}`), fakeJWT(`{"sub":"alice","n":2}`)
	echo := func(code string) func(context.Context, *cognitoidentity.GetCredentialsForIdentityInput, int) (*cognitoidentity.GetCredentialsForIdentityOutput, error) {
		return func(_ context.Context, in *cognitoidentity.GetCredentialsForIdentityInput, _ int) (*cognitoidentity.GetCredentialsForIdentityOutput, error) {
			tok := in.Logins[testProvider]
			_, payload, _ := strings.Cut(tok, ".")
			return nil, &smithy.OperationError{ServiceID: "Cognito Identity", OperationName: "GetCredentialsForIdentity",
				Err: &smithy.GenericAPIError{Code: code, Message: "bad login " + tok + " payload " + payload}}
		}
	}
	for _, code := range []string{"NotAuthorizedException", "ResourceNotFoundException", "InternalErrorException"} {
		t.Run(code, func(t *testing.T) {
			var n atomic.Int32
			p := NewIdentityPool(&stubCognito{getCreds: echo(code)}, testPoolID, func(o *IdentityPoolOptions) { o.Logins = loginTokens(&n, old, fresh) })
			_, err := aws.NewCredentialsCache(p).Retrieve(context.Background())
			require.Error(t, err)
			for _, tok := range []string{old, fresh} {
				for _, part := range append(strings.Split(tok, "."), tok) {
					assert.NotContains(t, err.Error(), part)
				}
			}
		})
	}
}

func TestIdentityPoolBadResponses(t *testing.T) {
	exp := aws.Time(time.Now().Add(time.Hour))
	tests := map[string]*cognitoidentity.GetCredentialsForIdentityOutput{
		"nil output":      nil,
		"nil credentials": {},
		"empty key":       {Credentials: &citypes.Credentials{SecretKey: aws.String("s"), Expiration: exp}},
		"empty secret":    {Credentials: &citypes.Credentials{AccessKeyId: aws.String("A"), Expiration: exp}},
		"no expiration":   {Credentials: &citypes.Credentials{AccessKeyId: aws.String("A"), SecretKey: aws.String("s")}},
		"zero expiration": {Credentials: &citypes.Credentials{AccessKeyId: aws.String("A"), SecretKey: aws.String("s"), Expiration: aws.Time(time.Time{})}},
	}
	for name, out := range tests {
		t.Run(name, func(t *testing.T) {
			stub := &stubCognito{getCreds: func(context.Context, *cognitoidentity.GetCredentialsForIdentityInput, int) (*cognitoidentity.GetCredentialsForIdentityOutput, error) {
				return out, nil
			}}
			var n atomic.Int32
			creds, err := NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) { o.Logins = loginTokens(&n, fakeJWT(`{"sub":"a"}`)) }).Retrieve(context.Background())
			require.Error(t, err)
			assert.False(t, creds.HasKeys())
			assert.True(t, strings.HasPrefix(err.Error(), "awscreds: IdentityPool: "), err.Error())
		})
	}
	t.Run("GetId without id", func(t *testing.T) {
		for _, out := range []*cognitoidentity.GetIdOutput{nil, {}, {IdentityId: aws.String("bogus")}} {
			stub := &stubCognito{getID: func(context.Context, *cognitoidentity.GetIdInput, int) (*cognitoidentity.GetIdOutput, error) {
				return out, nil
			}}
			_, err := NewIdentityPool(stub, testPoolID).Retrieve(context.Background())
			require.Error(t, err)
			_, getCreds, _, _ := stub.counts()
			assert.Zero(t, getCreds)
		}
	})
}

func TestIdentityPoolTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stub := &stubCognito{getCreds: func(ctx context.Context, _ *cognitoidentity.GetCredentialsForIdentityInput, _ int) (*cognitoidentity.GetCredentialsForIdentityOutput, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}}
		var n atomic.Int32
		p := NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) {
			o.Logins, o.Timeout = loginTokens(&n, fakeJWT(`{"sub":"a"}`)), 3*time.Second
		})
		start := time.Now()
		_, err := aws.NewCredentialsCache(p).Retrieve(context.Background())
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 3*time.Second, time.Since(start))
	})
}

// SECURITY I.35: 1,000 concurrent Retrieve on one user through aws.CredentialsCache make one
// GetCredentialsForIdentity (and one GetId); the cache renews inside its jittered window.
func TestIdentityPoolCredentialStorm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		stub := &stubCognito{getCreds: func(_ context.Context, in *cognitoidentity.GetCredentialsForIdentityInput, _ int) (*cognitoidentity.GetCredentialsForIdentityOutput, error) {
			calls.Add(1)
			time.Sleep(200 * time.Millisecond) // every caller piles up behind this one
			return cognitoCreds(aws.ToString(in.IdentityId), time.Now().Add(time.Hour)), nil
		}}
		var n atomic.Int32
		p := NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) { o.Logins = loginTokens(&n, fakeJWT(`{"sub":"alice"}`)) })
		cache := aws.NewCredentialsCache(p, func(o *aws.CredentialsCacheOptions) {
			o.ExpiryWindow = time.Minute
			o.ExpiryWindowJitterFrac = 0.5
		})
		const callers = 1000
		var wg sync.WaitGroup
		var failed atomic.Int32
		for range callers {
			wg.Go(func() {
				if c, err := cache.Retrieve(context.Background()); err != nil || c.AccessKeyID != "ASIACOGNITO" {
					failed.Add(1)
				}
			})
		}
		wg.Wait()
		assert.Zero(t, failed.Load())
		assert.Equal(t, int32(1), calls.Load(), "GetCredentialsForIdentity calls for %d concurrent Retrieve", callers)
		getID, _, _, _ := stub.counts()
		assert.Equal(t, 1, getID)

		time.Sleep(time.Hour - 61*time.Second)
		_, err := cache.Retrieve(context.Background())
		require.NoError(t, err)
		assert.Equal(t, int32(1), calls.Load(), "no renewal before the expiry window")
		time.Sleep(31 * time.Second)
		_, err = cache.Retrieve(context.Background())
		require.NoError(t, err)
		assert.Equal(t, int32(2), calls.Load(), "renewed within the window, before expiry")
	})
}

// HandleFailToRefresh: a transient fault while the last credentials are still valid is ridden
// out for 10 s at a time, never within 5 s of their real expiry; a rejected login never is.
func TestIdentityPoolRidesOutTransientFaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var down atomic.Bool
		var rejected atomic.Bool
		stub := &stubCognito{getCreds: func(_ context.Context, in *cognitoidentity.GetCredentialsForIdentityInput, _ int) (*cognitoidentity.GetCredentialsForIdentityOutput, error) {
			switch {
			case rejected.Load():
				return nil, notAuthorized()
			case down.Load():
				// A server that echoes the login in its error: the log line must not.
				return nil, &smithy.OperationError{ServiceID: "Cognito Identity", OperationName: "GetCredentialsForIdentity",
					Err: &citypes.InternalErrorException{Message: aws.String("internal error for " + in.Logins[testProvider])}}
			}
			return cognitoCreds(aws.ToString(in.IdentityId), time.Now().Add(5*time.Minute)), nil
		}}
		var n atomic.Int32
		token := fakeJWT(`{"sub":"alice"}`)
		var logs bytes.Buffer
		p := NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) {
			o.Logins = loginTokens(&n, token)
			o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		})
		cache := aws.NewCredentialsCache(p, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = time.Minute })
		first, err := cache.Retrieve(context.Background())
		require.NoError(t, err)
		realExpiry := first.Expires.Add(time.Minute)

		down.Store(true)
		time.Sleep(4*time.Minute + time.Second) // inside the window: a refresh is due and fails
		_, before, _, _ := stub.counts()
		got, err := cache.Retrieve(context.Background())
		require.NoError(t, err, "the previous credentials are still valid: ridden out")
		assert.Equal(t, first.AccessKeyID, got.AccessKeyID)
		assert.Equal(t, time.Now().Add(rideOutRetry), got.Expires)
		_, after, _, _ := stub.counts()
		assert.Equal(t, before+1, after)

		_, err = cache.Retrieve(context.Background())
		require.NoError(t, err)
		_, again, _, _ := stub.counts()
		assert.Equal(t, after, again, "no new attempt before the retry time")
		assert.Contains(t, logs.String(), "serving the previous credentials")
		for _, part := range append(strings.Split(token, "."), token) {
			assert.NotContains(t, logs.String(), part, "the log line holds (part of) the token")
		}

		// Close to the real expiry, the fault shows.
		time.Sleep(time.Until(realExpiry) - rideOutMargin + time.Second)
		_, err = cache.Retrieve(context.Background())
		require.Error(t, err)

		// Back up: fresh credentials again.
		down.Store(false)
		_, err = cache.Retrieve(context.Background())
		require.NoError(t, err)

		// A rejected login is not ridden out.
		rejected.Store(true)
		time.Sleep(4*time.Minute + time.Second)
		_, err = cache.Retrieve(context.Background())
		assert.ErrorIs(t, err, ErrIDTokenRejected)
	})
}

func TestIdentityPoolRequestFields(t *testing.T) {
	stub := &stubCognito{}
	var n atomic.Int32
	p := NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) {
		o.Logins = loginTokens(&n, fakeJWT(`{"sub":"alice"}`))
		o.AccountID = "123456789012"
		o.CustomRoleARN = "arn:aws:iam::123456789012:role/admins"
	})
	creds, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "123456789012", creds.AccountID)
	assert.Equal(t, "123456789012", aws.ToString(stub.idIn[0].AccountId))
	assert.Equal(t, "arn:aws:iam::123456789012:role/admins", aws.ToString(stub.credsIn[0].CustomRoleArn))

	guest := &stubCognito{}
	_, err = NewIdentityPool(guest, testPoolID).Retrieve(context.Background())
	require.NoError(t, err)
	assert.Nil(t, guest.idIn[0].Logins, "a guest sends no Logins")
	assert.Nil(t, guest.credsIn[0].Logins)
	assert.Nil(t, guest.idIn[0].AccountId)
	assert.Nil(t, guest.credsIn[0].CustomRoleArn)
}
