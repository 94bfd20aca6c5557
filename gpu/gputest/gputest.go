// Package gputest gives tests the real ONNX Runtime library, or a clear
// reason why not. Imported by tests only.
package gputest

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/nexus-compliance/nexus/gpu"
)

// Missing stops a test that lacks an outside part (the ONNX Runtime
// library, the MiniLM tokenizer): it skips with the message on a developer
// machine, and fails under CI (CI set), where `make test` must have fetched
// everything.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set and %s", msg)
	}
	t.Skip(msg)
}

// ORT loads the ONNX Runtime library nexus would find ($NEXUS_ORT_LIB, then
// the usual places, .cache/onnxruntime of the checkout among them). Without
// one the test skips, or fails under CI.
func ORT(t testing.TB) *gpu.Runtime {
	t.Helper()
	path, err := gpu.ORTLibrary(os.Getenv)
	if err != nil {
		first, _, _ := strings.Cut(err.Error(), "\n")
		Missing(t, "%s; run the tests through `.ci/onnxruntime.sh` (as `make test` does) to fetch it", first)
	}
	rt, err := gpu.LoadORT(path)
	if errors.Is(err, gpu.ErrNoCgo) {
		Missing(t, "%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return rt
}
