package awscreds

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
)

const testRoleARN = "arn:aws:iam::123456789012:role/web-users"

// stubSTS implements AssumeRoleWithWebIdentityAPIClient. respond gets the 1-based call number.
type stubSTS struct {
	respond func(ctx context.Context, in *sts.AssumeRoleWithWebIdentityInput, call int) (*sts.AssumeRoleWithWebIdentityOutput, error)

	mu     sync.Mutex
	inputs []*sts.AssumeRoleWithWebIdentityInput
}

func (s *stubSTS) AssumeRoleWithWebIdentity(ctx context.Context, in *sts.AssumeRoleWithWebIdentityInput, _ ...func(*sts.Options)) (*sts.AssumeRoleWithWebIdentityOutput, error) {
	s.mu.Lock()
	s.inputs = append(s.inputs, in)
	n := len(s.inputs)
	s.mu.Unlock()
	if s.respond == nil {
		return okOutput(time.Now().Add(time.Hour)), nil
	}
	return s.respond(ctx, in, n)
}

func (s *stubSTS) calls() []*sts.AssumeRoleWithWebIdentityInput {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*sts.AssumeRoleWithWebIdentityInput(nil), s.inputs...)
}

func okOutput(expires time.Time) *sts.AssumeRoleWithWebIdentityOutput {
	return &sts.AssumeRoleWithWebIdentityOutput{
		Credentials: &types.Credentials{
			AccessKeyId:     aws.String("ASIAEXAMPLE"),
			SecretAccessKey: aws.String("secret"),
			SessionToken:    aws.String("session"),
			Expiration:      aws.Time(expires),
		},
		AssumedRoleUser: &types.AssumedRoleUser{
			Arn:           aws.String("arn:aws:sts::123456789012:assumed-role/web-users/alice"),
			AssumedRoleId: aws.String("AROAEXAMPLE:alice"),
		},
	}
}

// tokens returns an IDTokenFunc that hands out toks in order (repeating the last) and counts calls.
func tokens(n *atomic.Int32, toks ...string) IDTokenFunc {
	return func(ctx context.Context) (string, error) {
		i := int(n.Add(1)) - 1
		return toks[min(i, len(toks)-1)], nil
	}
}

var errSessionEnded = errors.New("authflow: session ended")

