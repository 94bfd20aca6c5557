package mapper

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/nexus-compliance/nexus/pipeline"
)

// The stages, in the order they run. Their names appear in progress, in
// --debug timings and in a failed job's error.
const (
	StageValidate         = "validate"
	StageCheckEnrichment  = "check_enrichment"
	StageEnrich           = "enrich"
	StageSourceText       = "source_text"
	StageFetchTargets     = "fetch_targets"
	StageRetrieve         = "retrieve"
	StageRerank           = "rerank"
	StageReason           = "reason"
	StageMerge            = "merge"
	DefaultTopK           = 20
	DefaultReasonParallel = 5 // the Step Functions Map state's MaxConcurrency
)

// Stages lists the stage names in order.
var Stages = []string{StageValidate, StageCheckEnrichment, StageEnrich, StageSourceText, StageFetchTargets,
	StageRetrieve, StageRerank, StageReason, StageMerge}

// ControlNotFoundError is a source control the catalog does not hold, with
// the closest keys it does hold.
type ControlNotFoundError struct {
	Key         string
	Suggestions []string
	Frameworks  []string // the known frameworks, when the key's own is unknown
}

func (e *ControlNotFoundError) Error() string {
	msg := fmt.Sprintf("control %q not found", e.Key)
	switch {
	case len(e.Suggestions) > 0:
		msg += "; did you mean " + strings.Join(e.Suggestions, ", ") + "?"
	case len(e.Frameworks) > 0:
		msg += "; its framework is not in the catalog (known: " + strings.Join(e.Frameworks, ", ") + ")"
	}
	return msg
}

// FrameworkNotFoundError is a target framework the catalog does not hold.
type FrameworkNotFoundError struct {
	Key       string
	Available []string
}

func (e *FrameworkNotFoundError) Error() string {
	if len(e.Available) == 0 {
		return fmt.Sprintf("framework %q not found; the catalog holds no framework yet", e.Key)
	}
	return fmt.Sprintf("framework %q not found; available: %s", e.Key, strings.Join(e.Available, ", "))
}

// UnknownTargetsError lists requested target control ids the framework does
// not hold (or holds only as withdrawn).
type UnknownTargetsError struct {
	Framework string
	Unknown   []string
	Withdrawn []string
}

func (e *UnknownTargetsError) Error() string {
	var parts []string
	if len(e.Unknown) > 0 {
		parts = append(parts, fmt.Sprintf("not in %s: %s", e.Framework, strings.Join(e.Unknown, ", ")))
	}
	if len(e.Withdrawn) > 0 {
		parts = append(parts, "withdrawn: "+strings.Join(e.Withdrawn, ", "))
	}
	return "unknown target controls (" + strings.Join(parts, "; ") + ")"
}

// NoTargetsError says a framework has no live control to map to.
type NoTargetsError struct{ Framework string }

func (e *NoTargetsError) Error() string {
	return fmt.Sprintf("framework %q has no controls to map to; import them with `nexus catalog import`", e.Framework)
}

// StageError is the failure of one stage of a running job.
type StageError struct {
	Stage string
	Err   error
}

func (e *StageError) Error() string { return e.Stage + ": " + e.Err.Error() }
func (e *StageError) Unwrap() error { return e.Err }

// ValidateControl checks the keys' shapes with the pipeline's validators,
// then that the source control and the target framework exist. A missing
// control comes with suggestions of close keys; a missing framework with
// the list of those available.
func ValidateControl(ctx context.Context, cat pipeline.Catalog, controlKey, frameworkKey string) (pipeline.Control, pipeline.Framework, error) {
	if err := pipeline.ValidateControlKey(controlKey); err != nil {
		return pipeline.Control{}, pipeline.Framework{}, err
	}
	if err := pipeline.ValidateFrameworkKey(frameworkKey); err != nil {
		return pipeline.Control{}, pipeline.Framework{}, err
	}
	ctl, err := cat.Control(ctx, controlKey)
	if errors.Is(err, pipeline.ErrNotFound) {
		return pipeline.Control{}, pipeline.Framework{}, controlNotFound(ctx, cat, controlKey)
	}
	if err != nil {
		return pipeline.Control{}, pipeline.Framework{}, err
	}
	fw, err := cat.Framework(ctx, frameworkKey)
	if errors.Is(err, pipeline.ErrNotFound) {
		fws, lerr := cat.Frameworks(ctx)
		if lerr != nil {
			return pipeline.Control{}, pipeline.Framework{}, lerr
		}
		nf := &FrameworkNotFoundError{Key: frameworkKey}
		for _, f := range fws {
			nf.Available = append(nf.Available, f.Key)
		}
		return pipeline.Control{}, pipeline.Framework{}, nf
	}
	return ctl, fw, err
}

