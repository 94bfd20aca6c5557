package eval_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/catalog/catalogtest"
	"github.com/nexus-compliance/nexus/pipeline/eval"
	"github.com/nexus-compliance/nexus/pipeline/rank"
)

func realConfig(t *testing.T, folds int) eval.Config {
	t.Helper()
	_, all := catalogtest.NIST(t)
	srcs, maps := catalogtest.Mapping(t)
	return eval.Config{Targets: all, Queries: eval.QueriesFromMappings(srcs, maps), Sources: srcs, Approved: maps, Folds: folds}
}

func logReport(t *testing.T, name string, r eval.Report) {
	t.Helper()
	for _, m := range []struct {
		n string
		m eval.Metrics
	}{{"system", r.System}, {"popularity", r.Baselines.Popularity}, {"bm25", r.Baselines.BM25}} {
		t.Logf("%-6s %-10s r@5 %.3f r@10 %.3f r@20 %.3f r@50 %.3f mrr %.3f ndcg@20 %.3f", name, m.n,
			m.m.Recall[5], m.m.Recall[10], m.m.Recall[20], m.m.Recall[50], m.m.MRR, m.m.NDCG)
	}
}

// TestQualityBars measures nexus on the published AWS Config → NIST
// 800-53 r5 mapping against the full live catalog, leave-one-out and
// 5-fold, and checks the bars: recall@20 ≥ 0.70, MRR ≥ 0.75, and better
// than both baselines on every metric.
func TestQualityBars(t *testing.T) {
	for _, folds := range []int{0, 5} {
		name := map[int]string{0: "LOO", 5: "5-fold"}[folds]
		start := time.Now()
		cfg := realConfig(t, folds)
		rep, err := eval.Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d queries in %v", name, rep.Queries, time.Since(start))
		logReport(t, name, rep)
		if rep.Queries != 122 {
			t.Fatalf("%d queries", rep.Queries)
		}
		if r20 := rep.System.Recall[20]; r20 < 0.70 {
			t.Errorf("%s recall@20 %.3f < 0.70", name, r20)
		}
		if rep.System.MRR < 0.75 {
			t.Errorf("%s MRR %.3f < 0.75", name, rep.System.MRR)
		}
		for _, key := range rep.System.Keys() {
			sys, _ := rep.System.Value(key)
			pop, _ := rep.Baselines.Popularity.Value(key)
			bm, _ := rep.Baselines.BM25.Value(key)
			if sys <= pop || sys <= bm {
				t.Errorf("%s %s: system %.3f does not beat popularity %.3f and bm25 %.3f", name, key, sys, pop, bm)
			}
		}
		// The baselines are the published ones (popularity ≈ 0.28 / 0.40,
		// BM25 ≈ 0.14 / 0.31 recall@20 / MRR), within tokenizer noise.
		if p := rep.Baselines.Popularity; math.Abs(p.Recall[20]-0.28) > 0.04 || math.Abs(p.MRR-0.40) > 0.05 {
			t.Errorf("%s popularity baseline off: %.3f / %.3f", name, p.Recall[20], p.MRR)
		}
		if b := rep.Baselines.BM25; math.Abs(b.Recall[20]-0.14) > 0.04 || math.Abs(b.MRR-0.31) > 0.06 {
			t.Errorf("%s BM25 baseline off: %.3f / %.3f", name, b.Recall[20], b.MRR)
		}
		if rep.Skipped != 24 {
			t.Errorf("%d relevant targets skipped, want the 24 withdrawn ones", rep.Skipped)
		}

		// Robustness: the 37 rules with an empty description (title only).
		var titleOnly []eval.Metrics
		for i, q := range cfg.Queries {
			if q.Source.Description == "" {
				titleOnly = append(titleOnly, rep.PerQuery[i])
			}
		}
		m := eval.Mean(titleOnly, eval.DefaultKs)
		t.Logf("%s title-only rules (%d): r@20 %.3f mrr %.3f", name, len(titleOnly), m.Recall[20], m.MRR)
		if len(titleOnly) != 37 || m.Recall[20] < 0.6 || m.MRR < 0.6 {
			t.Errorf("%s title-only rules: %d, recall@20 %.3f, MRR %.3f", name, len(titleOnly), m.Recall[20], m.MRR)
		}

		if folds == 0 {
			// The default threshold sits on the F1 plateau of the curve.
			best, at := 0.0, 0.0
			var atDefault float64
			for _, p := range rep.Curve {
				if p.F1 > best {
					best, at = p.F1, p.Threshold
				}
				if math.Abs(p.Threshold-rank.DefaultThreshold) < 1e-9 {
					atDefault = p.F1
				}
			}
			t.Logf("threshold curve: best F1 %.3f at %.2f; %.3f at the default %.2f", best, at, atDefault, rank.DefaultThreshold)
			if atDefault < best-0.02 {
				t.Errorf("default threshold %.2f gives F1 %.3f, best is %.3f at %.2f", rank.DefaultThreshold, atDefault, best, at)
			}
		}
	}
}

