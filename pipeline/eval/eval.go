// Package eval measures mapping quality against a published mapping: each
// of its source controls is a query whose relevant targets are the ones the
// publication maps it to. It reports recall@k, MRR and nDCG@20 for nexus's
// ranker and, beside it, two baselines any method must beat: popularity
// (targets ranked by how often the training fold maps to them) and plain
// BM25 over each control's title and statement.
//
// Whatever learns from mappings (the memory, the priors, the hierarchy
// rates) is evaluated on folds that never show it the query's own
// mappings: leave-one-out by default, or n interleaved folds.
package eval

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/lexical"
	"github.com/nexus-compliance/nexus/pipeline/rank"
)

// Query is one source control and the target keys it should map to.
type Query struct {
	Source   pipeline.Control
	Relevant []string
}

// QueriesFromMappings turns parsed mapping lines into queries: each source
// with its approved targets.
func QueriesFromMappings(sources []pipeline.Control, mappings []pipeline.Mapping) []Query {
	rel := map[string][]string{}
	for _, m := range mappings {
		if m.Status == pipeline.MappingApproved {
			rel[m.ControlKey] = append(rel[m.ControlKey], m.MappedControlKey)
		}
	}
	out := make([]Query, 0, len(sources))
	for _, s := range sources {
		out = append(out, Query{Source: s, Relevant: rel[s.Key]})
	}
	return out
}

// Config is one evaluation.
type Config struct {
	// Targets are the framework's controls; withdrawn ones are not ranked.
	Targets []pipeline.Control
	// Queries are the source controls to map, with their relevant targets.
	Queries []Query
	// Sources and Approved are what the methods may learn from (usually
	// the same published mapping as the queries); each query's fold is
	// taken out of them.
	Sources  []pipeline.Control
	Approved []pipeline.Mapping
	// Ks are the recall cut-offs (default DefaultKs).
	Ks []int
	// Folds: 0 or 1 is leave-one-out; n ≥ 2 splits the queries into n
	// interleaved folds (query i in fold i mod n).
	Folds int
	// Embedder is handed to the ranker when set.
	Embedder pipeline.Embedder
}

// Report is the outcome, shaped as `nexus eval -o json` prints it.
type Report struct {
	Queries   int       `json:"queries"`
	System    Metrics   `json:"system"`
	Baselines Baselines `json:"baselines"`
	// Curve is the rerank threshold curve of the system (not printed).
	Curve []ThresholdPoint `json:"-"`
	// Skipped counts relevant targets that are not live targets
	// (withdrawn or unknown to the catalog): no method can retrieve them,
	// so they are left out of every query's relevant set.
	Skipped int `json:"-"`
	// PerQuery holds the system's metrics per query, in query order.
	PerQuery []Metrics `json:"-"`
}

// Baselines are the reference methods.
type Baselines struct {
	Popularity Metrics `json:"popularity"`
	BM25       Metrics `json:"bm25"`
}

// ThresholdPoint is what a rerank threshold keeps of the top
// CandidateDepth candidates, pooled over all queries.
type ThresholdPoint struct {
	Threshold float64
	Kept      int
	Precision float64
	Recall    float64
	F1        float64
}

// CandidateDepth is how many retrieved candidates the threshold curve
// reranks per query: the seed's workflow retrieves the top 20.
const CandidateDepth = 20

