package onnx

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/nexus-compliance/nexus/pipeline"
)

// These tests need no ONNX Runtime: the pooling and scoring arithmetic, and
// the retrieval stages over a stand-in embedder.

func TestPoolMeanUnderMask(t *testing.T) {
	// Two rows of three tokens of dim 2; row 0 has one padding token whose
	// (huge) vector must not count.
	data := []float32{
		1, 0, 3, 4, 1000, 1000,
		0, 2, 0, 2, 0, 2,
	}
	mask := []int64{1, 1, 0, 1, 1, 1}
	vecs, err := Pool([]int64{2, 3, 2}, data, mask)
	if err != nil {
		t.Fatal(err)
	}
	// Row 0: mean (2, 2) → (0.7071, 0.7071); row 1: (0, 2) → (0, 1).
	if d := math.Abs(float64(vecs[0][0]) - math.Sqrt2/2); d > 1e-6 || vecs[0][0] != vecs[0][1] || vecs[1][0] != 0 || vecs[1][1] != 1 {
		t.Fatalf("pooled %v", vecs)
	}
	pooled, err := Pool([]int64{1, 2}, []float32{3, 4}, nil)
	if err != nil || pooled[0][0] != 0.6 || pooled[0][1] != 0.8 {
		t.Fatalf("2-D: %v %v", pooled, err)
	}
	zero, _ := Pool([]int64{1, 1, 2}, []float32{0, 0}, []int64{0})
	if zero[0][0] != 0 || zero[0][1] != 0 {
		t.Fatalf("all padding: %v", zero)
	}
	for _, bad := range [][]int64{{2}, {1, 2, 3, 4}, {2, 3, 3}} {
		if _, err := Pool(bad, data, mask); err == nil {
			t.Errorf("shape %v accepted", bad)
		}
	}
}

func TestRelevance(t *testing.T) {
	got, err := Relevance([]int64{3, 1}, []float32{0, 2, -2})
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != 0.5 || math.Abs(got[1]-0.8807970779778823) > 1e-12 || math.Abs(got[1]+got[2]-1) > 1e-12 {
		t.Fatalf("sigmoid: %v", got)
	}
	two, err := Relevance([]int64{1, 2}, []float32{1, 3})
	if err != nil || math.Abs(two[0]-0.8807970779778823) > 1e-9 {
		t.Fatalf("two classes: %v %v", two, err)
	}
	if one, err := Relevance([]int64{2}, []float32{0, 0}); err != nil || one[1] != 0.5 {
		t.Fatalf("1-D: %v %v", one, err)
	}
	if _, err := Relevance([]int64{2, 3}, make([]float32, 6)); err == nil {
		t.Fatal("[2,3] accepted")
	}
}

// hashEmbedder gives each word a fixed pseudo-random direction and a text
// the normalised sum of its words: texts sharing words are similar. It
// counts the texts it embeds.
type hashEmbedder struct {
	mu    sync.Mutex
	calls [][]string
}

func (h *hashEmbedder) ModelVersion() string { return "hash@1" }

func (h *hashEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	h.mu.Lock()
	h.calls = append(h.calls, texts)
	h.mu.Unlock()
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, 16)
		for _, w := range strings.Fields(strings.ToLower(t)) {
			f := fnv.New64a()
			f.Write([]byte(strings.Trim(w, ".,")))
			s := f.Sum64()
			for d := range v {
				v[d] += float32(int64(s>>(d*4)&15) - 8)
			}
		}
		out[i] = normalize(v)
	}
	return out, nil
}

func (h *hashEmbedder) embedded() int {
	n := 0
	for _, c := range h.calls {
		n += len(c)
	}
	return n
}

// mapCache is an in-memory pipeline.EmbeddingCache.
type mapCache struct {
	mu         sync.Mutex
	m          map[string][]float32
	gets, puts int
}

func newMapCache() *mapCache { return &mapCache{m: map[string][]float32{}} }

func (c *mapCache) Embedding(_ context.Context, key, version string) ([]float32, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gets++
	v, ok := c.m[key+"|"+version]
	return v, ok, nil
}

func (c *mapCache) PutEmbedding(_ context.Context, key, version string, v []float32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.puts++
	c.m[key+"|"+version] = v
	return nil
}

func targets(n int) []pipeline.Control {
	topics := []string{"account management", "audit logging", "encryption at rest", "network boundary", "cache encryption"}
	out := make([]pipeline.Control, n)
	for i := range out {
		out[i] = pipeline.Control{
			Key: fmt.Sprintf("NIST-SP-800-53#R5#X-%d", i), FrameworkKey: "NIST-SP-800-53#R5", ID: fmt.Sprintf("X-%d", i),
			Title: topics[i%len(topics)], Description: fmt.Sprintf("Control %d covers %s.", i, topics[i%len(topics)]),
		}
	}
	return out
}

