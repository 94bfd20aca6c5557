// Package onnx runs the neural stages of the mapping pipeline in-process
// with ONNX Runtime: a bi-encoder Embedder (mean pooling over the attention
// mask, L2-normalised), a cross-encoder Reranker (sigmoid of the logit), and
// a Retriever that embeds the source and the targets through the embedding
// cache and ranks the targets with the top-k kernel.
//
// A model is a folder holding model.onnx and tokenizer.json (a BERT
// WordPiece tokenizer, read by the wordpiece package), as exported for
// sentence-transformers/all-MiniLM-L6-v2 or
// cross-encoder/ms-marco-MiniLM-L-6-v2. Where it runs (CPU or a CUDA GPU) is
// gpu's decision.
package onnx

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/nexus-compliance/nexus/gpu"
	"github.com/nexus-compliance/nexus/pipeline/onnx/wordpiece"
)

// The files of a model folder.
const (
	ModelFile     = "model.onnx"
	TokenizerFile = "tokenizer.json"
)

// DefaultBatchSize is how many texts go through the model at once unless
// Options say otherwise.
const DefaultBatchSize = 32

// Options configure a model.
type Options struct {
	// Runtime is the loaded ONNX Runtime (gpu.LoadORT).
	Runtime *gpu.Runtime
	// ModelDir holds model.onnx and tokenizer.json.
	ModelDir string
	// Device is where to run: auto, cpu or cuda[:N].
	Device gpu.Device
	// BatchSize is the number of texts per model call (default 32).
	BatchSize int
	// MaxLength caps the tokens of a text, special tokens included (0: what
	// tokenizer.json says, else 512).
	MaxLength int
	// Threads bounds ONNX Runtime's CPU threads (0: one per core).
	Threads int
}

// model is what the embedder and the cross-encoder share: the tokenizer, the
// session and its input and output names.
type model struct {
	tok       *wordpiece.Tokenizer
	sess      session
	placement gpu.Placement
	version   string
	batch     int
	inputs    []string // the subset of input_ids, attention_mask, token_type_ids the model takes
	output    string
}

// inputNames are the inputs nexus can feed, as BERT exports name them.
var inputNames = map[string]bool{"input_ids": true, "attention_mask": true, "token_type_ids": true}

// openModel reads a model folder and starts its session; pickOutput chooses
// the output to read among the model's.
func openModel(opts Options, pickOutput func(names []string) (string, error)) (*model, error) {
	if opts.Runtime == nil {
		return nil, errors.New("onnx: no ONNX Runtime: load one with gpu.LoadORT")
	}
	if opts.ModelDir == "" {
		return nil, errors.New("onnx: no model folder")
	}
	modelPath := filepath.Join(opts.ModelDir, ModelFile)
	tokPath := filepath.Join(opts.ModelDir, TokenizerFile)
	for _, p := range []string{modelPath, tokPath} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("model folder %s: %w (it must hold %s and %s)", opts.ModelDir, err, ModelFile, TokenizerFile)
		}
	}
	tok, err := wordpiece.Load(tokPath)
	if err != nil {
		return nil, err
	}
	tok.SetMaxLength(opts.MaxLength)
	version, err := ModelVersion(opts.ModelDir)
	if err != nil {
		return nil, err
	}
	m := &model{tok: tok, version: version, batch: opts.BatchSize}
	if m.batch <= 0 {
		m.batch = DefaultBatchSize
	}
	spec := gpu.SessionSpec{ModelPath: modelPath, Threads: opts.Threads}
	ins, outs, err := modelIO(opts.Runtime, spec)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", modelPath, err)
	}
	for _, in := range ins {
		if !inputNames[in] {
			return nil, fmt.Errorf("%s takes input %q; nexus feeds input_ids, attention_mask and token_type_ids", modelPath, in)
		}
	}
	if !slices.Contains(ins, "input_ids") {
		return nil, fmt.Errorf("%s has no input_ids input (inputs: %v)", modelPath, ins)
	}
	if m.output, err = pickOutput(outs); err != nil {
		return nil, fmt.Errorf("%s: %w", modelPath, err)
	}
	m.inputs = ins
	spec.Inputs, spec.Outputs = ins, []string{m.output}
	if m.sess, m.placement, err = newSession(opts.Runtime, spec, opts.Device); err != nil {
		return nil, err
	}
	return m, nil
}

// ModelVersion names a model folder for the embedding cache: the folder's
// name and the first 12 hex digits of the sha256 of model.onnx and
// tokenizer.json, e.g. "all-MiniLM-L6-v2@3f1c2a9b0d4e". Any change to
// either file changes it.
func ModelVersion(dir string) (string, error) {
	h := sha256.New()
	for _, name := range []string{ModelFile, TokenizerFile} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", err
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return filepath.Base(abs) + "@" + hex.EncodeToString(h.Sum(nil))[:12], nil
}

// batches runs encs through the model BatchSize at a time, shortest first
// so that each batch pads little, and hands each result to use with the
// indexes (into encs) of its rows.
func (m *model) batches(ctx context.Context, encs []wordpiece.Encoding, use func(idx []int, b wordpiece.Batch, out tensor) error) error {
	order := make([]int, len(encs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(encs[order[a]].IDs) < len(encs[order[b]].IDs) })
	for lo := 0; lo < len(order); lo += m.batch {
		if err := ctx.Err(); err != nil {
			return err
		}
		idx := order[lo:min(lo+m.batch, len(order))]
		group := make([]wordpiece.Encoding, len(idx))
		for i, j := range idx {
			group[i] = encs[j]
		}
		b := m.tok.Pad(group)
		out, err := m.sess.run(m.inputs, b)
		if err != nil {
			return fmt.Errorf("running %s on %d texts: %w", m.version, len(idx), err)
		}
		if err := use(idx, b, out); err != nil {
			return err
		}
	}
	return nil
}

// session runs a model on padded batches; the cgo build wraps an ONNX
// Runtime session.
type session interface {
	// run feeds the batch tensors named by inputs and returns the output.
	run(inputs []string, b wordpiece.Batch) (tensor, error)
	close() error
}

// tensor is a model output copied out of ONNX Runtime.
type tensor struct {
	shape []int64
	data  []float32
}
