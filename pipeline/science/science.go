// Package science runs the neural stages of a mapping on the science
// service (NexusECSService) through api.ScienceAPI: Embedder over
// POST /embed, Retriever over the embedding cache and POST /retrieve, and
// Reranker over POST /rerank. They mirror pipeline/onnx's stages so that
// `nexus map --science-endpoint URL` maps the same way as with local models.
package science

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/api"
)

// DefaultModelVersion is the model version of an Embedder built without one.
const DefaultModelVersion = "remote"

// DefaultConcurrency bounds the /embed calls in flight per Embed.
const DefaultConcurrency = 8

// Embedder is a pipeline.Embedder over POST /api/v1/embed: one text per
// call, at most Concurrency calls at once, vectors in the order of the texts.
type Embedder struct {
	API api.ScienceAPI
	// Concurrency bounds the calls in flight (DefaultConcurrency).
	Concurrency int
	version     string
}

var _ pipeline.Embedder = (*Embedder)(nil)

// NewEmbedder embeds through sci; version names the service's model in the
// EmbeddingCache ("" is DefaultModelVersion).
func NewEmbedder(sci api.ScienceAPI, version string) *Embedder {
	if version == "" {
		version = DefaultModelVersion
	}
	return &Embedder{API: sci, version: version}
}

// ModelVersion is the version the vectors are cached under.
func (e *Embedder) ModelVersion() string {
	if e.version == "" {
		return DefaultModelVersion
	}
	return e.version
}

// Embed embeds each text with one /embed call.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	return e.embedKeyed(ctx, make([]string, len(texts)), texts)
}