func controlNotFound(ctx context.Context, cat pipeline.Catalog, key string) error {
	fwKey, id, _ := pipeline.SplitControlKey(key)
	nf := &ControlNotFoundError{Key: key}
	cs, err := cat.Controls(ctx, fwKey)
	if err != nil {
		return err
	}
	if len(cs) == 0 {
		fws, err := cat.Frameworks(ctx)
		if err != nil {
			return err
		}
		for _, f := range fws {
			nf.Frameworks = append(nf.Frameworks, f.Key)
		}
		return nf
	}
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	for _, s := range Suggest(id, ids, 5) {
		nf.Suggestions = append(nf.Suggestions, pipeline.ControlKey(fwKey, s))
	}
	return nf
}

// Suggest returns up to n candidates close to s: the same ignoring case,
// containing it or contained in it, or within a small edit distance; the
// closest first.
func Suggest(s string, candidates []string, n int) []string {
	type scored struct {
		c string
		d int
	}
	ls := strings.ToLower(s)
	limit := max(2, len(s)/3)
	var out []scored
	for _, c := range candidates {
		lc := strings.ToLower(c)
		d := editDistance(ls, lc)
		switch {
		case lc == ls:
			d = 0
		case len(ls) >= 3 && (strings.Contains(lc, ls) || strings.Contains(ls, lc)):
			d = min(d, 1+abs(len(lc)-len(ls))/4, limit)
		}
		if d <= limit {
			out = append(out, scored{c, d})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].d < out[j].d })
	var res []string
	for i := 0; i < len(out) && i < n; i++ {
		res = append(res, out[i].c)
	}
	return res
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// CheckEnrichment looks the control up in the enrichment cache.
func CheckEnrichment(ctx context.Context, es pipeline.EnrichmentStore, controlKey string) (pipeline.Enrichment, bool, error) {
	e, err := es.Enrichment(ctx, controlKey)
	if errors.Is(err, pipeline.ErrNotFound) {
		return pipeline.Enrichment{}, false, nil
	}
	if err != nil {
		return pipeline.Enrichment{}, false, err
	}
	return e, strings.TrimSpace(e.EnrichedText) != "", nil
}

// Enrich produces enriched text for a control and caches it.
func Enrich(ctx context.Context, en pipeline.Enricher, es pipeline.EnrichmentStore, c pipeline.Control) (pipeline.Enrichment, error) {
	e, err := en.Enrich(ctx, c)
	if err != nil {
		return pipeline.Enrichment{}, err
	}
	if e.ControlKey == "" {
		e.ControlKey = c.Key
	}
	if e.OriginalText == "" {
		e.OriginalText = c.Text()
	}
	if err := es.PutEnrichment(ctx, e); err != nil {
		return pipeline.Enrichment{}, fmt.Errorf("caching the enrichment: %w", err)
	}
	return e, nil
}

// SourceText is the text the scorers read: the enriched text when there is
// one, else the control's title and statement.
func SourceText(c pipeline.Control, e *pipeline.Enrichment) pipeline.Source {
	if e != nil && strings.TrimSpace(e.EnrichedText) != "" {
		return pipeline.Source{Control: c, Text: e.EnrichedText, Enriched: true}
	}
	return pipeline.Source{Control: c, Text: c.Text()}
}

