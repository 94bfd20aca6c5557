package onnx

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/nexus-compliance/nexus/gpu"
	"github.com/nexus-compliance/nexus/gpu/gputest"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/onnx/onnxtest"
	"github.com/nexus-compliance/nexus/pipeline/onnx/tinymodel"
	"github.com/nexus-compliance/nexus/pipeline/onnx/wordpiece"
)

// These tests run the real ONNX Runtime on the tiny generated models with
// the real MiniLM tokenizer. They check plumbing (batching, masking,
// pooling, normalisation, scores), not semantic quality.

// corpus is texts of very different lengths, so batches pad a lot.
func corpus(n int) []string {
	base := []string{
		"Café",
		"Ensure API Gateway caches are encrypted at rest.",
		"The organization manages information system accounts, including establishing, activating, modifying, reviewing, disabling, and removing accounts.",
		"MFA",
		"Audit logs are retained for at least 90 days and protected from unauthorized access, modification and deletion by privileged users.",
		"S3 buckets block public access; naïve résumé 中文 ☃!",
	}
	out := make([]string, n)
	for i := range out {
		out[i] = base[i%len(base)]
		if i >= len(base) {
			out[i] += strings.Repeat(" control", i%13)
		}
	}
	return out
}

func open(t testing.TB, kind tinymodel.Kind, batch int) (*Embedder, *CrossEncoder) {
	t.Helper()
	return openIn(t, onnxtest.ModelDir(t, kind, onnxtest.MiniLMTokenizer(t)), kind, batch)
}