func TestWebIdentityRetrieve(t *testing.T) {
	token := fakeJWT(`{"sub":"auth0|alice","aud":"client"}`)
	expires := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	stub := &stubSTS{respond: func(context.Context, *sts.AssumeRoleWithWebIdentityInput, int) (*sts.AssumeRoleWithWebIdentityOutput, error) {
		return okOutput(expires), nil
	}}
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	arns := []types.PolicyDescriptorType{{Arn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")}}
	var n atomic.Int32
	p := NewWebIdentity(stub, testRoleARN, tokens(&n, token), func(o *WebIdentityOptions) {
		o.Duration = 90 * time.Minute
		o.Policy = aws.String(policy)
		o.PolicyARNs = arns
	})
	arns[0].Arn = aws.String("changed after construction")

	creds, err := p.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := aws.Credentials{
		AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "secret", SessionToken: "session",
		Source: WebIdentityProviderName, CanExpire: true, Expires: expires, AccountID: "123456789012",
	}
	if creds != want {
		t.Errorf("credentials = %+v\nwant %+v", creds, want)
	}

	calls := stub.calls()
	if len(calls) != 1 {
		t.Fatalf("%d STS calls, want 1", len(calls))
	}
	in := calls[0]
	if got := aws.ToString(in.WebIdentityToken); got != token {
		t.Errorf("WebIdentityToken is not the token IDTokenFunc returned")
	}
	if got := aws.ToString(in.RoleArn); got != testRoleARN {
		t.Errorf("RoleArn = %q", got)
	}
	if got, want := aws.ToString(in.RoleSessionName), SanitizeRoleSessionName("auth0|alice"); got != want || !strings.HasPrefix(got, "auth0-alice=") {
		t.Errorf("RoleSessionName = %q, want %q", got, want)
	}
	if got := aws.ToInt32(in.DurationSeconds); got != 5400 {
		t.Errorf("DurationSeconds = %d, want 5400", got)
	}
	if got := aws.ToString(in.Policy); got != policy {
		t.Errorf("Policy = %q", got)
	}
	if len(in.PolicyArns) != 1 || aws.ToString(in.PolicyArns[0].Arn) != "arn:aws:iam::aws:policy/ReadOnlyAccess" {
		t.Errorf("PolicyArns = %v", in.PolicyArns)
	}
	if n.Load() != 1 {
		t.Errorf("IDTokenFunc called %d times, want 1", n.Load())
	}
	if got := p.ProviderSources(); len(got) != 1 || got[0] != aws.CredentialSourceSTSAssumeRoleWebID {
		t.Errorf("ProviderSources = %v", got)
	}
}

func TestWebIdentityRoleSessionName(t *testing.T) {
	tests := []struct {
		name, sub, option, want string
	}{
		{name: "plain subject", sub: "alice", want: "alice"},
		{name: "uuid subject", sub: "7f3c2a1e-9b1d-4c7e-8a55-0d2f6e4b9c13", want: "7f3c2a1e-9b1d-4c7e-8a55-0d2f6e4b9c13"},
		{name: "subject with slash", sub: "alice/x", want: SanitizeRoleSessionName("alice/x")},
		{name: "unicode subject", sub: "José", want: SanitizeRoleSessionName("José")},
		{name: "explicit", sub: "alice", option: "app-session", want: "app-session"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stub := &stubSTS{}
			var n atomic.Int32
			p := NewWebIdentity(stub, testRoleARN, tokens(&n, fakeJWT(fmt.Sprintf(`{"sub":%q}`, tt.sub))),
				func(o *WebIdentityOptions) { o.RoleSessionName = tt.option })
			if _, err := p.Retrieve(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := aws.ToString(stub.calls()[0].RoleSessionName); got != tt.want {
				t.Errorf("RoleSessionName = %q, want %q", got, tt.want)
			}
		})
	}
}

// Without a RoleSessionName the token must carry a sub; with one, the token goes to STS as is.
func TestWebIdentityUnparseableToken(t *testing.T) {
	for _, token := range []string{"opaque-token-not-a-jwt", fakeJWT(`{"aud":"x"}`), strings.Repeat("a.", 20000)} {
		stub := &stubSTS{}
		var n atomic.Int32
		_, err := NewWebIdentity(stub, testRoleARN, tokens(&n, token)).Retrieve(context.Background())
		if err == nil || !strings.HasPrefix(err.Error(), "awscreds:") || strings.Contains(err.Error(), token) {
			t.Errorf("err = %v", err)
		}
		if len(stub.calls()) != 0 {
			t.Errorf("STS called with a token it can't name a session for")
		}

		_, err = NewWebIdentity(stub, testRoleARN, tokens(&n, token), func(o *WebIdentityOptions) {
			o.RoleSessionName = "fixed"
		}).Retrieve(context.Background())
		if err != nil || len(stub.calls()) != 1 {
			t.Errorf("explicit RoleSessionName: err = %v, calls = %d", err, len(stub.calls()))
		}
	}
}

func TestWebIdentityDuration(t *testing.T) {
	tests := []struct {
		d       time.Duration
		want    int32 // 0: not sent
		wantErr bool
	}{
		{d: 0},
		{d: 15 * time.Minute, want: 900},
		{d: time.Hour, want: 3600},
		{d: 12 * time.Hour, want: 43200},
		{d: 15*time.Minute - time.Second, wantErr: true},
		{d: 12*time.Hour + time.Second, wantErr: true},
		{d: -time.Hour, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.d.String(), func(t *testing.T) {
			stub := &stubSTS{}
			var n atomic.Int32
			_, err := NewWebIdentity(stub, testRoleARN, tokens(&n, fakeJWT(`{"sub":"alice"}`)),
				func(o *WebIdentityOptions) { o.Duration = tt.d }).Retrieve(context.Background())
			if tt.wantErr {
				if err == nil || len(stub.calls()) != 0 {
					t.Fatalf("err = %v, calls = %d; want a configuration error and no call", err, len(stub.calls()))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			in := stub.calls()[0]
			if (in.DurationSeconds == nil) != (tt.want == 0) || aws.ToInt32(in.DurationSeconds) != tt.want {
				t.Errorf("DurationSeconds = %v, want %d", in.DurationSeconds, tt.want)
			}
		})
	}
}

func TestWebIdentityConfigErrors(t *testing.T) {
	var n atomic.Int32
	idToken := tokens(&n, fakeJWT(`{"sub":"alice"}`))
	stub := &stubSTS{}
	tests := []struct {
		name    string
		client  AssumeRoleWithWebIdentityAPIClient
		roleARN string
		idToken IDTokenFunc
		opt     func(*WebIdentityOptions)
	}{
		{name: "nil client", roleARN: testRoleARN, idToken: idToken},
		{name: "empty role", client: stub, idToken: idToken},
		{name: "nil IDTokenFunc", client: stub, roleARN: testRoleARN},
		{name: "bad session name", client: stub, roleARN: testRoleARN, idToken: idToken,
			opt: func(o *WebIdentityOptions) { o.RoleSessionName = "alice/x" }},
		{name: "1-char session name", client: stub, roleARN: testRoleARN, idToken: idToken,
			opt: func(o *WebIdentityOptions) { o.RoleSessionName = "a" }},
		{name: "negative timeout", client: stub, roleARN: testRoleARN, idToken: idToken,
			opt: func(o *WebIdentityOptions) { o.Timeout = -time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []func(*WebIdentityOptions)
			if tt.opt != nil {
				opts = append(opts, tt.opt)
			}
			_, err := NewWebIdentity(tt.client, tt.roleARN, tt.idToken, opts...).Retrieve(context.Background())
			if err == nil || !strings.HasPrefix(err.Error(), "awscreds: WebIdentity: ") {
				t.Fatalf("err = %v", err)
			}
		})
	}
	if len(stub.calls()) != 0 || n.Load() != 0 {
		t.Errorf("a misconfigured provider called STS or the IDTokenFunc")
	}
}

// rejections are the ways STS (or an STS-compatible server) refuses the token itself.
func rejections() map[string]func() error {
	return map[string]func() error{
		"ExpiredTokenException": func() error { return &types.ExpiredTokenException{Message: aws.String("Token expired")} },
		"InvalidIdentityTokenException": func() error {
			return &types.InvalidIdentityTokenException{Message: aws.String("Incorrect token audience")}
		},
		"code InvalidIdentityToken in an OperationError": func() error {
			return &smithy.OperationError{ServiceID: "STS", OperationName: "AssumeRoleWithWebIdentity",
				Err: &smithy.GenericAPIError{Code: "InvalidIdentityToken", Message: "bad token"}}
		},
	}
}

func TestWebIdentityRetriesOnceWithFreshToken(t *testing.T) {
	old, fresh := fakeJWT(`{"sub":"alice","n":1}`), fakeJWT(`{"sub":"alice","n":2}`)
	for name, rejection := range rejections() {
		t.Run(name, func(t *testing.T) {
			t.Run("fresh token accepted", func(t *testing.T) {
				stub := &stubSTS{respond: func(_ context.Context, in *sts.AssumeRoleWithWebIdentityInput, call int) (*sts.AssumeRoleWithWebIdentityOutput, error) {
					if call == 1 {
						return nil, rejection()
					}
					return okOutput(time.Now().Add(time.Hour)), nil
				}}
				var n atomic.Int32
				creds, err := NewWebIdentity(stub, testRoleARN, tokens(&n, old, fresh)).Retrieve(context.Background())
				if err != nil || !creds.HasKeys() {
					t.Fatalf("Retrieve = %+v, %v", creds, err)
				}
				calls := stub.calls()
				if len(calls) != 2 || n.Load() != 2 {
					t.Fatalf("%d STS calls, %d token calls; want 2, 2", len(calls), n.Load())
				}
				if aws.ToString(calls[0].WebIdentityToken) != old || aws.ToString(calls[1].WebIdentityToken) != fresh {
					t.Errorf("the retry did not use the fresh token")
				}
			})
			t.Run("fresh token rejected", func(t *testing.T) {
				stub := &stubSTS{respond: func(context.Context, *sts.AssumeRoleWithWebIdentityInput, int) (*sts.AssumeRoleWithWebIdentityOutput, error) {
					return nil, rejection()
				}}
				var n atomic.Int32
				_, err := NewWebIdentity(stub, testRoleARN, tokens(&n, old, fresh, "third")).Retrieve(context.Background())
				checkRejected(t, err)
				if len(stub.calls()) != 2 || n.Load() != 2 {
					t.Errorf("%d STS calls, %d token calls; want 2, 2 (one retry only)", len(stub.calls()), n.Load())
				}
			})
			t.Run("same token again", func(t *testing.T) {
				stub := &stubSTS{respond: func(context.Context, *sts.AssumeRoleWithWebIdentityInput, int) (*sts.AssumeRoleWithWebIdentityOutput, error) {
					return nil, rejection()
				}}
				var n atomic.Int32
				_, err := NewWebIdentity(stub, testRoleARN, tokens(&n, old)).Retrieve(context.Background())
				checkRejected(t, err)
				if len(stub.calls()) != 1 || n.Load() != 2 {
					t.Errorf("%d STS calls, %d token calls; want 1, 2 (no retry with the same token)", len(stub.calls()), n.Load())
				}
			})
			t.Run("IDTokenFunc fails on the retry", func(t *testing.T) {
				stub := &stubSTS{respond: func(context.Context, *sts.AssumeRoleWithWebIdentityInput, int) (*sts.AssumeRoleWithWebIdentityOutput, error) {
					return nil, rejection()
				}}
				var n atomic.Int32
				idToken := func(ctx context.Context) (string, error) {
					if n.Add(1) > 1 {
						return "", errSessionEnded
					}
					return old, nil
				}
				_, err := NewWebIdentity(stub, testRoleARN, idToken).Retrieve(context.Background())
				checkRejected(t, err)
				if !errors.Is(err, errSessionEnded) {
					t.Errorf("errors.Is(err, errSessionEnded) = false: %v", err)
				}
				if len(stub.calls()) != 1 {
					t.Errorf("%d STS calls, want 1", len(stub.calls()))
				}
			})
		})
	}
}

func checkRejected(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrIDTokenRejected) {
		t.Fatalf("errors.Is(err, ErrIDTokenRejected) = false: %v", err)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Errorf("errors.As(err, *smithy.APIError) = false: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "awscreds: ") {
		t.Errorf("error %q lacks the awscreds: prefix", err)
	}
}

func TestWebIdentityOtherAPIErrors(t *testing.T) {
	errs := map[string]error{
		"AccessDenied": &smithy.OperationError{ServiceID: "STS", OperationName: "AssumeRoleWithWebIdentity",
			Err: &smithy.GenericAPIError{Code: "AccessDenied", Message: "Not authorized to perform sts:AssumeRoleWithWebIdentity"}},
		"MalformedPolicyDocument": &types.MalformedPolicyDocumentException{Message: aws.String("bad policy")},
		"IDPCommunicationError":   &types.IDPCommunicationErrorException{Message: aws.String("JWKS unreachable")},
	}
	for name, stsErr := range errs {
		t.Run(name, func(t *testing.T) {
			stub := &stubSTS{respond: func(context.Context, *sts.AssumeRoleWithWebIdentityInput, int) (*sts.AssumeRoleWithWebIdentityOutput, error) {
				return nil, stsErr
			}}
			var n atomic.Int32
			_, err := NewWebIdentity(stub, testRoleARN, tokens(&n, fakeJWT(`{"sub":"alice"}`))).Retrieve(context.Background())
			var ae smithy.APIError
			if !errors.As(err, &ae) || !errors.Is(err, stsErr) {
				t.Fatalf("AWS error not reachable through %v", err)
			}
			if errors.Is(err, ErrIDTokenRejected) {
				t.Errorf("%s reported as ErrIDTokenRejected", name)
			}
			if !strings.HasPrefix(err.Error(), "awscreds: ") {
				t.Errorf("error %q lacks the awscreds: prefix", err)
			}
			if len(stub.calls()) != 1 || n.Load() != 1 {
				t.Errorf("%d STS calls, %d token calls; want 1, 1", len(stub.calls()), n.Load())
			}
		})
	}
}

func TestWebIdentityIDTokenFuncError(t *testing.T) {
	for name, idToken := range map[string]IDTokenFunc{
		"error":       func(context.Context) (string, error) { return "", fmt.Errorf("refresh: %w", errSessionEnded) },
		"empty token": func(context.Context) (string, error) { return "", nil },
	} {
		t.Run(name, func(t *testing.T) {
			stub := &stubSTS{}
			_, err := NewWebIdentity(stub, testRoleARN, idToken).Retrieve(context.Background())
			if err == nil || !strings.HasPrefix(err.Error(), "awscreds: ") {
				t.Fatalf("err = %v", err)
			}
			if name == "error" && !errors.Is(err, errSessionEnded) {
				t.Errorf("errors.Is(err, errSessionEnded) = false: %v", err)
			}
			if len(stub.calls()) != 0 {
				t.Errorf("STS called without a token")
			}
		})
	}
}

func TestWebIdentityTimeout(t *testing.T) {
	for _, timeout := range []time.Duration{0, 3 * time.Second} {
		t.Run(fmt.Sprint(timeout), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				want := timeout
				if want == 0 {
					want = DefaultTimeout
				}
				stub := &stubSTS{respond: func(ctx context.Context, _ *sts.AssumeRoleWithWebIdentityInput, _ int) (*sts.AssumeRoleWithWebIdentityOutput, error) {
					<-ctx.Done()
					return nil, ctx.Err()
				}}
				idToken := func(ctx context.Context) (string, error) {
					if _, ok := ctx.Deadline(); !ok {
						t.Error("IDTokenFunc called without the provider's deadline")
					}
					return fakeJWT(`{"sub":"alice"}`), nil
				}
				p := NewWebIdentity(stub, testRoleARN, idToken, func(o *WebIdentityOptions) { o.Timeout = timeout })
				// The cache strips the caller's deadline; the provider's own still applies.
				cache := aws.NewCredentialsCache(p)

				start := time.Now()
				_, err := cache.Retrieve(context.Background())
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("err = %v, want DeadlineExceeded", err)
				}
				if got := time.Since(start); got != want {
					t.Errorf("Retrieve returned after %v, want %v", got, want)
				}
			})
		})
	}
}

