package onnx

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/nexus-compliance/nexus/gpu"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/onnx/wordpiece"
)

// Embedder is a bi-encoder: texts in, L2-normalised vectors out (the mean
// of the token vectors under the attention mask, as sentence-transformers
// pools MiniLM). It implements pipeline.Embedder and is safe for concurrent
// use.
type Embedder struct {
	*model
}

var _ pipeline.Embedder = (*Embedder)(nil)

// tokenOutputs are the per-token outputs an embedder pools, in order of
// preference; sentenceOutputs are already pooled.
var (
	tokenOutputs    = []string{"last_hidden_state", "token_embeddings"}
	sentenceOutputs = []string{"sentence_embedding", "pooler_output"}
)

// NewEmbedder opens a bi-encoder model folder.
func NewEmbedder(opts Options) (*Embedder, error) {
	m, err := openModel(opts, func(outs []string) (string, error) {
		for _, want := range slices.Concat(tokenOutputs, sentenceOutputs) {
			if slices.Contains(outs, want) {
				return want, nil
			}
		}
		if len(outs) == 1 {
			return outs[0], nil
		}
		return "", fmt.Errorf("no embedding output among %v (want last_hidden_state, token_embeddings or sentence_embedding)", outs)
	})
	if err != nil {
		return nil, err
	}
	return &Embedder{model: m}, nil
}

// ModelVersion identifies the model for the embedding cache.
func (e *Embedder) ModelVersion() string { return e.version }

// Placement is where the model runs (with the reason when auto fell back
// to the CPU).
func (e *Embedder) Placement() gpu.Placement { return e.placement }

// Close frees the ONNX Runtime session.
func (e *Embedder) Close() error { return e.sess.close() }

// Embed returns one unit vector per text, in order. The result does not
// depend on the batch size or on which texts share a batch.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	encs := make([]wordpiece.Encoding, len(texts))
	for i, t := range texts {
		encs[i] = e.tok.Encode(t)
	}
	out := make([][]float32, len(texts))
	err := e.batches(ctx, encs, func(idx []int, b wordpiece.Batch, t tensor) error {
		vecs, err := Pool(t.shape, t.data, b.Mask)
		if err != nil {
			return err
		}
		for i, j := range idx {
			out[j] = vecs[i]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Pool turns a model output into unit vectors: a [batch, tokens, dim]
// output is averaged over the tokens whose mask ([batch, tokens]) is 1, a
// [batch, dim] output is taken as is; either is then L2-normalised.
func Pool(shape []int64, data []float32, mask []int64) ([][]float32, error) {
	switch len(shape) {
	case 2:
		rows, dim := int(shape[0]), int(shape[1])
		if len(data) != rows*dim {
			return nil, fmt.Errorf("output %v holds %d values", shape, len(data))
		}
		out := make([][]float32, rows)
		for i := range out {
			out[i] = normalize(slices.Clone(data[i*dim : (i+1)*dim]))
		}
		return out, nil
	case 3:
		rows, toks, dim := int(shape[0]), int(shape[1]), int(shape[2])
		if len(data) != rows*toks*dim || len(mask) != rows*toks {
			return nil, fmt.Errorf("output %v holds %d values for a mask of %d", shape, len(data), len(mask))
		}
		out := make([][]float32, rows)
		for i := range out {
			acc := make([]float64, dim)
			var n float64
			for t := range toks {
				if mask[i*toks+t] == 0 {
					continue
				}
				n++
				tok := data[(i*toks+t)*dim : (i*toks+t+1)*dim]
				for d, x := range tok {
					acc[d] += float64(x)
				}
			}
			v := make([]float32, dim)
			for d := range v {
				v[d] = float32(acc[d] / math.Max(n, 1e-9))
			}
			out[i] = normalize(v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("cannot pool an output of shape %v: want [batch, tokens, dim] or [batch, dim]", shape)
}

// normalize scales v to unit length (sentence-transformers' Normalize: a
// zero vector stays zero).
func normalize(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	n := math.Max(math.Sqrt(s), 1e-12)
	for i := range v {
		v[i] = float32(float64(v[i]) / n)
	}
	return v
}