// TestLeaveOneOutHidesOwnLine: a query whose only evidence is its own line
// (a unique rule mapped to a control no word of it matches) gets nothing
// from the memory, so its target is not found; with a twin rule in the
// approved set, the twin's line finds it.
func TestLeaveOneOutHidesOwnLine(t *testing.T) {
	fw := "NIST-SP-800-53#R5"
	targets := []pipeline.Control{
		{Key: fw + "#AC-2", FrameworkKey: fw, ID: "AC-2", Title: "Account Management", Description: "Manage system accounts."},
		{Key: fw + "#ZZ-1", FrameworkKey: fw, ID: "ZZ-1", Title: "Unrelated", Description: "Nothing in common."},
		{Key: fw + "#SC-7", FrameworkKey: fw, ID: "SC-7", Title: "Boundary Protection", Description: "Monitor communications."},
	}
	unique := pipeline.Control{Key: "AWS.Config#1.0#quantum", ID: "quantum", Title: "Quantum widgets are calibrated."}
	twin := pipeline.Control{Key: "AWS.Config#1.0#quantum-2", ID: "quantum-2", Title: "Quantum widgets are calibrated twice."}
	mapping := func(s pipeline.Control) pipeline.Mapping {
		return pipeline.Mapping{ControlKey: s.Key, MappedControlKey: fw + "#ZZ-1", Status: pipeline.MappingApproved}
	}
	q := []eval.Query{{Source: unique, Relevant: []string{fw + "#ZZ-1"}}}

	alone, err := eval.Run(context.Background(), eval.Config{Targets: targets, Queries: q,
		Sources: []pipeline.Control{unique}, Approved: []pipeline.Mapping{mapping(unique)}, Ks: []int{1}})
	if err != nil {
		t.Fatal(err)
	}
	if alone.System.Recall[1] != 0 {
		t.Fatalf("the query's own line leaked: %+v", alone.System)
	}
	withTwin, err := eval.Run(context.Background(), eval.Config{Targets: targets, Queries: q,
		Sources: []pipeline.Control{unique, twin}, Approved: []pipeline.Mapping{mapping(unique), mapping(twin)}, Ks: []int{1}})
	if err != nil {
		t.Fatal(err)
	}
	if withTwin.System.Recall[1] != 1 {
		t.Fatalf("the twin's line was not used: %+v", withTwin.System)
	}
}

func TestRunErrors(t *testing.T) {
	if _, err := eval.Run(context.Background(), eval.Config{}); err == nil {
		t.Fatal("no queries accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fw := "F#1"
	cfg := eval.Config{Targets: []pipeline.Control{{Key: fw + "#A", ID: "A", Title: "a"}}, Queries: []eval.Query{{Source: pipeline.Control{Key: "S#1#x"}}}}
	if _, err := eval.Run(ctx, cfg); err == nil {
		t.Fatal("cancelled context ignored")
	}
}

func BenchmarkEvalLOO(b *testing.B) {
	_, all := catalogtest.NIST(b)
	srcs, maps := catalogtest.Mapping(b)
	cfg := eval.Config{Targets: all, Queries: eval.QueriesFromMappings(srcs, maps), Sources: srcs, Approved: maps}
	for i := 0; i < b.N; i++ {
		if _, err := eval.Run(context.Background(), cfg); err != nil {
			b.Fatal(err)
		}
	}
}
