package soak

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/redis/go-redis/v9"

	"github.com/pubauth/awsauth/authflow"
	"github.com/pubauth/awsauth/awscreds"
	"github.com/pubauth/awsauth/internal/testenv"
	"github.com/pubauth/awsauth/internal/testenv/minio"
	"github.com/pubauth/awsauth/internal/testenv/stack"
	"github.com/pubauth/awsauth/internal/testenv/toxi"
	"github.com/pubauth/awsauth/tokenstore/redisstore"
)

// Config configures a soak run.
type Config struct {
	// Duration is how long the users run (set-up and the final checks come
	// on top).
	Duration time.Duration
	// Users is how many simulated users run at once.
	Users int
	// Instances is how many app instances share the store. Default 3.
	Instances int
	// TokenTTL is the provider's access and ID token lifetime; a session
	// refreshes once it is half spent (authflow caps Config.RefreshWindow at
	// half the lifetime). Default 12 s, so every session refreshes.
	TokenTTL time.Duration
	// HeapProfile, when set, is a file the run writes a heap profile to
	// after the users stop (go tool pprof -sample_index=inuse_space).
	HeapProfile string
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// Env is the running system under soak: the provider and MinIO
// (internal/testenv/stack), Redis behind a toxi proxy, the provider's token
// endpoint behind another for the apps (the users reach the provider
// directly), and Instances app instances on loopback.
type Env struct {
	cfg        Config
	st         *stack.Stack
	redis      *testenv.Redis
	redisProxy *toxi.Proxy
	opProxy    *toxi.Proxy
	urls       []string
	servers    []*http.Server
	instances  []*instance
	clients    []*redis.Client
	transports []*http.Transport // the apps' own, to the provider (via opProxy), STS and S3
	stsCalls   atomic.Int64
	logs       *logCounter

	windows windows
	stats   *stats
}

// Start starts everything; ctx bounds the start. On error everything started
// is stopped.
func Start(ctx context.Context, cfg Config) (_ *Env, err error) {
	if cfg.Instances <= 0 {
		cfg.Instances = 3
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 12 * time.Second
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	e := &Env{cfg: cfg, stats: newStats(), logs: newLogCounter()}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	lns := make([]net.Listener, cfg.Instances)
	for i := range lns {
		if lns[i], err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			for _, ln := range lns[:i] {
				ln.Close()
			}
			return nil, err
		}
		e.urls = append(e.urls, "http://"+lns[i].Addr().String())
	}
	var redirects, postLogout []string
	for _, u := range e.urls[1:] {
		redirects, postLogout = append(redirects, u+"/callback"), append(postLogout, u+"/")
	}
	e.st, err = stack.Start(ctx, stack.Config{
		AppURL:                 e.urls[0],
		RedirectURIs:           redirects,
		PostLogoutRedirectURIs: postLogout,
		OIDC: testenv.OIDCConfig{
			AccessTokenTTL:     cfg.TokenTTL,
			IDTokenTTL:         cfg.TokenTTL,
			RotateRefreshToken: true,
		},
	})
	if err != nil {
		for _, ln := range lns {
			ln.Close()
		}
		return nil, err
	}
	if e.redis, err = testenv.StartRedis(ctx); err != nil {
		return nil, err
	}
	if e.redisProxy, err = toxi.New("redis", e.redis.Addr); err != nil {
		return nil, err
	}
	iu, err := url.Parse(e.st.OIDC.Issuer)
	if err != nil {
		return nil, err
	}
	if e.opProxy, err = toxi.New("provider", iu.Host); err != nil {
		return nil, err
	}
	if err := e.putMarkers(ctx); err != nil {
		return nil, err
	}

	cookieKey := make([]byte, 32)
	rand.Read(cookieKey)
	logger := slog.New(e.logs)
	for i, ln := range lns {
		a, err := e.newInstance(ctx, i, cookieKey, logger)
		if err != nil {
			for _, ln := range lns[i:] {
				ln.Close()
			}
			return nil, err
		}
		srv := &http.Server{Handler: a.routes(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
		go srv.Serve(ln)
		e.instances, e.servers = append(e.instances, a), append(e.servers, srv)
	}
	return e, nil
}

// redisPool is each instance's Redis connection pool size.
const redisPool = 8

// markerKey is the object every user finds in their own prefix.
func markerKey(login string) string { return login + "/marker.txt" }

func login(i int) string { return fmt.Sprintf("soak-user-%04d", i) }

// putMarkers puts one object in every user's prefix, so that a listing
// shows whose prefix it is.
func (e *Env) putMarkers(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make(chan error, e.cfg.Users)
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				if err := e.st.MinIO.PutObject(ctx, stack.Bucket, markerKey(login(i)), []byte(login(i))); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range e.cfg.Users {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	return <-errs // nil when closed empty
}

// newInstance builds instance i: its own Redis client through the toxi
// proxy, its own HTTP transport (the provider's host:port dialled through
// the provider's toxi proxy, so that URLs and the Host header stay the
// issuer's), its own STS and S3 clients.
func (e *Env) newInstance(ctx context.Context, i int, cookieKey []byte, logger *slog.Logger) (*instance, error) {
	// A pool of a fixed size, kept full (MinIdleConns): the heap and
	// goroutine counts before and after the run then hold the same
	// connections, and those (go-redis's buffers, toxiproxy's per link)
	// do not pass for a leak of the app's.
	rc := redis.NewClient(&redis.Options{Addr: e.redisProxy.Addr, PoolSize: redisPool, MinIdleConns: redisPool})
	e.clients = append(e.clients, rc)
	store, err := redisstore.New(rc)
	if err != nil {
		return nil, err
	}
	opHost := e.opProxy.Upstream
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == opHost {
			addr = e.opProxy.Addr
		}
		return dialer.DialContext(ctx, network, addr)
	}
	e.transports = append(e.transports, tr)
	hc := &http.Client{Transport: tr}

	// Each instance caches credentials for as many sessions as there are
	// users: an instance keeps the entry of a session that another instance
	// ended (OnSessionEnd runs where the session ends) until the LRU drops
	// it, so the bound is what keeps the heap flat.
	users := awscreds.NewUserCache(func(o *awscreds.UserCacheOptions) { o.MaxEntries = max(e.cfg.Users, 1) })
	auth, err := authflow.New(ctx, authflow.Config{
		Issuer:                e.st.OIDC.Issuer,
		ClientID:              stack.ClientID,
		RedirectURL:           e.urls[i] + "/callback",
		PostLogoutRedirectURL: e.urls[i] + "/",
		Store:                 store,
		CookieKeys:            [][]byte{cookieKey},
		HTTPClient:            hc,
		OnSessionEnd:          users.Evict,
		OnSessionEndDetail:    e.logs.sessionEnd,
		Logger:                logger.With("instance", i),
	})
	if err != nil {
		return nil, err
	}
	a := &instance{
		auth:   auth,
		users:  users,
		role:   e.st.MinIO.RoleARN,
		logger: logger,
		sts: countingSTS{calls: &e.stsCalls, next: sts.New(sts.Options{
			BaseEndpoint: aws.String(e.st.MinIO.Endpoint), Region: minio.Region,
			Credentials: aws.AnonymousCredentials{}, HTTPClient: hc,
		})},
		s3: s3.New(s3.Options{
			BaseEndpoint: aws.String(e.st.MinIO.Endpoint), Region: minio.Region,
			UsePathStyle: true, HTTPClient: hc,
		}),
	}
	return a, nil
}

func (e *Env) logf(format string, args ...any) { e.cfg.Logf(format, args...) }

// closeIdle closes the idle keep-alive connections of the apps' outbound
// transports, so that goroutine counts compare like with like.
func (e *Env) closeIdle() {
	for _, tr := range e.transports {
		tr.CloseIdleConnections()
	}
}

// Close stops the instances, the proxies and the peers.
func (e *Env) Close() error {
	var errs []error
	for _, s := range e.servers {
		errs = append(errs, s.Close())
	}
	for _, c := range e.clients {
		errs = append(errs, c.Close())
	}
	e.closeIdle()
	if e.redisProxy != nil {
		e.redisProxy.Close()
	}
	if e.opProxy != nil {
		e.opProxy.Close()
	}
	if e.redis != nil {
		errs = append(errs, e.redis.Stop())
	}
	if e.st != nil {
		errs = append(errs, e.st.Stop())
	}
	return errors.Join(errs...)
}

// ProviderLogs returns the tail of the provider's output: its grant and
// server errors.
func (e *Env) ProviderLogs() string { return e.st.OIDC.Logs() }