func openIn(t testing.TB, dir string, kind tinymodel.Kind, batch int) (*Embedder, *CrossEncoder) {
	t.Helper()
	rt := gputest.ORT(t)
	opts := Options{Runtime: rt, ModelDir: dir, Device: gpu.Device{Kind: gpu.CPU}, BatchSize: batch, Threads: 1}
	if kind == tinymodel.CrossEncoder {
		c, err := NewCrossEncoder(opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return nil, c
	}
	e, err := NewEmbedder(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, nil
}

func maxDiff(a, b [][]float32) float64 {
	var d float64
	for i := range a {
		for j := range a[i] {
			d = math.Max(d, math.Abs(float64(a[i][j]-b[i][j])))
		}
	}
	return d
}

func TestEmbedderBatchInvariance(t *testing.T) {
	ctx := context.Background()
	dir := onnxtest.ModelDir(t, tinymodel.Embedder, onnxtest.MiniLMTokenizer(t))
	e1, _ := openIn(t, dir, tinymodel.Embedder, 1)
	e32, _ := openIn(t, dir, tinymodel.Embedder, 32)
	texts := corpus(40)
	one, err := e1.Embed(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	many, err := e32.Embed(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(one, many); d > 1e-5 {
		t.Fatalf("batch 1 vs 32 differ by %g", d)
	}
	for i, v := range many {
		var n float64
		for _, x := range v {
			n += float64(x) * float64(x)
		}
		if len(v) != 8 || math.Abs(n-1) > 1e-5 {
			t.Fatalf("vector %d: dim %d, |v|² = %v", i, len(v), n)
		}
	}
	// Different texts give different vectors (the plumbing is not
	// returning one vector for all).
	if maxDiff(many[:1], many[1:2]) < 1e-3 {
		t.Fatal("two different texts embed the same")
	}
	if !regexp.MustCompile(`^[^@]+@[0-9a-f]{12}$`).MatchString(e1.ModelVersion()) || e1.ModelVersion() != e32.ModelVersion() {
		t.Fatalf("model versions %q %q", e1.ModelVersion(), e32.ModelVersion())
	}
	if p := e1.Placement(); p.Device.Kind != gpu.CPU || p.Provider != gpu.ProviderCPU {
		t.Fatalf("placement %+v", p)
	}
}

// TestEmbedderMasking: a sentence embeds the same alone and padded beside
// a long one, and the test would notice if padding leaked in: running the
// same padded batch with the mask forced to ones changes the vector.
func TestEmbedderMasking(t *testing.T) {
	ctx := context.Background()
	e, _ := open(t, tinymodel.Embedder, 8)
	short := "Ensure API Gateway caches are encrypted at rest."
	long := corpus(3)[2] + " " + corpus(5)[4]
	alone, err := e.Embed(ctx, []string{short})
	if err != nil {
		t.Fatal(err)
	}
	padded, err := e.Embed(ctx, []string{long, short})
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(alone, padded[1:]); d > 1e-5 {
		t.Fatalf("padding changed the vector by %g", d)
	}

	b := e.tok.Pad([]wordpiece.Encoding{e.tok.Encode(short), e.tok.Encode(long)})
	if b.Len-len(e.tok.Encode(short).IDs) < 20 {
		t.Fatalf("the short text is padded by only %d tokens", b.Len-len(e.tok.Encode(short).IDs))
	}
	realMask := append([]int64(nil), b.Mask...)
	for i := range b.Mask {
		b.Mask[i] = 1
	}
	out, err := e.sess.run(e.inputs, b)
	if err != nil {
		t.Fatal(err)
	}
	leaky, err := Pool(out.shape, out.data, realMask)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(alone, leaky[:1]); d < 1e-3 {
		t.Fatalf("attention over padding changed the vector by only %g: the masking test has no teeth", d)
	}
}

func TestCrossEncoder(t *testing.T) {
	ctx := context.Background()
	_, c1 := open(t, tinymodel.CrossEncoder, 1)
	_, c32 := open(t, tinymodel.CrossEncoder, 32)
	query := "Ensure API Gateway caches are encrypted at rest."
	passages := corpus(40)
	s1, err := c1.Score(ctx, query, passages)
	if err != nil {
		t.Fatal(err)
	}
	s32, err := c32.Score(ctx, query, passages)
	if err != nil {
		t.Fatal(err)
	}
	distinct := map[string]bool{}
	for i := range s1 {
		if math.Abs(s1[i]-s32[i]) > 1e-5 || s1[i] <= 0 || s1[i] >= 1 {
			t.Fatalf("passage %d: batch 1 %v, batch 32 %v", i, s1[i], s32[i])
		}
		distinct[fmt.Sprintf("%.6f", s1[i])] = true
	}
	if len(distinct) < 5 {
		t.Fatalf("only %d distinct scores", len(distinct))
	}

	cands := make([]pipeline.Candidate, 6)
	for i := range cands {
		cands[i] = pipeline.Candidate{Target: pipeline.Control{Key: fmt.Sprint(i), Title: passages[i]}, Similarity: float64(6-i) / 6}
	}
	src := pipeline.Source{Control: pipeline.Control{Key: "AWS#X", Title: query}}
	got, err := c32.Rerank(ctx, src, cands)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := c32.Score(ctx, src.Control.Text(), func() []string {
		var s []string
		for _, c := range cands {
			s = append(s, c.Target.Text())
		}
		return s
	}())
	for i, c := range got {
		var k int
		fmt.Sscan(c.Target.Key, &k)
		if c.Rerank != want[k] || (i > 0 && c.Rerank > got[i-1].Rerank) {
			t.Fatalf("rerank %d: %+v (want %v)", i, c, want[k])
		}
	}
	if cands[0].Rerank != 0 {
		t.Fatal("Rerank modified its input")
	}
}

// TestNeuralRetriever runs the three stages with the real embedder and a
// cache: the second retrieval embeds nothing.
func TestNeuralRetriever(t *testing.T) {
	ctx := context.Background()
	e, _ := open(t, tinymodel.Embedder, 32)
	counting := &countingEmbedder{Embedder: e}
	cache := newMapCache()
	r := &Retriever{Embedder: counting, Cache: cache}
	ts := targets(50)
	src := pipeline.Source{Control: pipeline.Control{Key: "AWS#API_GW_CACHE_ENCRYPTED"}, Text: "API Gateway cache encryption"}
	first, err := r.Retrieve(ctx, src, ts, 10)
	if err != nil {
		t.Fatal(err)
	}
	if counting.texts != 51 || cache.puts != 51 || len(first) != 10 {
		t.Fatalf("first: %d texts embedded, %d cached, %d candidates", counting.texts, cache.puts, len(first))
	}
	second, err := r.Retrieve(ctx, src, ts, 10)
	if err != nil || counting.texts != 51 {
		t.Fatalf("second: %d texts embedded, %v", counting.texts, err)
	}
	for i := range first {
		if first[i].Target.Key != second[i].Target.Key || first[i].Similarity != second[i].Similarity {
			t.Fatalf("cached retrieval differs at %d", i)
		}
	}
}

type countingEmbedder struct {
	*Embedder
	texts int
}

func (c *countingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	c.texts += len(texts)
	return c.Embedder.Embed(ctx, texts)
}

func TestOpenErrors(t *testing.T) {
	rt := gputest.ORT(t)
	if _, err := NewEmbedder(Options{ModelDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "gpu.LoadORT") {
		t.Fatalf("no runtime: %v", err)
	}
	if _, err := NewEmbedder(Options{Runtime: rt, ModelDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "must hold model.onnx and tokenizer.json") {
		t.Fatalf("empty folder: %v", err)
	}
	// The cross-encoder has no embedding output; the embedder has no logits
	// but one output, which a cross-encoder takes (its shape is then
	// refused at scoring time).
	dir := onnxtest.ModelDir(t, tinymodel.CrossEncoder, "")
	if _, err := NewEmbedder(Options{Runtime: rt, ModelDir: dir}); err != nil {
		t.Fatalf("single-output model: %v", err)
	}
	c, err := NewCrossEncoder(Options{Runtime: rt, ModelDir: onnxtest.ModelDir(t, tinymodel.Embedder, ""), Device: gpu.Device{Kind: gpu.CPU}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Score(context.Background(), "q", []string{"p"}); err == nil || !strings.Contains(err.Error(), "cannot read relevance") {
		t.Fatalf("embedder as cross-encoder: %v", err)
	}
	// A cancelled context stops between batches.
	e, _ := open(t, tinymodel.Embedder, 2)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Embed(ctx, corpus(5)); err != context.Canceled {
		t.Fatalf("cancelled: %v", err)
	}
}

// BenchmarkEmbed reports texts/s of the tiny model on the CPU at batch 1
// and 32 (ONNX Runtime, tokenization and pooling included).
func BenchmarkEmbed(b *testing.B) {
	texts := corpus(64)
	for _, batch := range []int{1, 32} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			e, _ := open(b, tinymodel.Embedder, batch)
			ctx := context.Background()
			b.ResetTimer()
			for range b.N {
				if _, err := e.Embed(ctx, texts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(texts))/b.Elapsed().Seconds(), "texts/s")
		})
	}
}