func TestEmbedSourceCaches(t *testing.T) {
	ctx := context.Background()
	emb, cache := &hashEmbedder{}, newMapCache()
	src := pipeline.Source{Control: pipeline.Control{Key: "AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED", Title: "API Gateway cache encryption"}}
	v1, err := EmbedSource(ctx, emb, cache, src)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := EmbedSource(ctx, emb, cache, src)
	if err != nil || emb.embedded() != 1 || cache.puts != 1 || cache.gets != 2 || v1[0] != v2[0] {
		t.Fatalf("embedded %d, puts %d, gets %d, %v", emb.embedded(), cache.puts, cache.gets, err)
	}
	// The enriched text wins over title and statement; no cache, no calls
	// to one.
	src.Text = "enriched text"
	if _, err := EmbedSource(ctx, emb, nil, src); err != nil || emb.calls[1][0] != "enriched text" {
		t.Fatalf("%v %q", err, emb.calls)
	}
	if emb.calls[0][0] != "API Gateway cache encryption." {
		t.Fatalf("title text: %q", emb.calls[0])
	}
}

func TestEmbedTargetsBatchesMissesOnly(t *testing.T) {
	ctx := context.Background()
	emb, cache := &hashEmbedder{}, newMapCache()
	ts := targets(25)
	// Five targets are cached already (under this model version).
	for _, c := range ts[:5] {
		v, _ := emb.Embed(ctx, []string{c.Text()})
		cache.PutEmbedding(ctx, c.Key, emb.ModelVersion(), v[0])
	}
	emb.calls, cache.puts = nil, 0
	m, err := EmbedTargets(ctx, emb, cache, ts, 8)
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows != 25 || m.Dim != 16 || emb.embedded() != 20 || len(emb.calls) != 3 || len(emb.calls[0]) != 8 || cache.puts != 20 {
		t.Fatalf("matrix %d×%d, embedded %d in %d calls, %d puts", m.Rows, m.Dim, emb.embedded(), len(emb.calls), cache.puts)
	}
	// Row i is target i.
	want, _ := emb.Embed(ctx, []string{ts[17].Text()})
	if m.Row(17)[3] != want[0][3] {
		t.Fatal("rows out of order")
	}
	// All cached now.
	emb.calls = nil
	if _, err := EmbedTargets(ctx, emb, cache, ts, 8); err != nil || len(emb.calls) != 0 {
		t.Fatalf("second pass embedded %d texts (%v)", emb.embedded(), err)
	}
	// A stale entry of another dimension is an error, not a panic.
	cache.PutEmbedding(ctx, ts[3].Key, emb.ModelVersion(), []float32{1, 0})
	if _, err := EmbedTargets(ctx, emb, cache, ts, 8); err == nil || !strings.Contains(err.Error(), "stale cache") {
		t.Fatalf("stale: %v", err)
	}
}

func TestTopKAndRetrieve(t *testing.T) {
	ctx := context.Background()
	emb, cache := &hashEmbedder{}, newMapCache()
	ts := targets(40)
	r := &Retriever{Embedder: emb, Cache: cache, BatchSize: 16}
	src := pipeline.Source{Control: pipeline.Control{Key: "AWS#S3_ENC"}, Text: "encryption at rest"}
	got, err := r.Retrieve(ctx, src, ts, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Fatalf("%d candidates", len(got))
	}
	for i, c := range got {
		if c.Target.Title != "encryption at rest" {
			t.Errorf("candidate %d is %q", i, c.Target.Title)
		}
		if c.Similarity < 0 || c.Similarity > 1 || c.Evidence.Signals["cosine"] < float64(float32(c.Similarity))-1e-6 {
			t.Errorf("candidate %d: similarity %v, cosine %v", i, c.Similarity, c.Evidence.Signals["cosine"])
		}
		if i > 0 && c.Similarity > got[i-1].Similarity {
			t.Errorf("not sorted at %d", i)
		}
	}
	// TopK alone: negative cosines clamp to 0, k beyond the targets returns
	// them all, a mismatch of rows and targets is an error.
	m, _ := EmbedTargets(ctx, emb, cache, ts[:3], 0)
	q := make([]float32, 16)
	for i := range q {
		q[i] = -m.Row(0)[i]
	}
	all, err := TopK(m, q, ts[:3], 10)
	if err != nil || len(all) != 3 || all[2].Similarity != 0 || all[2].Evidence.Signals["cosine"] > -0.99 {
		t.Fatalf("clamp: %+v %v", all, err)
	}
	if _, err := TopK(m, q, ts[:2], 1); err == nil {
		t.Fatal("row/target mismatch accepted")
	}
	if none, err := TopK(m, q, ts[:3], 0); err != nil || len(none) != 0 {
		t.Fatalf("k=0: %v %v", none, err)
	}
	// A failing embedder stops the stage with its error.
	boom := errors.New("boom")
	if _, err := (&Retriever{Embedder: failing{boom}}).Retrieve(ctx, src, ts, 3); !errors.Is(err, boom) {
		t.Fatalf("failing embedder: %v", err)
	}
}

type failing struct{ err error }

func (f failing) ModelVersion() string                                 { return "failing" }
func (f failing) Embed(context.Context, []string) ([][]float32, error) { return nil, f.err }