func TestWebIdentityBadResponse(t *testing.T) {
	tests := map[string]*sts.AssumeRoleWithWebIdentityOutput{
		"nil output":      nil,
		"nil credentials": {},
		"nil expiration":  {Credentials: &types.Credentials{AccessKeyId: aws.String("A"), SecretAccessKey: aws.String("S")}},
		"zero expiration": {Credentials: &types.Credentials{AccessKeyId: aws.String("A"), SecretAccessKey: aws.String("S"), Expiration: aws.Time(time.Time{})}},
		"empty key":       {Credentials: &types.Credentials{SecretAccessKey: aws.String("S"), Expiration: aws.Time(time.Now())}},
	}
	for name, out := range tests {
		t.Run(name, func(t *testing.T) {
			stub := &stubSTS{respond: func(context.Context, *sts.AssumeRoleWithWebIdentityInput, int) (*sts.AssumeRoleWithWebIdentityOutput, error) {
				return out, nil
			}}
			var n atomic.Int32
			creds, err := NewWebIdentity(stub, testRoleARN, tokens(&n, fakeJWT(`{"sub":"alice"}`))).Retrieve(context.Background())
			if err == nil || !strings.HasPrefix(err.Error(), "awscreds: ") || creds.HasKeys() {
				t.Fatalf("Retrieve = %+v, %v; want an error", creds, err)
			}
		})
	}
}

