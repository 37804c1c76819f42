package exampleapp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
)

func TestTransient(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"throttling", &smithy.GenericAPIError{Code: "ThrottlingException"}, true},
		{"too many requests", &smithy.GenericAPIError{Code: "TooManyRequestsException"}, true},
		{"deadline", fmt.Errorf("call: %w", context.DeadlineExceeded), true},
		{"access denied", &smithy.GenericAPIError{Code: "AccessDeniedException"}, false},
		{"other", errors.New("no"), false},
	} {
		t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.want, Transient(tt.err)) })
	}
}

func TestWriteJSON(t *testing.T) {
	w := httptest.NewRecorder()
	WriteJSON(w, http.StatusTeapot, map[string]string{"a": "<b>"})
	assert.Equal(t, http.StatusTeapot, w.Code)
	assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
	assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	assert.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"))
	assert.Equal(t, "{\n  \"a\": \"\\u003cb\\u003e\"\n}\n", w.Body.String())
}
