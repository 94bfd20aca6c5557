package onnx

import (
	"context"
	"fmt"

	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/topk"
)

// Retriever is the neural retrieval stage: embed the source (cached), embed
// the targets (cached), rank the targets by cosine similarity with the
// top-k kernel. Each step is a function of its own (EmbedSource,
// EmbedTargets, TopK). It implements pipeline.Retriever.
type Retriever struct {
	Embedder pipeline.Embedder
	// Cache holds vectors by control key and model version; nil embeds
	// everything every time.
	Cache pipeline.EmbeddingCache
	// BatchSize is the number of uncached targets embedded per call
	// (default 32).
	BatchSize int
}

var _ pipeline.Retriever = (*Retriever)(nil)

// Retrieve returns the k targets most similar to the source, best first.
func (r *Retriever) Retrieve(ctx context.Context, src pipeline.Source, targets []pipeline.Control, k int) ([]pipeline.Candidate, error) {
	q, err := EmbedSource(ctx, r.Embedder, r.Cache, src)
	if err != nil {
		return nil, err
	}
	m, err := EmbedTargets(ctx, r.Embedder, r.Cache, targets, r.BatchSize)
	if err != nil {
		return nil, err
	}
	return TopK(m, q, targets, k)
}

// EmbedSource returns the vector of the source's text: from the cache under
// the source control's key and the model version when it is there, else
// embedded and cached.
func EmbedSource(ctx context.Context, emb pipeline.Embedder, cache pipeline.EmbeddingCache, src pipeline.Source) ([]float32, error) {
	text := src.Text
	if text == "" {
		text = src.Control.Text()
	}
	vecs, err := embedCached(ctx, emb, cache, []string{src.Control.Key}, []string{text}, 1)
	if err != nil {
		return nil, err
	}
	return vecs[0], nil
}

// EmbedTargets returns the matrix of the targets' vectors (row i is
// targets[i], embedded from its title and statement): cached ones from the
// cache, the others embedded batch at a time and cached.
func EmbedTargets(ctx context.Context, emb pipeline.Embedder, cache pipeline.EmbeddingCache, targets []pipeline.Control, batch int) (topk.Matrix, error) {
	keys := make([]string, len(targets))
	texts := make([]string, len(targets))
	for i, t := range targets {
		keys[i], texts[i] = t.Key, t.Text()
	}
	vecs, err := embedCached(ctx, emb, cache, keys, texts, batch)
	if err != nil {
		return topk.Matrix{}, err
	}
	m, err := topk.NewMatrix(vecs)
	if err != nil {
		return topk.Matrix{}, fmt.Errorf("target vectors of %s disagree in dimension (a stale cache entry?): %w", emb.ModelVersion(), err)
	}
	return m, nil
}

// TopK ranks targets (row i of m is targets[i]) by cosine similarity with
// the query vector and returns the best k as candidates: Similarity is the
// cosine clamped to 0..1, and Evidence.Signals["cosine"] the cosine itself.
func TopK(m topk.Matrix, query []float32, targets []pipeline.Control, k int) ([]pipeline.Candidate, error) {
	if m.Rows != len(targets) {
		return nil, fmt.Errorf("%d target vectors for %d targets", m.Rows, len(targets))
	}
	if m.Rows == 0 || k <= 0 {
		return []pipeline.Candidate{}, nil
	}
	hits, err := topk.SearchWorkers(m, query, k, 0)
	if err != nil {
		return nil, err
	}
	out := make([]pipeline.Candidate, len(hits))
	for i, h := range hits {
		cos := float64(h.Score)
		out[i] = pipeline.Candidate{
			Target:     targets[h.Index],
			Similarity: min(max(cos, 0), 1),
			Evidence:   pipeline.Evidence{Signals: map[string]float64{"cosine": cos}},
		}
	}
	return out, nil
}

// embedCached embeds texts[i] under keys[i]: cache hits are read, misses
// embedded batch at a time and written back.
func embedCached(ctx context.Context, emb pipeline.Embedder, cache pipeline.EmbeddingCache, keys, texts []string, batch int) ([][]float32, error) {
	version := emb.ModelVersion()
	vecs := make([][]float32, len(texts))
	var miss []int
	for i, key := range keys {
		if cache != nil && key != "" {
			v, ok, err := cache.Embedding(ctx, key, version)
			if err != nil {
				return nil, fmt.Errorf("reading the embedding of %s: %w", key, err)
			}
			if ok {
				vecs[i] = v
				continue
			}
		}
		miss = append(miss, i)
	}
	if batch <= 0 {
		batch = DefaultBatchSize
	}
	for lo := 0; lo < len(miss); lo += batch {
		idx := miss[lo:min(lo+batch, len(miss))]
		in := make([]string, len(idx))
		for j, i := range idx {
			in[j] = texts[i]
		}
		out, err := emb.Embed(ctx, in)
		if err != nil {
			return nil, err
		}
		if len(out) != len(in) {
			return nil, fmt.Errorf("%s returned %d vectors for %d texts", version, len(out), len(in))
		}
		for j, i := range idx {
			vecs[i] = out[j]
			if cache != nil && keys[i] != "" {
				if err := cache.PutEmbedding(ctx, keys[i], version, out[j]); err != nil {
					return nil, fmt.Errorf("caching the embedding of %s: %w", keys[i], err)
				}
			}
		}
	}
	return vecs, nil
}