// FetchTargets returns the framework's live (not withdrawn) controls, in
// catalog order; with ids, only those, in the order given. An id the
// framework does not hold, or holds only as withdrawn, is an error listing
// every such id.
func FetchTargets(ctx context.Context, cat pipeline.Catalog, frameworkKey string, ids []string) ([]pipeline.Control, error) {
	all, err := cat.Controls(ctx, frameworkKey)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		live := make([]pipeline.Control, 0, len(all))
		for _, c := range all {
			if !c.Withdrawn {
				live = append(live, c)
			}
		}
		if len(live) == 0 {
			return nil, &NoTargetsError{Framework: frameworkKey}
		}
		return live, nil
	}
	byID := make(map[string]int, len(all))
	for i, c := range all {
		byID[strings.ToUpper(c.ID)] = i
	}
	var (
		out  []pipeline.Control
		bad  = &UnknownTargetsError{Framework: frameworkKey}
		seen = map[int]bool{}
	)
	for _, id := range ids {
		i, ok := byID[strings.ToUpper(strings.TrimSpace(id))]
		switch {
		case !ok:
			bad.Unknown = append(bad.Unknown, id)
		case all[i].Withdrawn:
			bad.Withdrawn = append(bad.Withdrawn, id)
		case !seen[i]:
			seen[i] = true
			out = append(out, all[i])
		}
	}
	if len(bad.Unknown)+len(bad.Withdrawn) > 0 {
		return nil, bad
	}
	return out, nil
}

// Retrieve asks the retriever for the best k targets (k ≤ 0 means
// DefaultTopK), and holds it to its contract: at most k candidates, each a
// target it was given, best first.
func Retrieve(ctx context.Context, r pipeline.Retriever, src pipeline.Source, targets []pipeline.Control, k int) ([]pipeline.Candidate, error) {
	if k <= 0 {
		k = DefaultTopK
	}
	k = min(k, len(targets))
	if k == 0 {
		return nil, nil
	}
	cands, err := r.Retrieve(ctx, src, targets, k)
	if err != nil {
		return nil, err
	}
	if len(cands) > k {
		cands = cands[:k]
	}
	return cands, nil
}

// Rerank rescores the candidates and keeps those whose rerank score is at
// least threshold, best first. With no reranker the retrieval score stands
// in for the rerank score.
func Rerank(ctx context.Context, rr pipeline.Reranker, src pipeline.Source, cands []pipeline.Candidate, threshold float64) ([]pipeline.Candidate, error) {
	if len(cands) == 0 {
		return nil, nil
	}
	var err error
	if rr == nil {
		cands = slices.Clone(cands)
		for i := range cands {
			cands[i].Rerank = cands[i].Similarity
		}
	} else if cands, err = rr.Rerank(ctx, src, cands); err != nil {
		return nil, err
	}
	kept := cands[:0:0]
	for _, c := range cands {
		if c.Rerank >= threshold {
			kept = append(kept, c)
		}
	}
	sort.SliceStable(kept, func(i, j int) bool { return kept[i].Rerank > kept[j].Rerank })
	return kept, nil
}

// Reason writes the justification of each candidate, at most parallel at a
// time (parallel ≤ 0 means DefaultReasonParallel), keeping their order. The
// first error cancels the rest and is returned.
func Reason(ctx context.Context, r pipeline.Reasoner, src pipeline.Source, cands []pipeline.Candidate, parallel int) ([]pipeline.Candidate, error) {
	if r == nil || len(cands) == 0 {
		return cands, nil
	}
	if parallel <= 0 {
		parallel = DefaultReasonParallel
	}
	out := slices.Clone(cands)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg  sync.WaitGroup
		sem = make(chan struct{}, parallel)
	)
	for i := range out {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			text, err := r.Reason(ctx, src, out[i])
			if err != nil {
				cancel(fmt.Errorf("reasoning for %s: %w", out[i].Target.Key, err))
				return
			}
			out[i].Reasoning = text
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return out, nil
}

// Merge turns the candidates into the job's result mappings.
func Merge(frameworkKey string, cands []pipeline.Candidate) []pipeline.ResultMapping {
	out := make([]pipeline.ResultMapping, len(cands))
	for i, c := range cands {
		out[i] = pipeline.ResultMapping{
			TargetControlKey: c.Target.Key, TargetControlID: c.Target.ID, TargetFrameworkKey: frameworkKey,
			Title: c.Target.Title, Text: c.Target.Description,
			SimilarityScore: c.Similarity, RerankScore: c.Rerank, Reasoning: c.Reasoning,
		}
	}
	return out
}
