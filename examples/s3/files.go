package main

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/pubauth/awsauth/authflow"
	"github.com/pubauth/awsauth/awscreds"
	"github.com/pubauth/awsauth/examples/internal/exampleapp"
)

const (
	// multipartOverhead is what a multipart body may add to the file: the
	// boundaries, part headers and the small fields (name, csrf_token).
	multipartOverhead = 64 << 10
	// multipartMemory is how much of a form is kept in memory; the rest of
	// the file is spooled to a temporary file, removed after the request.
	multipartMemory = 1 << 20
	// listMaxKeys is one ListObjectsV2 page (S3's own maximum).
	listMaxKeys = 1000
)

type fileInfo struct {
	Key          string    `json:"key"`
	Size         int64     `json:"size"`
	LastModified time.Time `json:"last_modified"`
}

// list answers GET /files: one page (up to 1,000 keys, S3 ListObjectsV2) of
// the user's prefix, as JSON. The continuation_token parameter asks for the
// next page. A prefix parameter lists another prefix instead: the app does
// not check it, so that the storage policy's answer shows (alice asking for
// "bob/" gets MinIO's or S3's AccessDenied, as a 403).
func (a *app) list(w http.ResponseWriter, r *http.Request) {
	s := authflow.SessionFrom(r.Context())
	prefix, ok := a.resolvePrefix(w, r, s)
	if !ok {
		return
	}
	q := r.URL.Query()
	if p := q.Get("prefix"); p != "" {
		prefix = p
	}
	creds, ok := a.userCredentials(w, r, s)
	if !ok {
		return
	}
	in := &s3.ListObjectsV2Input{Bucket: &a.cfg.Bucket, Prefix: &prefix, MaxKeys: aws.Int32(listMaxKeys)}
	if t := q.Get("continuation_token"); t != "" {
		in.ContinuationToken = &t
	}
	out, err := a.s3.ListObjectsV2(r.Context(), in, withCredentials(creds))
	if err != nil {
		a.s3Error(w, "list", err)
		return
	}
	files := []fileInfo{}
	for _, o := range out.Contents {
		files = append(files, fileInfo{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), LastModified: aws.ToTime(o.LastModified).UTC()})
	}
	exampleapp.WriteJSON(w, http.StatusOK, map[string]any{
		"bucket":                  a.cfg.Bucket,
		"prefix":                  prefix,
		"files":                   files,
		"is_truncated":            aws.ToBool(out.IsTruncated),
		"next_continuation_token": aws.ToString(out.NextContinuationToken),
		"credentials_renew_at":    creds.Expires.UTC(),
	})
}

// upload answers POST /files, a multipart/form-data form with a file field,
// an optional name field (default: the file's own base name) and the
// session's csrf_token. The object key is the user's prefix + name (see
// app.prefix, objectKey). The request is checked before any AWS call, and
// everything before the one PutObject, so a refused upload writes
// nothing: 415 not multipart, 413 over MaxUploadBytes, 400 a bad form or
// name, 403 a missing or wrong CSRF token or a foreign Origin. Success is
// 201 with {"key", "size"}.
func (a *app) upload(w http.ResponseWriter, r *http.Request) {
	s := authflow.SessionFrom(r.Context())
	form, status, code := parseUploadForm(w, r, a.cfg.MaxUploadBytes)
	if form == nil {
		writeError(w, status, code)
		return
	}
	defer form.RemoveAll()
	// CheckCSRF reads the csrf_token field from the form parsed above, under
	// this handler's limits: it never parses a multipart body itself.
	if err := a.auth.CheckCSRF(r); err != nil {
		a.logger.Info("upload refused", "sub", s.Subject, "error", err)
		writeError(w, http.StatusForbidden, "csrf")
		return
	}
	if len(form.File["file"]) != 1 || len(form.Value["name"]) > 1 {
		writeError(w, http.StatusBadRequest, "bad_form")
		return
	}
	fh := form.File["file"][0]
	if fh.Size > a.cfg.MaxUploadBytes {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large")
		return
	}
	name := fh.Filename // multipart keeps only the base name
	if v := form.Value["name"]; len(v) == 1 && v[0] != "" {
		name = v[0]
	}
	if err := checkName(name); err != nil { // before any AWS call
		a.logger.Info("upload refused", "sub", s.Subject, "error", fmt.Errorf("%w: %s", errInvalidName, err))
		writeError(w, http.StatusBadRequest, "invalid_name")
		return
	}
	prefix, ok := a.resolvePrefix(w, r, s)
	if !ok {
		return
	}
	key, err := objectKey(prefix, name)
	if err != nil {
		a.logger.Info("upload refused", "sub", s.Subject, "error", err)
		writeError(w, http.StatusBadRequest, "invalid_name")
		return
	}
	f, err := fh.Open()
	if err != nil {
		a.logger.Error("upload: open spooled file", "error", err)
		writeError(w, http.StatusInternalServerError, "internal")
		return
	}
	defer f.Close()
	creds, ok := a.userCredentials(w, r, s)
	if !ok {
		return
	}
	_, err = a.s3.PutObject(r.Context(), &s3.PutObjectInput{
		Bucket:        &a.cfg.Bucket,
		Key:           &key,
		Body:          f, // seekable: the SDK signs and, on a retry, rewinds it
		ContentLength: aws.Int64(fh.Size),
		ContentType:   aws.String("application/octet-stream"),
	}, withCredentials(creds))
	if err != nil {
		a.s3Error(w, "upload", err)
		return
	}
	a.logger.Info("uploaded", "sub", s.Subject, "key", key, "size", fh.Size)
	exampleapp.WriteJSON(w, http.StatusCreated, map[string]any{"key": key, "size": fh.Size})
}

