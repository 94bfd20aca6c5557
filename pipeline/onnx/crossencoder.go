package onnx

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/nexus-compliance/nexus/gpu"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/onnx/wordpiece"
)

// CrossEncoder scores (query, passage) pairs with a cross-encoder such as
// ms-marco-MiniLM-L-6-v2: the sigmoid of its logit, 0..1. It implements
// pipeline.Reranker and is safe for concurrent use.
type CrossEncoder struct {
	*model
}

var _ pipeline.Reranker = (*CrossEncoder)(nil)

// NewCrossEncoder opens a cross-encoder model folder.
func NewCrossEncoder(opts Options) (*CrossEncoder, error) {
	m, err := openModel(opts, func(outs []string) (string, error) {
		if slices.Contains(outs, "logits") {
			return "logits", nil
		}
		if len(outs) == 1 {
			return outs[0], nil
		}
		return "", fmt.Errorf("no logits output among %v", outs)
	})
	if err != nil {
		return nil, err
	}
	return &CrossEncoder{model: m}, nil
}

// ModelVersion identifies the model.
func (c *CrossEncoder) ModelVersion() string { return c.version }

// Placement is where the model runs.
func (c *CrossEncoder) Placement() gpu.Placement { return c.placement }

// Close frees the ONNX Runtime session.
func (c *CrossEncoder) Close() error { return c.sess.close() }

// Score returns the relevance of each passage to the query, 0..1, in order.
func (c *CrossEncoder) Score(ctx context.Context, query string, passages []string) ([]float64, error) {
	encs := make([]wordpiece.Encoding, len(passages))
	for i, p := range passages {
		encs[i] = c.tok.EncodePair(query, p)
	}
	out := make([]float64, len(passages))
	err := c.batches(ctx, encs, func(idx []int, _ wordpiece.Batch, t tensor) error {
		scores, err := Relevance(t.shape, t.data)
		if err != nil {
			return err
		}
		for i, j := range idx {
			out[j] = scores[i]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Rerank sets each candidate's Rerank to the cross-encoder's score of
// (source text, target text) and returns them best first (ties keep their
// retrieval order). The input slice is not modified.
func (c *CrossEncoder) Rerank(ctx context.Context, src pipeline.Source, cands []pipeline.Candidate) ([]pipeline.Candidate, error) {
	query := src.Text
	if query == "" {
		query = src.Control.Text()
	}
	passages := make([]string, len(cands))
	for i, cand := range cands {
		passages[i] = cand.Target.Text()
	}
	scores, err := c.Score(ctx, query, passages)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(cands)
	for i := range out {
		out[i].Rerank = scores[i]
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Rerank > out[j].Rerank })
	return out, nil
}

// Relevance turns cross-encoder logits into scores 0..1: the sigmoid of a
// single logit per row ([batch] or [batch, 1]), or the probability of the
// second class of a two-class head ([batch, 2]).
func Relevance(shape []int64, data []float32) ([]float64, error) {
	rows := 0
	width := 1
	switch {
	case len(shape) == 1:
		rows = int(shape[0])
	case len(shape) == 2 && (shape[1] == 1 || shape[1] == 2):
		rows, width = int(shape[0]), int(shape[1])
	default:
		return nil, fmt.Errorf("cannot read relevance from logits of shape %v: want [batch], [batch, 1] or [batch, 2]", shape)
	}
	if len(data) != rows*width {
		return nil, fmt.Errorf("logits %v hold %d values", shape, len(data))
	}
	out := make([]float64, rows)
	for i := range out {
		logit := float64(data[i*width])
		if width == 2 {
			logit = float64(data[i*width+1]) - logit // softmax of two classes is the sigmoid of their difference
		}
		out[i] = 1 / (1 + math.Exp(-logit))
	}
	return out, nil
}