// Run evaluates the system and the baselines.
func Run(ctx context.Context, cfg Config) (Report, error) {
	ks := cfg.Ks
	if len(ks) == 0 {
		ks = DefaultKs
	}
	ks = append([]int(nil), ks...)
	sort.Ints(ks)
	ks = slices.Compact(ks)
	if len(cfg.Queries) == 0 {
		return Report{}, fmt.Errorf("no queries to evaluate")
	}
	ranker, err := rank.NewDefault(rank.Config{
		Targets: cfg.Targets, Sources: cfg.Sources, Approved: cfg.Approved,
		Embedder: cfg.Embedder, Threshold: -1,
	})
	if err != nil {
		return Report{}, err
	}
	targets := ranker.Targets()
	live := make(map[string]int, len(targets))
	keys := make([]string, len(targets))
	plain := make([][]string, len(targets))
	for i, t := range targets {
		live[t.Key] = i
		keys[i] = t.Key
		plain[i] = []string{t.Text()}
	}
	bm25 := lexical.NewIndex(plain, lexical.PlainParams())
	pop := newPopularity(cfg.Sources, cfg.Approved, live)

	folds := foldsOf(cfg.Queries, cfg.Folds)
	rep := Report{Queries: len(cfg.Queries)}
	var sys, popM, bmM []Metrics
	var pooled []scoredCand
	totalRelevant := 0
	for qi, q := range cfg.Queries {
		if err := ctx.Err(); err != nil {
			return Report{}, err
		}
		relevant := map[string]bool{}
		for _, t := range q.Relevant {
			if _, ok := live[t]; ok {
				relevant[t] = true
			} else {
				rep.Skipped++
			}
		}
		totalRelevant += len(relevant)
		heldOut := folds[qi]

		r := ranker.Without(heldOut...)
		src := pipeline.Source{Control: q.Source, Text: q.Source.Text()}
		cands, err := r.Retrieve(ctx, src, nil, 0)
		if err != nil {
			return Report{}, fmt.Errorf("query %s: %w", q.Source.Key, err)
		}
		reranked, err := r.Rerank(ctx, src, cands)
		if err != nil {
			return Report{}, fmt.Errorf("query %s: %w", q.Source.Key, err)
		}
		ranked := make([]string, len(reranked))
		for i, c := range reranked {
			ranked[i] = c.Target.Key
		}
		m := QueryMetrics(ranked, relevant, ks)
		sys = append(sys, m)
		rep.PerQuery = append(rep.PerQuery, m)

		// The threshold curve reranks what the pipeline would retrieve.
		top, err := r.Rerank(ctx, src, cands[:min(CandidateDepth, len(cands))])
		if err != nil {
			return Report{}, fmt.Errorf("query %s: %w", q.Source.Key, err)
		}
		for _, c := range top {
			pooled = append(pooled, scoredCand{c.Rerank, relevant[c.Target.Key]})
		}

		popM = append(popM, QueryMetrics(pop.rank(keys, heldOut), relevant, ks))
		bmM = append(bmM, QueryMetrics(rankBy(bm25.Scores(bm25.Compile(src.Text), nil), keys), relevant, ks))
	}
	rep.System = Mean(sys, ks)
	rep.Baselines.Popularity = Mean(popM, ks)
	rep.Baselines.BM25 = Mean(bmM, ks)
	rep.Curve = curve(pooled, totalRelevant)
	return rep, nil
}

// foldsOf returns, per query, the source keys held out with it.
func foldsOf(qs []Query, n int) [][]string {
	out := make([][]string, len(qs))
	if n <= 1 || n >= len(qs) {
		for i, q := range qs {
			out[i] = []string{q.Source.Key}
		}
		return out
	}
	byFold := make([][]string, n)
	for i, q := range qs {
		byFold[i%n] = append(byFold[i%n], q.Source.Key)
	}
	for i := range qs {
		out[i] = byFold[i%n]
	}
	return out
}

// popularity counts, per target, the approved sources that map to it.
type popularity struct {
	count   []float64
	bySrc   map[string][]int
	targets int
}

func newPopularity(sources []pipeline.Control, approved []pipeline.Mapping, live map[string]int) *popularity {
	p := &popularity{count: make([]float64, len(live)), bySrc: map[string][]int{}, targets: len(live)}
	known := map[string]bool{}
	for _, s := range sources {
		known[s.Key] = true
	}
	seen := map[[2]string]bool{}
	for _, m := range approved {
		i, ok := live[m.MappedControlKey]
		if m.Status != pipeline.MappingApproved || !ok || !known[m.ControlKey] || seen[[2]string{m.ControlKey, m.MappedControlKey}] {
			continue
		}
		seen[[2]string{m.ControlKey, m.MappedControlKey}] = true
		p.count[i]++
		p.bySrc[m.ControlKey] = append(p.bySrc[m.ControlKey], i)
	}
	return p
}

// rank orders the targets by count in the training fold (the held-out
// sources' mappings taken away), ties in catalog order.
func (p *popularity) rank(keys []string, heldOut []string) []string {
	c := append([]float64(nil), p.count...)
	for _, k := range heldOut {
		for _, i := range p.bySrc[k] {
			c[i]--
		}
	}
	return rankBy(c, keys)
}

// rankBy sorts keys by score, best first, ties in the given order.
func rankBy(scores []float64, keys []string) []string {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	out := make([]string, len(idx))
	for i, j := range idx {
		out[i] = keys[j]
	}
	return out
}

type scoredCand struct {
	score    float64
	relevant bool
}

// curve sweeps thresholds 0, 0.05, …, 0.95 over the pooled candidates.
func curve(pooled []scoredCand, totalRelevant int) []ThresholdPoint {
	var out []ThresholdPoint
	for step := 0; step < 20; step++ {
		th := float64(step) * 0.05
		p := ThresholdPoint{Threshold: th}
		hits := 0
		for _, c := range pooled {
			if c.score >= th {
				p.Kept++
				if c.relevant {
					hits++
				}
			}
		}
		if p.Kept > 0 {
			p.Precision = float64(hits) / float64(p.Kept)
		}
		if totalRelevant > 0 {
			p.Recall = float64(hits) / float64(totalRelevant)
		}
		if p.Precision+p.Recall > 0 {
			p.F1 = 2 * p.Precision * p.Recall / (p.Precision + p.Recall)
		}
		out = append(out, p)
	}
	return out
}