// parseUploadForm reads a multipart/form-data body of at most maxFile bytes
// of file plus multipartOverhead: the fields and up to multipartMemory in
// memory, the rest of the file in a temporary file (form.RemoveAll deletes
// it). On failure it returns a nil form, the status (415, 413, 400) and the
// error code to answer.
func parseUploadForm(w http.ResponseWriter, r *http.Request, maxFile int64) (*multipart.Form, int, string) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "multipart/form-data" {
		return nil, http.StatusUnsupportedMediaType, "multipart_form_data_required"
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFile+multipartOverhead)
	if err := r.ParseMultipartForm(multipartMemory); err != nil {
		if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
			return nil, http.StatusRequestEntityTooLarge, "too_large"
		}
		return nil, http.StatusBadRequest, "bad_form"
	}
	return r.MultipartForm, 0, ""
}

// download answers GET /files/{name...} with the object prefix + name as an
// attachment. The content was uploaded by a user, so it is never served as
// a page of this origin: application/octet-stream, nosniff, a sandbox CSP.
// 400 a bad name (see objectKey), 404 no such file, 403 refused by the
// storage.
func (a *app) download(w http.ResponseWriter, r *http.Request) {
	s := authflow.SessionFrom(r.Context())
	prefix, ok := a.resolvePrefix(w, r, s)
	if !ok {
		return
	}
	key, err := objectKey(prefix, r.PathValue("name"))
	if err != nil {
		a.logger.Info("download refused", "sub", s.Subject, "error", err)
		writeError(w, http.StatusBadRequest, "invalid_name")
		return
	}
	creds, ok := a.userCredentials(w, r, s)
	if !ok {
		return
	}
	out, err := a.s3.GetObject(r.Context(), &s3.GetObjectInput{Bucket: &a.cfg.Bucket, Key: &key},
		withCredentials(creds))
	if err != nil {
		a.s3Error(w, "download", err)
		return
	}
	defer out.Body.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox")
	h.Set("Cache-Control", "private, no-store")
	disposition := mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(key)})
	if disposition == "" { // a name mime can't encode: still an attachment
		disposition = "attachment"
	}
	h.Set("Content-Disposition", disposition)
	if out.ContentLength != nil {
		h.Set("Content-Length", strconv.FormatInt(*out.ContentLength, 10))
	}
	if _, err := io.Copy(w, out.Body); err != nil {
		a.logger.Warn("download interrupted", "sub", s.Subject, "key", key, "error", err)
	}
}

// resolvePrefix answers the request itself and returns false when the user's
// prefix can't be had: 403 for an id unusable as a prefix, else as
// userCredentials does.
func (a *app) resolvePrefix(w http.ResponseWriter, r *http.Request, s *authflow.Session) (string, bool) {
	prefix, err := a.prefix(r.Context(), s)
	switch {
	case err == nil:
		return prefix, true
	case errors.Is(err, awscreds.ErrUnsupportedUserID):
		a.logger.Warn("refused: user id unusable as a prefix", "sub", s.Subject, "error", err)
		writeError(w, http.StatusForbidden, "unsupported_user_id")
	default:
		a.credentialsError(w, s, err)
	}
	return "", false
}

// userCredentials gets the user's credentials from their cache ahead of the
// S3 call, so that a failure to get them is told apart from the storage
// refusing the call, and one request uses one set. It answers the request
// itself and returns false on failure: 401 when the user must sign in again,
// 502 otherwise. Expires is the cache's renewal time, not STS's expiry.
func (a *app) userCredentials(w http.ResponseWriter, r *http.Request, s *authflow.Session) (aws.Credentials, bool) {
	c, err := a.credentials(s).Retrieve(r.Context())
	if err != nil {
		a.credentialsError(w, s, err)
		return aws.Credentials{}, false
	}
	return c, true
}

// credentialsError answers a failure to get the user's identity or
// credentials: 401 when the user must sign in again, 502 otherwise (logged;
// awscreds errors carry no token).
func (a *app) credentialsError(w http.ResponseWriter, s *authflow.Session, err error) {
	if errors.Is(err, authflow.ErrSessionEnded) || errors.Is(err, awscreds.ErrIDTokenRejected) {
		a.users.Evict(s.Handle())
		writeError(w, http.StatusUnauthorized, "login_required")
		return
	}
	a.logger.Error("credentials for the user failed", "sub", s.Subject, "error", err)
	writeError(w, http.StatusBadGateway, "credentials_unavailable")
}

// withCredentials signs one S3 call with credentials already retrieved.
func withCredentials(c aws.Credentials) func(*s3.Options) {
	return func(o *s3.Options) { o.Credentials = credentials.StaticCredentialsProvider{Value: c} }
}

// s3Error answers an S3 failure: the storage's refusal (AccessDenied) is 403,
// a missing object 404, anything else 502. Codes are S3's own.
func (a *app) s3Error(w http.ResponseWriter, op string, err error) {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch code := api.ErrorCode(); {
		case strings.HasPrefix(code, "AccessDenied"):
			writeError(w, http.StatusForbidden, code)
			return
		case code == "NoSuchKey" || code == "NotFound":
			writeError(w, http.StatusNotFound, "NoSuchKey")
			return
		}
	}
	a.logger.Error("s3 call failed", "op", op, "error", err)
	writeError(w, http.StatusBadGateway, "s3_error")
}