// A hostile STS-compatible server echoes the token in its error messages; the provider's
// errors must still not contain it, directly or through aws.CredentialsCache.
func TestWebIdentityErrorsNeverContainToken(t *testing.T) {
	old, fresh := fakeJWT(`{"sub":"alice","n":1}`), fakeJWT(`{"sub":"alice","n":2}`)
	echo := func(code string) func(context.Context, *sts.AssumeRoleWithWebIdentityInput, int) (*sts.AssumeRoleWithWebIdentityOutput, error) {
		return func(_ context.Context, in *sts.AssumeRoleWithWebIdentityInput, _ int) (*sts.AssumeRoleWithWebIdentityOutput, error) {
			tok := aws.ToString(in.WebIdentityToken)
			_, payload, _ := strings.Cut(tok, ".")
			return nil, &smithy.OperationError{ServiceID: "STS", OperationName: "AssumeRoleWithWebIdentity",
				Err: &smithy.GenericAPIError{Code: code, Message: "got token " + tok + " payload " + payload}}
		}
	}
	tests := []struct {
		name    string
		respond func(context.Context, *sts.AssumeRoleWithWebIdentityInput, int) (*sts.AssumeRoleWithWebIdentityOutput, error)
		idToken IDTokenFunc
	}{
		{name: "other error", respond: echo("AccessDenied")},
		{name: "rejected twice", respond: echo("ExpiredTokenException")},
		{name: "rejected, same token", respond: echo("InvalidIdentityToken"),
			idToken: func(context.Context) (string, error) { return old, nil }},
		{name: "rejected, IDTokenFunc fails", respond: echo("ExpiredTokenException"),
			idToken: func() IDTokenFunc {
				var n atomic.Int32
				return func(context.Context) (string, error) {
					if n.Add(1) > 1 {
						return "", errSessionEnded
					}
					return old, nil
				}
			}()},
		{name: "bad response", respond: func(context.Context, *sts.AssumeRoleWithWebIdentityInput, int) (*sts.AssumeRoleWithWebIdentityOutput, error) {
			return &sts.AssumeRoleWithWebIdentityOutput{}, nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idToken := tt.idToken
			if idToken == nil {
				var n atomic.Int32
				idToken = tokens(&n, old, fresh)
			}
			p := NewWebIdentity(&stubSTS{respond: tt.respond}, testRoleARN, idToken)
			_, err := aws.NewCredentialsCache(p).Retrieve(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			for _, tok := range []string{old, fresh} {
				for _, part := range append(strings.Split(tok, "."), tok) {
					if strings.Contains(err.Error(), part) {
						t.Fatalf("error contains (part of) the token: %v", err)
					}
				}
			}
		})
	}
}

func TestWebIdentityCredentialsCache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		stub := &stubSTS{respond: func(ctx context.Context, _ *sts.AssumeRoleWithWebIdentityInput, _ int) (*sts.AssumeRoleWithWebIdentityOutput, error) {
			calls.Add(1)
			time.Sleep(500 * time.Millisecond) // let every caller pile up behind this one
			return okOutput(time.Now().Add(time.Hour)), nil
		}}
		var n atomic.Int32
		p := NewWebIdentity(stub, testRoleARN, tokens(&n, fakeJWT(`{"sub":"alice"}`)))
		cache := aws.NewCredentialsCache(p, func(o *aws.CredentialsCacheOptions) {
			o.ExpiryWindow = 1 * time.Minute
			o.ExpiryWindowJitterFrac = 0.5
		})

		const callers = 100
		var wg sync.WaitGroup
		errs := make(chan error, callers)
		keys := make(chan string, callers)
		for range callers {
			wg.Go(func() {
				creds, err := cache.Retrieve(context.Background())
				errs <- err
				keys <- creds.AccessKeyID
			})
		}
		wg.Wait()
		close(errs)
		close(keys)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		for k := range keys {
			if k != "ASIAEXAMPLE" {
				t.Fatalf("AccessKeyID = %q", k)
			}
		}
		if got := calls.Load(); got != 1 {
			t.Fatalf("%d concurrent Retrieve made %d STS calls, want 1", callers, got)
		}

		// The cache refreshes between 1 min and 30 s before the credentials expire.
		time.Sleep(time.Hour - 61*time.Second)
		if _, err := cache.Retrieve(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := calls.Load(); got != 1 {
			t.Fatalf("%d STS calls before the expiry window, want 1", got)
		}
		time.Sleep(31 * time.Second)
		if _, err := cache.Retrieve(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := calls.Load(); got != 2 {
			t.Fatalf("%d STS calls within the expiry window, want 2", got)
		}
	})
}