// embedKeyed embeds texts[i], sending keys[i] as the control id (the
// service caches control keys as the ECS service does).
func (e *Embedder) embedKeyed(ctx context.Context, keys, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	if len(texts) == 0 {
		return out, nil
	}
	n := e.Concurrency
	if n <= 0 {
		n = DefaultConcurrency
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		next  = make(chan int)
	)
	for range min(n, len(texts)) {
		wg.Go(func() {
			for i := range next {
				resp, err := e.API.Embed(ctx, api.EmbedRequest{ControlID: keys[i], Text: texts[i]})
				if err == nil && len(resp.Embedding) == 0 {
					err = errors.New("the service returned an empty embedding")
				}
				if err != nil {
					once.Do(func() { first = fmt.Errorf("embedding text %d: %w", i, err); cancel() })
					continue
				}
				out[i] = resp.Embedding
			}
		})
	}
feed:
	for i := range texts {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// Retriever is a pipeline.Retriever on the science service: the source and
// the targets are embedded through Cache (keyed by control key and the
// embedder's model version; misses go to /embed), then /retrieve ranks the
// targets by cosine similarity.
type Retriever struct {
	API      api.ScienceAPI
	Embedder *Embedder
	// Cache holds vectors by control key and model version; nil embeds
	// everything every time.
	Cache pipeline.EmbeddingCache
}

var _ pipeline.Retriever = (*Retriever)(nil)

// NewRetriever retrieves through sci, embedding with emb (nil: a default
// Embedder on sci) and caching in cache.
func NewRetriever(sci api.ScienceAPI, emb *Embedder, cache pipeline.EmbeddingCache) *Retriever {
	if emb == nil {
		emb = NewEmbedder(sci, "")
	}
	return &Retriever{API: sci, Embedder: emb, Cache: cache}
}

// Retrieve returns the k targets most similar to the source, best first:
// Similarity is the service's similarity clamped to 0..1, and
// Evidence.Signals["cosine"] the similarity itself.
func (r *Retriever) Retrieve(ctx context.Context, src pipeline.Source, targets []pipeline.Control, k int) ([]pipeline.Candidate, error) {
	q, err := r.EmbedSource(ctx, src)
	if err != nil {
		return nil, err
	}
	vecs, err := r.EmbedTargets(ctx, targets)
	if err != nil {
		return nil, err
	}
	return r.TopK(ctx, q, vecs, targets, k)
}

// EmbedSource is the vector of the source's text, cached under the source
// control's key.
func (r *Retriever) EmbedSource(ctx context.Context, src pipeline.Source) ([]float32, error) {
	text := src.Text
	if text == "" {
		text = src.Control.Text()
	}
	v, err := r.embedCached(ctx, []string{src.Control.Key}, []string{text})
	if err != nil {
		return nil, err
	}
	return v[0], nil
}

// EmbedTargets are the targets' vectors (row i is targets[i]).
func (r *Retriever) EmbedTargets(ctx context.Context, targets []pipeline.Control) ([][]float32, error) {
	keys := make([]string, len(targets))
	texts := make([]string, len(targets))
	for i, t := range targets {
		keys[i], texts[i] = t.Key, t.Text()
	}
	return r.embedCached(ctx, keys, texts)
}

// TopK asks /retrieve for the best k targets and maps the hits (target
// indexes) back to the controls.
func (r *Retriever) TopK(ctx context.Context, query []float32, vecs [][]float32, targets []pipeline.Control, k int) ([]pipeline.Candidate, error) {
	if len(vecs) != len(targets) {
		return nil, fmt.Errorf("%d target vectors for %d targets", len(vecs), len(targets))
	}
	if len(targets) == 0 || k <= 0 {
		return []pipeline.Candidate{}, nil
	}
	resp, err := r.API.Retrieve(ctx, api.RetrieveRequest{SourceEmbedding: query, TargetEmbeddings: vecs, TopK: k})
	if err != nil {
		return nil, fmt.Errorf("retrieving: %w", err)
	}
	out := make([]pipeline.Candidate, 0, min(k, len(resp.Candidates)))
	seen := make([]bool, len(targets))
	for _, c := range resp.Candidates {
		i, err := strconv.Atoi(c.ControlID)
		if err != nil || i < 0 || i >= len(targets) {
			return nil, fmt.Errorf("the service returned candidate %q, not an index of the %d targets", c.ControlID, len(targets))
		}
		if seen[i] {
			continue
		}
		seen[i] = true
		out = append(out, pipeline.Candidate{
			Target:     targets[i],
			Similarity: min(max(c.Similarity, 0), 1),
			Evidence:   pipeline.Evidence{Signals: map[string]float64{"cosine": c.Similarity}},
		})
		if len(out) == k {
			break
		}
	}
	return out, nil
}

func (r *Retriever) embedder() *Embedder {
	if r.Embedder == nil {
		return NewEmbedder(r.API, "")
	}
	return r.Embedder
}

// embedCached embeds texts[i] under keys[i]: cache hits are read, the
// misses embedded (concurrently) and written back.
func (r *Retriever) embedCached(ctx context.Context, keys, texts []string) ([][]float32, error) {
	emb := r.embedder()
	version := emb.ModelVersion()
	vecs := make([][]float32, len(texts))
	var miss []int
	for i, key := range keys {
		if r.Cache != nil && key != "" {
			v, ok, err := r.Cache.Embedding(ctx, key, version)
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
	if len(miss) == 0 {
		return vecs, nil
	}
	mk := make([]string, len(miss))
	mt := make([]string, len(miss))
	for j, i := range miss {
		mk[j], mt[j] = keys[i], texts[i]
	}
	out, err := emb.embedKeyed(ctx, mk, mt)
	if err != nil {
		return nil, err
	}
	for j, i := range miss {
		vecs[i] = out[j]
		if r.Cache != nil && keys[i] != "" {
			if err := r.Cache.PutEmbedding(ctx, keys[i], version, out[j]); err != nil {
				return nil, fmt.Errorf("caching the embedding of %s: %w", keys[i], err)
			}
		}
	}
	return vecs, nil
}

// Reranker is a pipeline.Reranker over POST /api/v1/rerank: each
// candidate's score becomes its Rerank, best first.
type Reranker struct {
	API api.ScienceAPI
}

var _ pipeline.Reranker = (*Reranker)(nil)

// NewReranker reranks through sci.
func NewReranker(sci api.ScienceAPI) *Reranker { return &Reranker{API: sci} }

// Rerank scores the candidates against the source's text.
func (r *Reranker) Rerank(ctx context.Context, src pipeline.Source, cands []pipeline.Candidate) ([]pipeline.Candidate, error) {
	if len(cands) == 0 {
		return cands, nil
	}
	text := src.Text
	if text == "" {
		text = src.Control.Text()
	}
	req := api.RerankRequest{SourceText: text, Candidates: make([]api.RerankCandidate, len(cands))}
	for i, c := range cands {
		req.Candidates[i] = api.RerankCandidate{ControlID: strconv.Itoa(i), Text: c.Target.Text()}
	}
	resp, err := r.API.Rerank(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("reranking: %w", err)
	}
	out := slices.Clone(cands)
	seen := make([]bool, len(cands))
	for _, rk := range resp.Rankings {
		i, err := strconv.Atoi(rk.ControlID)
		if err != nil || i < 0 || i >= len(cands) || seen[i] {
			return nil, fmt.Errorf("the service returned ranking %q, not one of the %d candidates", rk.ControlID, len(cands))
		}
		seen[i] = true
		out[i].Rerank = rk.Score
	}
	if missing := slices.Index(seen, false); missing >= 0 {
		return nil, fmt.Errorf("the service returned no ranking for %s", cands[missing].Target.Key)
	}
	slices.SortStableFunc(out, func(a, b pipeline.Candidate) int {
		switch {
		case a.Rerank > b.Rerank:
			return -1
		case a.Rerank < b.Rerank:
			return 1
		}
		return 0
	})
	return out, nil
}
