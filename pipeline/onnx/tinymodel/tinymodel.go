// Package tinymodel carries the tiny generated ONNX models (a bi-encoder and
// a cross-encoder of a few KB, written by gen.py) and a small BERT
// tokenizer.json, so that `nexus gpu check` and `nexus gpu bench` can run
// ONNX Runtime end to end without a downloaded model, and tests can exercise
// the neural plumbing. Their outputs mean nothing.
package tinymodel

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
)

//go:embed embedder/model.onnx crossencoder/model.onnx tokenizer.json
var files embed.FS

// Kind is one of the two tiny models.
type Kind string

// The tiny models.
const (
	Embedder     Kind = "embedder"     // last_hidden_state [batch, sequence, 8]
	CrossEncoder Kind = "crossencoder" // logits [batch, 1]
)

// Model returns the ONNX bytes of a tiny model.
func Model(kind Kind) ([]byte, error) {
	b, err := files.ReadFile(string(kind) + "/model.onnx")
	if err != nil {
		return nil, fmt.Errorf("no tiny model %q", kind)
	}
	return b, nil
}

// Tokenizer returns the small tokenizer.json that goes with the tiny models.
func Tokenizer() []byte {
	b, _ := files.ReadFile("tokenizer.json")
	return b
}

// Write makes dir a model folder (model.onnx and tokenizer.json) holding the
// tiny model of that kind.
func Write(dir string, kind Kind) error {
	model, err := Model(kind)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "model.onnx"), model, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "tokenizer.json"), Tokenizer(), 0o644)
}
