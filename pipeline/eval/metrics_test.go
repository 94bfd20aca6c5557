package eval

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"
)

func set(ids ...string) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

func TestQueryMetricsHandComputed(t *testing.T) {
	var long []string
	for i := 1; i <= 25; i++ {
		long = append(long, fmt.Sprint("t", i))
	}
	l3, l5 := math.Log2(3), math.Log2(5)
	for _, tc := range []struct {
		name     string
		ranked   []string
		relevant map[string]bool
		ks       []int
		recall   []float64
		mrr      float64
		ndcg     float64
	}{
		// Relevant at ranks 2 and 4: DCG = 1/log2(3) + 1/log2(5), ideal = 1 + 1/log2(3).
		{"two hits", []string{"a", "b", "c", "d", "e"}, set("b", "d"), []int{1, 2, 5}, []float64{0, 0.5, 1}, 0.5, (1/l3 + 1/l5) / (1 + 1/l3)},
		{"first is right", []string{"a", "b"}, set("a"), []int{1, 5}, []float64{1, 1}, 1, 1},
		{"nothing found", []string{"a", "b"}, set("x"), []int{1, 5}, []float64{0, 0}, 0, 0},
		{"no relevant items", []string{"a"}, set(), []int{1}, []float64{0}, 0, 0},
		// k beyond the ranking; one of two found at rank 1.
		{"short ranking", []string{"a"}, set("a", "b"), []int{5}, []float64{0.5}, 1, 1 / (1 + 1/l3)},
		// A hit at rank 21 counts for recall@50 and MRR, not for nDCG@20.
		{"below the nDCG cut-off", long, set("t21"), []int{20, 50}, []float64{0, 1}, 1.0 / 21, 0},
	} {
		m := QueryMetrics(tc.ranked, tc.relevant, tc.ks)
		for i, k := range tc.ks {
			if math.Abs(m.Recall[k]-tc.recall[i]) > 1e-12 {
				t.Errorf("%s: recall@%d = %v, want %v", tc.name, k, m.Recall[k], tc.recall[i])
			}
		}
		if math.Abs(m.MRR-tc.mrr) > 1e-12 || math.Abs(m.NDCG-tc.ndcg) > 1e-12 {
			t.Errorf("%s: mrr %v ndcg %v, want %v %v", tc.name, m.MRR, m.NDCG, tc.mrr, tc.ndcg)
		}
	}
	// The two-hit case by hand: (0.63093 + 0.43068) / 1.63093.
	if m := QueryMetrics([]string{"a", "b", "c", "d", "e"}, set("b", "d"), []int{5}); math.Abs(m.NDCG-0.650921) > 1e-6 {
		t.Fatalf("hand value %v", m.NDCG)
	}
}

func TestMeanAndJSON(t *testing.T) {
	ks := []int{5, 10}
	a := QueryMetrics([]string{"a"}, set("a"), ks)
	b := QueryMetrics([]string{"a"}, set("x"), ks)
	m := Mean([]Metrics{a, b}, ks)
	if m.Recall[5] != 0.5 || m.MRR != 0.5 || m.NDCG != 0.5 {
		t.Fatalf("mean %+v", m)
	}
	if z := Mean(nil, ks); z.Recall[5] != 0 || z.MRR != 0 {
		t.Fatalf("empty mean %+v", z)
	}
	m.Recall[10] = 1.0 / 3
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"recall@5":0.5,"recall@10":0.3333,"mrr":0.5,"ndcg@20":0.5}` {
		t.Fatalf("json %s", out)
	}
	var back Metrics
	if err := json.Unmarshal(out, &back); err != nil || back.Recall[10] != 0.3333 || len(back.Ks) != 2 || back.Ks[0] != 5 {
		t.Fatalf("round trip %+v %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"precision": 1}`), &back); err == nil {
		t.Fatal("unknown metric accepted")
	}
	if v, ok := m.Value("ndcg@20"); !ok || v != 0.5 {
		t.Fatal("value")
	}
	if _, ok := m.Value("recall@7"); ok {
		t.Fatal("recall@7 exists")
	}
}
