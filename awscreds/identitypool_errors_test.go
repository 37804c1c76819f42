package awscreds

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentity"
	citypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentity/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/tokenstore"
)

// cognitoOp is one Cognito operation an IdentityPool calls, with a provider whose call to that
// operation fails with the given error.
type cognitoOp struct {
	name string
	// codes are the errors the operation's API reference lists that this test is about.
	codes []string
	// failing returns a stub whose call to the operation answers err, and the options that
	// make the provider call it.
	failing func(err error) (*stubCognito, func(*IdentityPoolOptions))
}

var cognitoOps = []cognitoOp{
	{
		name:  "GetId",
		codes: []string{"InvalidParameterException", "LimitExceededException", "ResourceConflictException"},
		failing: func(err error) (*stubCognito, func(*IdentityPoolOptions)) {
			return &stubCognito{getID: func(context.Context, *cognitoidentity.GetIdInput, int) (*cognitoidentity.GetIdOutput, error) {
				return nil, err
			}}, func(*IdentityPoolOptions) {}
		},
	},
	{
		name:  "GetCredentialsForIdentity",
		codes: []string{"InvalidParameterException", "ResourceConflictException"},
		failing: func(err error) (*stubCognito, func(*IdentityPoolOptions)) {
			return &stubCognito{getCreds: func(context.Context, *cognitoidentity.GetCredentialsForIdentityInput, int) (*cognitoidentity.GetCredentialsForIdentityOutput, error) {
				return nil, err
			}}, func(*IdentityPoolOptions) {}
		},
	},
	{
		name:  "GetOpenIdToken",
		codes: []string{"InvalidParameterException", "ResourceConflictException"},
		failing: func(err error) (*stubCognito, func(*IdentityPoolOptions)) {
			return &stubCognito{getOpenID: func(context.Context, *cognitoidentity.GetOpenIdTokenInput, int) (*cognitoidentity.GetOpenIdTokenOutput, error) {
					return nil, err
				}}, func(o *IdentityPoolOptions) {
					o.BasicFlow = &BasicFlowOptions{RoleARN: testRoleARN, STS: &stubSTS{}}
				}
		},
	},
	{
		name:  "GetOpenIdTokenForDeveloperIdentity",
		codes: []string{"InvalidParameterException", "ResourceConflictException", "DeveloperUserAlreadyRegisteredException"},
		failing: func(err error) (*stubCognito, func(*IdentityPoolOptions)) {
			s := &stubCognito{}
			s.getDev = func(context.Context, *cognitoidentity.GetOpenIdTokenForDeveloperIdentityInput, int) (*cognitoidentity.GetOpenIdTokenForDeveloperIdentityOutput, error) {
				return nil, err
			}
			return s, func(o *IdentityPoolOptions) {
				o.Developer = &DeveloperIdentity{Client: s, ProviderName: "login.app", UserIdentifier: "user-1"}
			}
		},
	},
}

// cognitoException is the typed exception of code, as the cognitoidentity client returns it.
func cognitoException(code string) error {
	msg := aws.String("refused")
	var err error
	switch code {
	case "InvalidParameterException":
		err = &citypes.InvalidParameterException{Message: msg}
	case "LimitExceededException":
		err = &citypes.LimitExceededException{Message: msg}
	case "ResourceConflictException":
		err = &citypes.ResourceConflictException{Message: msg}
	case "DeveloperUserAlreadyRegisteredException":
		err = &citypes.DeveloperUserAlreadyRegisteredException{Message: msg}
	default:
		panic(code)
	}
	return &smithy.OperationError{ServiceID: "Cognito Identity", OperationName: "Op", Err: err}
}

// The caller's input or the pool's setup, per the operations' API reference, not a fault that
// passes: InvalidParameterException (missing or bad input), LimitExceededException (a quota on
// the number of identities or pools, not a rate: that is TooManyRequestsException),
// ResourceConflictException (a login linked to another identity) and
// DeveloperUserAlreadyRegisteredException (the developer user is another identity's). With no
// cached identity id to blame they are ErrConfiguration at once: one call, no fresh token, and
// never ridden out under aws.CredentialsCache, even with valid credentials from before.
func TestIdentityPoolInputAndQuotaErrorsAreConfiguration(t *testing.T) {
	for _, op := range cognitoOps {
		for _, code := range op.codes {
			for _, form := range []string{"typed", "code only"} {
				t.Run(op.name+"/"+code+"/"+form, func(t *testing.T) {
					awsErr := cognitoException(code)
					if form == "code only" {
						awsErr = &smithy.GenericAPIError{Code: code, Message: "refused"}
					}
					var n atomic.Int32
					logins := loginTokens(&n, fakeJWT(`{"sub":"alice","n":1}`), fakeJWT(`{"sub":"alice","n":2}`))

					// A provider that got credentials before, to ride out with if it did.
					good, goodOpts := op.failing(nil)
					good.getID, good.getCreds, good.getOpenID, good.getDev = nil, nil, nil, nil
					var gn atomic.Int32
					p := NewIdentityPool(good, testPoolID, goodOpts, func(o *IdentityPoolOptions) {
						o.Logins = loginTokens(&gn, fakeJWT(`{"sub":"alice"}`))
					})
					last, err := p.Retrieve(context.Background())
					require.NoError(t, err)

					stub, opts := op.failing(awsErr)
					_, err = NewIdentityPool(stub, testPoolID, opts, func(o *IdentityPoolOptions) { o.Logins = logins }).Retrieve(context.Background())
					require.Error(t, err)
					assert.ErrorIs(t, err, ErrConfiguration)
					assert.ErrorIs(t, err, awsErr)
					assert.NotErrorIs(t, err, ErrIDTokenRejected)
					var ae smithy.APIError
					require.ErrorAs(t, err, &ae)
					assert.Equal(t, code, ae.ErrorCode())
					assert.Equal(t, int32(1), n.Load(), "no fresh token for a configuration error")
					getID, getCreds, getOpenID, getDev := stub.counts()
					calls := map[string]int{"GetId": getID, "GetCredentialsForIdentity": getCreds,
						"GetOpenIdToken": getOpenID, "GetOpenIdTokenForDeveloperIdentity": getDev}
					assert.Equal(t, 1, calls[op.name], "%s called once: no retry", op.name)

					_, herr := p.HandleFailToRefresh(context.Background(), last, err)
					assert.ErrorIs(t, herr, ErrConfiguration, "not ridden out")
				})
			}
		}
	}
}

