package testenv

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStoreTestsStayLight keeps chromedp and the S3 SDK out of the token
// stores' tests and of this package: `go mod tidy` in a module that imports a
// store loads the store's tests, and with them this package's imports, so
// every module they name ends up downloaded (chromedp, cdproto and the S3 SDK
// were about 70 MB of module cache). Such peers belong in the subpackages
// (browser, minio, stack).
func TestStoreTestsStayLight(t *testing.T) {
	heavy := []string{"github.com/chromedp/", "github.com/aws/aws-sdk-go-v2/service/s3"}
	// go test puts its own go first on PATH.
	cmd := exec.CommandContext(t.Context(), "go", "list", "-deps", "-test", "./tokenstore/...", "./internal/testenv")
	cmd.Dir = "../.."
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, h := range heavy {
			if strings.HasPrefix(pkg, h) {
				t.Errorf("the token stores' tests or internal/testenv depend on %s", pkg)
			}
		}
	}
}
