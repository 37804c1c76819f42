package awscreds

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentity"
)

// sessionIDs returns n keys shaped like authflow's session ids (43 characters).
func sessionIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		b := make([]byte, 32)
		rand.Read(b)
		ids[i] = base64.RawURLEncoding.EncodeToString(b)
	}
	return ids
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkUserCacheMemory measures the heap held per user: "bare" is the floor, a map from
// key to an aws.CredentialsCache (what any per-user cache must hold); "UserCache" adds the
// bound, the LRU order and the single flight; "UserCache+IdentityPool" holds a real provider
// per user. The keys (43-byte session ids) are allocated before the measurement and count in
// none of them.
func BenchmarkUserCacheMemory(b *testing.B) {
	for _, users := range []int{10_000, 100_000} {
		ids := sessionIDs(users)
		shared := &countingProvider{}
		stub := &stubCognito{}
		b.Run(fmt.Sprintf("bare/users=%d", users), func(b *testing.B) {
			var perUser float64
			for b.Loop() {
				before := heapInUse()
				m := make(map[string]*aws.CredentialsCache)
				for _, id := range ids {
					m[id] = aws.NewCredentialsCache(shared)
				}
				perUser = float64(heapInUse()-before) / float64(users)
				runtime.KeepAlive(m)
			}
			b.ReportMetric(perUser, "B/user")
		})
		b.Run(fmt.Sprintf("UserCache/users=%d", users), func(b *testing.B) {
			var perUser float64
			for b.Loop() {
				before := heapInUse()
				c := NewUserCache(func(o *UserCacheOptions) { o.MaxEntries = users })
				for _, id := range ids {
					c.Get(id, func() aws.CredentialsProvider { return shared })
				}
				perUser = float64(heapInUse()-before) / float64(users)
				if c.Len() != users {
					b.Fatalf("Len = %d, want %d", c.Len(), users)
				}
				runtime.KeepAlive(c)
			}
			b.ReportMetric(perUser, "B/user")
		})
		b.Run(fmt.Sprintf("UserCache+IdentityPool/users=%d", users), func(b *testing.B) {
			var perUser float64
			for b.Loop() {
				before := heapInUse()
				c := NewUserCache(func(o *UserCacheOptions) { o.MaxEntries = users })
				for _, id := range ids {
					c.Get(id, func() aws.CredentialsProvider {
						return NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) {
							o.Logins = func(context.Context) (map[string]string, error) { return nil, nil }
						})
					})
				}
				perUser = float64(heapInUse()-before) / float64(users)
				runtime.KeepAlive(c)
			}
			b.ReportMetric(perUser, "B/user")
		})
		// The bound: ten times as many users as MaxEntries leave MaxEntries entries, and the
		// heap of a cache that saw them all is that of one that saw MaxEntries.
		b.Run(fmt.Sprintf("UserCache/bound=%d/users=%d", users/10, users), func(b *testing.B) {
			var perKept float64
			for b.Loop() {
				before := heapInUse()
				c := NewUserCache(func(o *UserCacheOptions) { o.MaxEntries = users / 10 })
				for _, id := range ids {
					c.Get(id, func() aws.CredentialsProvider { return shared })
				}
				if c.Len() != users/10 {
					b.Fatalf("Len = %d, want the bound %d", c.Len(), users/10)
				}
				perKept = float64(heapInUse()-before) / float64(users/10)
				runtime.KeepAlive(c)
			}
			b.ReportMetric(perKept, "B/kept-user")
		})
	}
}

// BenchmarkCredentialStorm is 1,000 concurrent Retrieve on one user. "CredentialsCache" goes
// through aws.CredentialsCache and must make exactly one GetCredentialsForIdentity per storm
// (the benchmark fails otherwise); "no cache" calls the provider directly, the baseline that
// makes 1,000.
func BenchmarkCredentialStorm(b *testing.B) {
	const callers = 1000
	storm := func(b *testing.B, cached bool) {
		var calls atomic.Int64
		stub := &stubCognito{getCreds: func(_ context.Context, in *cognitoidentity.GetCredentialsForIdentityInput, _ int) (*cognitoidentity.GetCredentialsForIdentityOutput, error) {
			calls.Add(1)
			return cognitoCreds(aws.ToString(in.IdentityId), time.Now().Add(time.Hour)), nil
		}}
		token := fakeJWT(`{"sub":"alice"}`)
		logins := func(context.Context) (map[string]string, error) { return map[string]string{testProvider: token}, nil }
		var total int64
		for b.Loop() {
			p := NewIdentityPool(stub, testPoolID, func(o *IdentityPoolOptions) { o.Logins = logins })
			var provider aws.CredentialsProvider = p
			if cached {
				provider = aws.NewCredentialsCache(p, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = time.Minute })
			}
			before := calls.Load()
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range callers {
				wg.Go(func() {
					<-start
					if _, err := provider.Retrieve(context.Background()); err != nil {
						b.Error(err)
					}
				})
			}
			close(start)
			wg.Wait()
			n := calls.Load() - before
			if cached && n != 1 {
				b.Fatalf("%d concurrent Retrieve made %d GetCredentialsForIdentity, want 1", callers, n)
			}
			total += n
		}
		b.ReportMetric(float64(total)/float64(b.N), "GetCredentialsForIdentity/op")
	}
	b.Run("CredentialsCache", func(b *testing.B) { storm(b, true) })
	b.Run("no cache", func(b *testing.B) { storm(b, false) })
}
