package exampleapp

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/pubauth/awsauth/authflow"
	"github.com/pubauth/awsauth/awscreds"
	"github.com/pubauth/awsauth/tokenstore"
)

// Base is what every example that calls AWS for its users builds first.
type Base struct {
	// Store keeps the sessions (and, where an example needs them, the
	// users' identity ids): the store TOKENSTORE_URL names.
	Store tokenstore.Store
	// Auth is the sign-in flow, with Store as its session store.
	Auth *authflow.Handler
	// Users caches each session's AWS credentials; a session's entry is
	// evicted when the session ends (logout, a refresh that can't go on).
	Users *awscreds.UserCache
	// AWS is the SDK's default configuration (AWS_REGION, AWS_ENDPOINT_URL, ...).
	AWS aws.Config
	// Close releases the store's connections.
	Close func() error
}

// StartOptions tunes Start; the zero value is the examples' usual.
type StartOptions struct {
	// Now is authflow's clock; nil means time.Now.
	Now func() time.Time
	// Region is used when the SDK's environment names none. Default us-east-1.
	Region string
	// UserCache configures Users.
	UserCache []func(*awscreds.UserCacheOptions)
}

// Start opens l's store, starts the sign-in flow on it (OIDC discovery) and
// loads the AWS SDK's configuration. It makes no AWS call. On error nothing
// is left open.
func (l *Login) Start(ctx context.Context, logger *slog.Logger, o StartOptions) (_ *Base, err error) {
	store, closeStore, err := l.OpenStore(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			closeStore()
		}
	}()
	users := awscreds.NewUserCache(o.UserCache...)
	ac := l.AuthflowConfig(store, logger, o.Now)
	ac.OnSessionEnd = users.Evict // the user's AWS credentials go with the session
	auth, err := authflow.New(ctx, ac)
	if err != nil {
		return nil, err
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	if awsCfg.Region == "" {
		awsCfg.Region = o.Region
		if awsCfg.Region == "" {
			awsCfg.Region = "us-east-1"
		}
	}
	return &Base{Store: store, Auth: auth, Users: users, AWS: awsCfg, Close: closeStore}, nil
}
