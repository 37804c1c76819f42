package main

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"
)

// uploadBody is a 10 MiB file in a multipart form, as the upload form sends it.
func uploadBody(b *testing.B) ([]byte, string) {
	b.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf_token", "token")
	fw, err := mw.CreateFormFile("file", "big.bin")
	if err != nil {
		b.Fatal(err)
	}
	fw.Write(bytes.Repeat([]byte{'x'}, defaultMaxUpload))
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

// The upload path's memory per 10 MiB upload, against the baseline of a
// handler that reads the body into memory (io.ReadAll). The form keeps
// multipartMemory (1 MiB) in memory and spools the rest to a temporary file.
func BenchmarkUploadForm(b *testing.B) {
	body, ct := uploadBody(b)
	b.Run("baseline=ReadAll", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			got, err := io.ReadAll(bytes.NewReader(body))
			if err != nil || len(got) != len(body) {
				b.Fatal(err)
			}
		}
	})
	b.Run("parseUploadForm", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			r := httptest.NewRequest(http.MethodPost, "/files", bytes.NewReader(body))
			r.Header.Set("Content-Type", ct)
			form, status, code := parseUploadForm(httptest.NewRecorder(), r, defaultMaxUpload)
			if form == nil {
				b.Fatal(status, code)
			}
			if fh := form.File["file"]; len(fh) != 1 || fh[0].Size != defaultMaxUpload {
				b.Fatal("file part lost")
			}
			form.RemoveAll()
		}
	})
}
