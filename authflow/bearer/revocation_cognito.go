package bearer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/smithy-go"

	"github.com/pubauth/awsauth/internal/cognito"
)

// GetUserAPIClient is the one operation of the Amazon Cognito user pools
// API that CognitoGetUser calls; *cognitoidentityprovider.Client implements
// it, and a test stubs it.
type GetUserAPIClient interface {
	GetUser(ctx context.Context, params *cip.GetUserInput, optFns ...func(*cip.Options)) (*cip.GetUserOutput, error)
}

// ScopeCognitoUserAdmin is the scope Cognito's GetUser requires of the
// access token it is called with.
const ScopeCognitoUserAdmin = "aws.cognito.signin.user.admin"

// CognitoGetUser is the online revocation check of Amazon Cognito user
// pools, which have no introspection endpoint: it calls GetUser with the
// access token itself. Cognito refuses that call for a token revoked with
// RevokeToken (or with its refresh token), for a user signed out with
// GlobalSignOut or AdminUserGlobalSignOut, and for a disabled or deleted
// user (NotAuthorizedException, UserNotFoundException): the token is then
// no longer active (ErrTokenRevoked). TooManyRequestsException,
// InternalErrorException, any other error and a network fault are faults.
// See https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_GetUser.html.
//
// Requirements: GetUser takes only access tokens that carry the scope
// aws.cognito.signin.user.admin (ScopeCognitoUserAdmin): a token without it
// (an app client that doesn't grant it, a client-credentials token) is a
// fault, never sent. That scope also lets the token's holder call the
// user's self-service API (read and change their attributes, change their
// password, delete their account): grant it only to an app client whose
// tokens may do that. Each call goes to the Region named by the token's iss
// (an UPDATED issuer names the pool's primary Region), whatever the
// client's own Region, so one client serves pools in several Regions; a
// token whose iss is not a Cognito user pool's is a fault. GetUser is
// unauthenticated (no IAM credentials, no IAM policy): a client made with
// cognitoidentityprovider.New(cognitoidentityprovider.Options{Region: r})
// will do.
//
// Quotas: GetUser is in the UserRead category of the user pools API,
// whose default rate quota is 120 requests per second for all user pools
// of an account in a Region (adjustable), and each user may make at most 10
// read requests per second (not adjustable); beyond them Cognito answers
// TooManyRequestsException, which fails the check. Keep RevocationConfig's
// cache on, check online only on the routes that need it, and watch the
// category's CallCount and ThrottleCount metrics in CloudWatch. See
// https://docs.aws.amazon.com/cognito/latest/developerguide/quotas.html.
type CognitoGetUser struct {
	client GetUserAPIClient
}

// NewCognitoGetUser returns the check that calls GetUser through client.
func NewCognitoGetUser(client GetUserAPIClient) *CognitoGetUser {
	return &CognitoGetUser{client: client}
}

var _ Revocation = (*CognitoGetUser)(nil)

// getUserRefusals are GetUser's errors that say the token is no longer
// honoured, without the "Exception" suffix (see awscreds' error tables for
// why codes are compared so).
var getUserRefusals = map[string]bool{
	"NotAuthorized":         true, // revoked, signed out globally, disabled user, expired
	"UserNotFound":          true, // the user was deleted
	"PasswordResetRequired": true, // an administrator reset the password
	"UserNotConfirmed":      true,
}

var (
	errNotCognito      = errors.New("bearer: GetUser: the token's issuer is not an Amazon Cognito user pool")
	errNoAdminScope    = errors.New("bearer: GetUser: the access token lacks the scope " + ScopeCognitoUserAdmin)
	errNoGetUserClient = errors.New("bearer: GetUser: no client")
)

// Active calls GetUser with token in the Region of c's issuer.
func (g *CognitoGetUser) Active(ctx context.Context, token string, c *Claims) error {
	if g == nil || g.client == nil {
		return errNoGetUserClient
	}
	pool, ok := cognito.ParseIssuer(c.Issuer)
	if !ok {
		return errNotCognito
	}
	region := pool.Region // a replica's, named by iss
	if region == "" {
		region, _ = cognito.RegionOf(pool.ID)
	}
	if !c.HasScope(ScopeCognitoUserAdmin) {
		return errNoAdminScope
	}
	_, err := g.client.GetUser(ctx, &cip.GetUserInput{AccessToken: &token}, func(o *cip.Options) { o.Region = region })
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		// Only the code: the service's message is not ours to log.
		code := strings.TrimSuffix(ae.ErrorCode(), "Exception")
		if getUserRefusals[code] {
			return fmt.Errorf("%w: Cognito GetUser: %s", ErrTokenRevoked, ae.ErrorCode())
		}
		return fmt.Errorf("bearer: Cognito GetUser: %s", ae.ErrorCode())
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("bearer: Cognito GetUser: %w", ctxErr)
	}
	// A transport error names the endpoint, not the token (it travels in the body).
	return fmt.Errorf("bearer: Cognito GetUser: %w", err)
}