// Under aws.CredentialsCache a transient STS fault is ridden out with the last credentials
// while they are valid; a rejected token is not.
func TestWebIdentityRidesOutTransientFaults(t *testing.T) {
	for name, tt := range map[string]struct {
		err  error
		ride bool
	}{
		"IDPCommunicationError": {err: &types.IDPCommunicationErrorException{Message: aws.String("JWKS unreachable")}, ride: true},
		"500": {err: &smithy.OperationError{ServiceID: "STS", OperationName: "AssumeRoleWithWebIdentity",
			Err: &smithy.GenericAPIError{Code: "InternalFailure", Message: "oops", Fault: smithy.FaultServer}}, ride: true},
		"timeout":               {err: context.DeadlineExceeded, ride: true},
		"ExpiredTokenException": {err: &types.ExpiredTokenException{Message: aws.String("expired")}},
		"AccessDenied":          {err: &smithy.GenericAPIError{Code: "AccessDenied", Message: "no", Fault: smithy.FaultClient}},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var down atomic.Bool
				stub := &stubSTS{respond: func(context.Context, *sts.AssumeRoleWithWebIdentityInput, int) (*sts.AssumeRoleWithWebIdentityOutput, error) {
					if down.Load() {
						return nil, tt.err
					}
					return okOutput(time.Now().Add(15 * time.Minute)), nil
				}}
				var n atomic.Int32
				p := NewWebIdentity(stub, testRoleARN, tokens(&n, fakeJWT(`{"sub":"alice","n":1}`), fakeJWT(`{"sub":"alice","n":2}`)))
				cache := aws.NewCredentialsCache(p, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = time.Minute })
				_, err := cache.Retrieve(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				down.Store(true)
				time.Sleep(14*time.Minute + time.Second) // inside the window: a refresh is due
				got, err := cache.Retrieve(context.Background())
				if tt.ride {
					if err != nil || got.AccessKeyID != "ASIAEXAMPLE" || !got.Expires.Equal(time.Now().Add(rideOutRetry)) {
						t.Fatalf("Retrieve = %+v, %v; want the previous credentials until the next try", got, err)
					}
					time.Sleep(time.Minute) // past the real expiry
					if _, err := cache.Retrieve(context.Background()); err == nil {
						t.Fatal("expired credentials handed out")
					}
					return
				}
				if err == nil {
					t.Fatalf("%s ridden out", name)
				}
			})
		})
	}
}
