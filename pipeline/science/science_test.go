package science_test

import (
	"context"
	"hash/fnv"
	"math"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	catshared "github.com/nexus-compliance/nexus/commands/catalog/shared"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/api"
	"github.com/nexus-compliance/nexus/pipeline/api/client"
	"github.com/nexus-compliance/nexus/pipeline/science"
	"github.com/nexus-compliance/nexus/pipeline/server"
	"github.com/nexus-compliance/nexus/pipeline/store/local"
)

// hashEmbedder is a deterministic bag-of-words embedder: texts sharing
// words have a positive cosine.
type hashEmbedder struct{ calls atomic.Int64 }

func (*hashEmbedder) ModelVersion() string { return "hash-v1" }

func (h *hashEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	h.calls.Add(int64(len(texts)))
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, 64)
		for _, w := range strings.Fields(strings.ToLower(t)) {
			f := fnv.New32a()
			f.Write([]byte(w))
			v[f.Sum32()%64]++
		}
		var n float64
		for _, x := range v {
			n += float64(x * x)
		}
		if n > 0 {
			for j := range v {
				v[j] /= float32(math.Sqrt(n))
			}
		}
		out[i] = v
	}
	return out, nil
}

// fakeAPI serves Embed in-process, counting the calls in flight.
type fakeAPI struct {
	api.ScienceAPI
	emb               hashEmbedder
	inFlight, maxSeen atomic.Int64
}

func (f *fakeAPI) Embed(ctx context.Context, req api.EmbedRequest) (api.EmbedResponse, error) {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxSeen.Load()
		if n <= m || f.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(time.Millisecond)
	v, _ := f.emb.Embed(ctx, []string{req.Text})
	return api.EmbedResponse{ControlID: req.ControlID, Embedding: v[0]}, nil
}

func TestEmbedderOrderAndConcurrency(t *testing.T) {
	f := &fakeAPI{}
	e := science.NewEmbedder(f, "")
	if e.ModelVersion() != "remote" {
		t.Fatalf("version %q", e.ModelVersion())
	}
	texts := make([]string, 50)
	for i := range texts {
		texts[i] = strings.Repeat("w", i+1)
	}
	got, err := e.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := (&hashEmbedder{}).Embed(context.Background(), texts)
	for i := range want {
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("vector %d out of order", i)
			}
		}
	}
	if m := f.maxSeen.Load(); m > science.DefaultConcurrency || m < 2 {
		t.Fatalf("max in flight %d", m)
	}
}

type memCache struct {
	mu sync.Mutex
	m  map[string][]float32
}

func (c *memCache) Embedding(_ context.Context, k, v string) ([]float32, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	x, ok := c.m[k+"@"+v]
	return x, ok, nil
}

func (c *memCache) PutEmbedding(_ context.Context, k, v string, x []float32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[k+"@"+v] = x
	return nil
}

// startServer is `nexus serve` on a loopback port over the demo catalog,
// with a deterministic bi-encoder.
func startServer(t *testing.T, emb pipeline.Embedder) (*client.Client, pipeline.Store) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "server.db")
	st, err := catshared.OpenLocal(ctx, func(k string) string {
		if k == local.EnvPath {
			return path
		}
		return ""
	}, local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := server.New(server.Config{Addr: "127.0.0.1:0", Store: st.Store, Embedder: emb, Log: testWriter{t}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	if err := srv.Serve(sctx, ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = srv.Shutdown(context.Background()) })
	for i := 0; !srv.Ready(); i++ {
		if i > 500 {
			t.Fatal("server not ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c, err := client.New("http://"+ln.Addr().String(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c, st.Store
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) { return len(b), nil }

func TestRetrieverAndRerankerOnServer(t *testing.T) {
	emb := &hashEmbedder{}
	c, st := startServer(t, emb)
	ctx := context.Background()
	src, err := st.Control(ctx, "AWS.ControlCatalog#1.0#RDS_STORAGE_ENCRYPTED")
	if err != nil {
		t.Fatal(err)
	}
	targets, err := st.Controls(ctx, "NIST-SP-800-53#R5")
	if err != nil || len(targets) < 3 {
		t.Fatalf("%d targets: %v", len(targets), err)
	}
	cache := &memCache{m: map[string][]float32{}}
	r := science.NewRetriever(c, science.NewEmbedder(c, emb.ModelVersion()), cache)
	s := pipeline.Source{Control: src}
	got, err := r.Retrieve(ctx, s, targets, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d candidates", len(got))
	}
	// The same ranking as the cosine computed here.
	vecs, _ := emb.Embed(ctx, []string{src.Text()})
	best, bestCos := "", -2.0
	for _, tc := range targets {
		v, _ := emb.Embed(ctx, []string{tc.Text()})
		var cos float64
		for i := range v[0] {
			cos += float64(v[0][i] * vecs[0][i])
		}
		if cos > bestCos {
			best, bestCos = tc.Key, cos
		}
	}
	if got[0].Target.Key != best || math.Abs(got[0].Evidence.Signals["cosine"]-bestCos) > 1e-5 {
		t.Fatalf("top %s (%v), want %s (%v)", got[0].Target.Key, got[0].Evidence.Signals, best, bestCos)
	}
	for i, cnd := range got {
		if cnd.Similarity < 0 || cnd.Similarity > 1 || (i > 0 && cnd.Similarity > got[i-1].Similarity) {
			t.Fatalf("similarities %v", got)
		}
	}
	if _, ok, _ := cache.Embedding(ctx, targets[0].Key, "hash-v1"); !ok {
		t.Fatal("target not cached")
	}
	// A second retrieval reads every vector from the cache.
	calls := emb.calls.Load()
	if _, err := r.Retrieve(ctx, s, targets, 3); err != nil || emb.calls.Load() != calls {
		t.Fatalf("second retrieval embedded %d texts: %v", emb.calls.Load()-calls, err)
	}

	rr, err := science.NewReranker(c).Rerank(ctx, s, got)
	if err != nil || len(rr) != len(got) {
		t.Fatalf("%v %v", rr, err)
	}
	for i := 1; i < len(rr); i++ {
		if rr[i].Rerank > rr[i-1].Rerank {
			t.Fatalf("not best first: %v", rr)
		}
	}
	if out, err := science.NewReranker(c).Rerank(ctx, s, nil); err != nil || len(out) != 0 {
		t.Fatalf("%v %v", out, err)
	}
}

func TestRetrieverNoEmbedderIs503(t *testing.T) {
	c, st := startServer(t, nil)
	ctx := context.Background()
	targets, _ := st.Controls(ctx, "NIST-SP-800-53#R5")
	src := pipeline.Source{Control: targets[0], Text: "encryption at rest"}
	if _, err := science.NewRetriever(c, nil, nil).Retrieve(ctx, src, targets[1:], 2); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("want a 503, got %v", err)
	}
}
