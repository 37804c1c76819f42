package exampleapp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// WriteJSON answers with v as indented JSON (the examples' output is read by
// people), never cached and never sniffed as another type.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// Transient reports whether err from an AWS call may pass by itself: one the
// SDK's standard retryer would retry (throttling, exceeded throughput, a 5xx,
// a broken connection) or a timeout. Examples answer it with 503 and
// Retry-After rather than 502.
func Transient(err error) bool {
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary ||
		retry.IsErrorTimeouts(retry.DefaultTimeouts).IsErrorTimeout(err) == aws.TrueTernary ||
		errors.Is(err, context.DeadlineExceeded)
}
