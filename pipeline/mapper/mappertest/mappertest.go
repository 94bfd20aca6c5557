// Package mappertest holds test doubles of the pipeline's scorers for tests
// of the mapper and of the commands that run it. They are deliberately
// simple (word overlap), deterministic and fast; they are not the scorers
// nexus ships. Imported by tests only.
package mappertest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"unicode"

	"github.com/nexus-compliance/nexus/pipeline"
)

var stop = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`a an and are as at be by for from has have in is it its of on or so
		that the their them they this to was with without which who when where every each any all not no only
		checks ensure should must can may be such than other into`) {
		stop[w] = true
	}
}

// Words are the lower-case content words of a text.
func Words(text string) map[string]bool {
	out := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if len(w) > 2 && !stop[w] {
			out[strings.TrimSuffix(w, "s")] = true
		}
	}
	return out
}

// WordOverlapRetriever is a test double of pipeline.Retriever: the score of
// a target is the share of the source's content words its text contains.
type WordOverlapRetriever struct {
	Calls atomic.Int64
}

// Retrieve ranks by word overlap, ties by catalog order.
func (r *WordOverlapRetriever) Retrieve(ctx context.Context, src pipeline.Source, targets []pipeline.Control, k int) ([]pipeline.Candidate, error) {
	r.Calls.Add(1)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sw := Words(src.Text)
	cands := make([]pipeline.Candidate, 0, len(targets))
	for _, t := range targets {
		tw := Words(t.Text())
		var shared []string
		for w := range sw {
			if tw[w] {
				shared = append(shared, w)
			}
		}
		sort.Strings(shared)
		score := 0.0
		if len(sw) > 0 {
			score = float64(len(shared)) / float64(len(sw))
		}
		cands = append(cands, pipeline.Candidate{Target: t, Similarity: score, Evidence: pipeline.Evidence{SharedTerms: shared}})
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].Similarity > cands[j].Similarity })
	if len(cands) > k {
		cands = cands[:k]
	}
	return cands, nil
}

// TitleReranker is a test double of pipeline.Reranker: similarity plus a
// bonus for source words found in the target's title, scaled to 0..1.
type TitleReranker struct{}

// Rerank rescores; order is left to the mapper.
func (TitleReranker) Rerank(ctx context.Context, src pipeline.Source, cands []pipeline.Candidate) ([]pipeline.Candidate, error) {
	sw := Words(src.Text)
	out := append([]pipeline.Candidate(nil), cands...)
	for i, c := range out {
		hits := 0
		for w := range Words(c.Target.Title) {
			if sw[w] {
				hits++
			}
		}
		out[i].Rerank = min(1, (c.Similarity+0.2*float64(hits))/1.4)
	}
	return out, nil
}

// SharedTermsReasoner is a test double of pipeline.Reasoner: it names the
// shared terms.
type SharedTermsReasoner struct {
	Active, MaxActive atomic.Int64
	Fail              string // a target id whose reasoning fails
	Hold              chan struct{}
}

// Reason writes one sentence.
func (r *SharedTermsReasoner) Reason(ctx context.Context, src pipeline.Source, c pipeline.Candidate) (string, error) {
	n := r.Active.Add(1)
	defer r.Active.Add(-1)
	for {
		m := r.MaxActive.Load()
		if n <= m || r.MaxActive.CompareAndSwap(m, n) {
			break
		}
	}
	if r.Hold != nil {
		select {
		case <-r.Hold:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	if c.Target.ID == r.Fail {
		return "", fmt.Errorf("reasoner unavailable")
	}
	return fmt.Sprintf("%s and %s share: %s.", src.Control.ID, c.Target.ID, strings.Join(c.Evidence.SharedTerms, ", ")), nil
}

// UpperEnricher is a test double of pipeline.Enricher that appends a fixed
// phrase to the control's text.
type UpperEnricher struct{ Calls atomic.Int64 }

// Enrich returns the control's text with an addition.
func (e *UpperEnricher) Enrich(_ context.Context, c pipeline.Control) (pipeline.Enrichment, error) {
	e.Calls.Add(1)
	return pipeline.Enrichment{ControlKey: c.Key, OriginalText: c.Text(), EnrichedText: c.Text() + " Enriched: audit logging evidence.", Version: "test"}, nil
}

// Scorers returns the word-overlap test doubles in the shape of the
// commands' scorer hook.
func Scorers(context.Context, pipeline.Store) (pipeline.Retriever, pipeline.Reranker, error) {
	return &WordOverlapRetriever{}, TitleReranker{}, nil
}

// Reasoner returns the shared-terms test double in the shape of the
// commands' reasoner hook.
func Reasoner(context.Context, pipeline.Store) (pipeline.Reasoner, error) {
	return &SharedTermsReasoner{}, nil
}
