package rank_test

import (
	"context"
	"testing"
	"time"

	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/catalog/catalogtest"
	"github.com/nexus-compliance/nexus/pipeline/rank"
	"github.com/nexus-compliance/nexus/pipeline/reason"
)

// mapOne is one query's retrieve (top 20) → rerank → reason, as the
// pipeline runs it.
func mapOne(ctx context.Context, tb testing.TB, r *rank.Ranker, src pipeline.Source) []pipeline.Candidate {
	cands, err := r.Retrieve(ctx, src, nil, 20)
	if err != nil {
		tb.Fatal(err)
	}
	if cands, err = r.Rerank(ctx, src, cands); err != nil {
		tb.Fatal(err)
	}
	for i := range cands {
		if cands[i].Reasoning, err = (reason.Template{}).Reason(ctx, src, cands[i]); err != nil {
			tb.Fatal(err)
		}
	}
	return cands
}

func realRanker(tb testing.TB) (*rank.Ranker, []pipeline.Control) {
	_, all := catalogtest.NIST(tb)
	srcs, maps := catalogtest.Mapping(tb)
	start := time.Now()
	r, err := rank.NewDefault(rank.Config{Targets: all, Sources: srcs, Approved: maps})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Logf("indexes built in %v", time.Since(start))
	return r, srcs
}

// TestRealMapping maps one real AWS Config rule end to end and checks what
// a reviewer would see.
func TestRealMapping(t *testing.T) {
	r, srcs := realRanker(t)
	var src pipeline.Source
	for _, s := range srcs {
		if s.ID == "efs-in-backup-plan" {
			src = pipeline.Source{Control: s, Text: s.Text()}
		}
	}
	start := time.Now()
	cands := mapOne(context.Background(), t, r, src)
	t.Logf("mapped in %v: %d candidates", time.Since(start), len(cands))
	if len(cands) == 0 {
		t.Fatal("nothing above the threshold")
	}
	top := map[string]bool{}
	for _, c := range cands[:min(5, len(cands))] {
		top[c.Target.ID] = true
		t.Logf("%-8s sim %.2f rerank %.2f  %s", c.Target.ID, c.Similarity, c.Rerank, c.Reasoning)
		for _, k := range c.Evidence.SupportedBy {
			if k == src.Control.Key {
				t.Fatalf("%s supported by the query itself", c.Target.ID)
			}
		}
	}
	// The published mapping maps every "…-in-backup-plan" rule to CP-9 and
	// CP-10; nexus learns it from the others.
	if !top["CP-9"] || !top["CP-10"] {
		t.Fatalf("top 5 lacks CP-9/CP-10: %v", top)
	}
}

func BenchmarkMapOne(b *testing.B) {
	r, srcs := realRanker(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := srcs[i%len(srcs)]
		mapOne(ctx, b, r, pipeline.Source{Control: s, Text: s.Text()})
	}
}
