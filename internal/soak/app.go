package soak

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/pubauth/awsauth/authflow"
	"github.com/pubauth/awsauth/awscreds"
	"github.com/pubauth/awsauth/internal/testenv/stack"
)

// credentialsDuration is the lifetime asked of STS: MinIO's minimum, 15 min.
const credentialsDuration = 15 * time.Minute

// instance is one app instance: an authflow Handler on the shared store, its
// own per-session AWS credentials cache, and these routes:
//
//	GET  /login, /callback  the sign-in
//	POST /logout            the sign-out (CSRF token in the form)
//	GET  /me                {"sub": the session's sub, "csrf": its CSRF token}
//	GET  /files             {"sub": ..., "keys": the user's prefix listed in S3
//	                        with the user's own web-identity credentials}
type instance struct {
	auth   *authflow.Handler
	users  *awscreds.UserCache
	sts    awscreds.AssumeRoleWithWebIdentityAPIClient
	s3     *s3.Client
	role   string
	logger *slog.Logger
}

// countingSTS counts AssumeRoleWithWebIdentity calls on their way to MinIO.
type countingSTS struct {
	next  awscreds.AssumeRoleWithWebIdentityAPIClient
	calls *atomic.Int64
}

func (c countingSTS) AssumeRoleWithWebIdentity(ctx context.Context, in *sts.AssumeRoleWithWebIdentityInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleWithWebIdentityOutput, error) {
	c.calls.Add(1)
	return c.next.AssumeRoleWithWebIdentity(ctx, in, optFns...)
}

func (a *instance) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /login", a.auth.Login())
	mux.Handle("GET /callback", a.auth.Callback())
	mux.Handle("POST /logout", a.auth.Logout())
	mux.Handle("GET /me", a.auth.RequireLogin(http.HandlerFunc(a.me)))
	mux.Handle("GET /files", a.auth.RequireLogin(http.HandlerFunc(a.files)))
	return mux
}

func (a *instance) me(w http.ResponseWriter, r *http.Request) {
	s := authflow.SessionFrom(r.Context())
	writeJSON(w, http.StatusOK, page{Sub: s.Subject, CSRF: a.auth.CSRFToken(r)})
}

// files lists the user's prefix with the user's own credentials: one
// WebIdentity provider per session (fed by the session's refreshing ID
// token), cached in the instance's UserCache and evicted when the session
// ends.
func (a *instance) files(w http.ResponseWriter, r *http.Request) {
	s := authflow.SessionFrom(r.Context())
	prefix, err := awscreds.UserPrefix(s.Subject)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, page{Error: err.Error()})
		return
	}
	creds := a.users.Get(s.Handle(), func() aws.CredentialsProvider {
		return awscreds.NewWebIdentity(a.sts, a.role, a.auth.IDTokenFunc(s.ID), func(o *awscreds.WebIdentityOptions) {
			o.Duration = credentialsDuration
			o.Logger = a.logger
		})
	})
	out, err := a.s3.ListObjectsV2(r.Context(), &s3.ListObjectsV2Input{Bucket: aws.String(stack.Bucket), Prefix: aws.String(prefix)},
		func(o *s3.Options) { o.Credentials = creds })
	if err != nil {
		a.logger.Warn("soak: listing failed", "sub", s.Subject, "err", err)
		writeJSON(w, http.StatusBadGateway, page{Sub: s.Subject, Error: "listing failed"})
		return
	}
	p := page{Sub: s.Subject, Keys: []string{}}
	for _, o := range out.Contents {
		p.Keys = append(p.Keys, aws.ToString(o.Key))
	}
	writeJSON(w, http.StatusOK, p)
}

// page is what /me and /files answer.
type page struct {
	Sub   string   `json:"sub"`
	CSRF  string   `json:"csrf,omitempty"`
	Keys  []string `json:"keys,omitempty"`
	Error string   `json:"error,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
