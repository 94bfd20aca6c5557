package tinymodel

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	for _, kind := range []Kind{Embedder, CrossEncoder} {
		dir := filepath.Join(t.TempDir(), string(kind))
		if err := Write(dir, kind); err != nil {
			t.Fatal(err)
		}
		model, _ := Model(kind)
		got, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
		// An ONNX file is a protobuf ModelProto; gen.py sets the producer.
		if err != nil || !bytes.Equal(got, model) || len(model) > 16<<10 || !bytes.Contains(model, []byte("nexus-tinymodel")) {
			t.Fatalf("%s: %d bytes, %v", kind, len(got), err)
		}
		tok, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
		if err != nil || !bytes.Equal(tok, Tokenizer()) || !bytes.Contains(tok, []byte(`"WordPiece"`)) {
			t.Fatalf("%s tokenizer: %v", kind, err)
		}
	}
	if _, err := Model("nope"); err == nil {
		t.Fatal("unknown kind accepted")
	}
	if err := Write(t.TempDir(), "nope"); err == nil {
		t.Fatal("unknown kind written")
	}
}