// A cached identity id may be what a conflict is about (the login was linked to another
// identity, or identities were merged): like ResourceNotFoundException, ResourceConflictException
// on a cached id, and DeveloperUserAlreadyRegisteredException on a cached id passed to the
// developer operation, get one retry that asks Cognito for the id instead of the cache.
func TestIdentityPoolConflictOnCachedIDRefetches(t *testing.T) {
	ctx := context.Background()
	stale := "eu-west-1:00000000-0000-0000-0000-000000000000"
	staleStore := func(t *testing.T, users map[string]string) tokenstore.Store {
		store := tokenstore.NewMemory()
		key, ok := identityKey(testPoolID, users)
		require.True(t, ok)
		require.NoError(t, store.Set(ctx, key, []byte(stale), time.Time{}))
		return store
	}
	t.Run("GetCredentialsForIdentity", func(t *testing.T) {
		store := staleStore(t, map[string]string{testProvider: "alice"})
		stub := &stubCognito{getCreds: func(_ context.Context, in *cognitoidentity.GetCredentialsForIdentityInput, _ int) (*cognitoidentity.GetCredentialsForIdentityOutput, error) {
			if aws.ToString(in.IdentityId) == stale {
				return nil, cognitoException("ResourceConflictException")
			}
			return cognitoCreds(aws.ToString(in.IdentityId), time.Now().Add(time.Hour)), nil
		}}
		var n atomic.Int32
		p := NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) {
			o.Logins, o.Store = loginTokens(&n, fakeJWT(`{"sub":"alice"}`)), store
		})
		_, err := p.Retrieve(ctx)
		require.NoError(t, err)
		getID, getCreds, _, _ := stub.counts()
		assert.Equal(t, 1, getID)
		assert.Equal(t, 2, getCreds)
		id, err := p.IdentityID(ctx)
		require.NoError(t, err)
		assert.Equal(t, testIdentityID, id, "the identity id Cognito returned replaces the stale one")
	})
	t.Run("GetOpenIdTokenForDeveloperIdentity", func(t *testing.T) {
		store := staleStore(t, map[string]string{"login.app": "user-1"})
		stub := &stubCognito{}
		stub.getDev = func(_ context.Context, in *cognitoidentity.GetOpenIdTokenForDeveloperIdentityInput, _ int) (*cognitoidentity.GetOpenIdTokenForDeveloperIdentityOutput, error) {
			if aws.ToString(in.IdentityId) == stale {
				return nil, cognitoException("DeveloperUserAlreadyRegisteredException")
			}
			return &cognitoidentity.GetOpenIdTokenForDeveloperIdentityOutput{IdentityId: aws.String(testIdentityID), Token: aws.String(fakeJWT(`{"sub":"dev"}`))}, nil
		}
		p := NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) {
			o.Developer = &DeveloperIdentity{Client: stub, ProviderName: "login.app", UserIdentifier: "user-1"}
			o.Store = store
		})
		_, err := p.Retrieve(ctx)
		require.NoError(t, err)
		require.Len(t, stub.devIn, 2)
		assert.Nil(t, stub.devIn[1].IdentityId, "the retry lets Cognito find the identity")
	})
	t.Run("conflict again: configuration error", func(t *testing.T) {
		store := staleStore(t, map[string]string{testProvider: "alice"})
		conflict := cognitoException("ResourceConflictException")
		stub := &stubCognito{getCreds: func(context.Context, *cognitoidentity.GetCredentialsForIdentityInput, int) (*cognitoidentity.GetCredentialsForIdentityOutput, error) {
			return nil, conflict
		}}
		var n atomic.Int32
		_, err := NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) {
			o.Logins, o.Store = loginTokens(&n, fakeJWT(`{"sub":"alice"}`)), store
		}).Retrieve(ctx)
		assert.ErrorIs(t, err, ErrConfiguration)
		assert.True(t, errors.Is(err, conflict))
		_, getCreds, _, _ := stub.counts()
		assert.Equal(t, 2, getCreds, "one retry, not more")
	})
}
