// Package rank is nexus's default retriever and reranker: it fuses what the
// mapping memory remembers (targets that similar, already approved source
// controls map to), what the words say (BM25F between the source text and
// each target control) and, when an embedder is given, embedding cosine;
// then reranks the candidates with the catalog's structure (a base control
// and its enhancements lend each other evidence, as learned from the
// approved mappings) and drops those below a threshold.
//
// How the signals are weighed. On the published AWS Config → NIST 800-53 r5
// mapping the memory alone reaches recall@20 ≈ 0.76 leave-one-out, while
// BM25 over the control text reaches ≈ 0.13: AWS rule text and NIST prose
// share few words, and the mapping is made of recurring themes (encryption
// at rest, backup, logging, public access) that reviewers map the same way
// each time. So the memory leads, and the other signals get the weight the
// memory leaves them: each is weighted by 1 − the similarity of the best
// neighbour. A query with a near-duplicate among the approved sources is
// ranked by the memory; a query unlike anything approved (or a framework
// with no approved mappings yet) is ranked by the words and, when present,
// the embeddings.
package rank

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"

	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/lexical"
	"github.com/nexus-compliance/nexus/pipeline/memory"
)

// Signal names in Evidence.Signals.
const (
	SignalMemory    = "memory"    // weighted share of similar approved sources that map here, 0..1
	SignalLexical   = "lexical"   // BM25F over title/statement/guidance, relative to the best target, 0..1
	SignalCosine    = "cosine"    // embedding cosine, 0..1 (only with an embedder)
	SignalNeighbor  = "neighbor"  // similarity of the best approved source, 0..1: the memory's confidence
	SignalHierarchy = "hierarchy" // evidence lent by the parent or an enhancement, 0..1
	SignalPrior     = "prior"     // share of approved sources that map here at all, 0..1
)

// Weights of the side signals, scaled by 1 − the best neighbour's
// similarity (and used as they are when the memory has no neighbour). On
// the published mapping any lexical weight from 0.05 to 0.4 lands within
// about a point of recall@20 and MRR, leave-one-out and 5-fold; without it
// a framework with no approved mappings yet could not be ranked at all, and
// alone it beats plain BM25 (recall@20 0.16 vs 0.13, MRR 0.39 vs 0.28)
// thanks to the title and guidance fields. The cosine weight is set above
// the lexical one because embeddings match meaning across vocabularies,
// where BM25 needs the same words; it is not tuned, since no embedder was
// measured on this data.
const (
	lexicalWeight = 0.2
	cosineWeight  = 0.4
	// hierarchyWeight scales the evidence a base control and its
	// enhancements lend each other in the rerank (a noisy-OR). The learned
	// transfer rate already says how often the relative comes along, so
	// the weight only keeps a lent score below a direct one.
	hierarchyWeight = 0.2
)

// DefaultThreshold is the rerank score below which candidates are dropped.
// It comes from eval's threshold curve over the top 20 candidates on the
// published AWS Config → NIST 800-53 r5 mapping: F1 of the kept candidates
// is flat within a point from 0.25 to 0.40 (about 0.69 leave-one-out, 0.67
// 5-fold, 0.65 with every description removed) and falls off on both sides.
// The default is the low edge of that plateau: it keeps about 70% of the
// true targets at about 67% precision, and in a review queue a wrong
// proposal costs a reviewer a click while a missing one is never seen.
const DefaultThreshold = 0.25

// Config is what a Ranker is built from: plain slices, so that the CLI (from
// the store) and eval (from files) build it alike.
type Config struct {
	// Targets are the target framework's controls; withdrawn ones are
	// skipped.
	Targets []pipeline.Control
	// Sources are the source controls of the approved mappings, with their
	// text.
	Sources []pipeline.Control
	// Approved are reviewed mappings from Sources to Targets; only APPROVED
	// ones are learned from.
	Approved []pipeline.Mapping
	// Exclude are source control keys whose mappings must never be used (a
	// held-out fold). A query's own key is always excluded.
	Exclude []string
	// Embedder, when set, adds embedding cosine between the source text and
	// each target's text.
	Embedder pipeline.Embedder
	// Memory tunes the neighbour vote (zero value: memory.DefaultOptions).
	Memory memory.Options
	// Threshold drops reranked candidates scoring below it: 0 means
	// DefaultThreshold, a negative value keeps every candidate.
	Threshold float64
}

// Ranker is the default pipeline.Retriever and pipeline.Reranker. It is
// read-only once built and safe for concurrent use.
type Ranker struct {
	targets   []pipeline.Control
	index     map[string]int // target key → position
	parent    []int          // position of the base control, -1 for none
	children  [][]int
	lex       *lexical.Index
	mem       *memory.Memory
	approved  [][]int  // per source with approved mappings: target positions
	sourceKey []string // parallel to approved
	exclude   map[string]bool
	threshold float64
	emb       *embeddings
}

var (
	_ pipeline.Retriever = (*Ranker)(nil)
	_ pipeline.Reranker  = (*Ranker)(nil)
)

// NewDefault builds the indexes: BM25F over the targets, the mapping
// memory over the approved sources, the catalog's hierarchy. Building once
// and querying many times is the point; a build over NIST 800-53 takes tens
// of milliseconds.
func NewDefault(cfg Config) (*Ranker, error) {
	r := &Ranker{index: map[string]int{}, exclude: map[string]bool{}, threshold: cfg.Threshold}
	if r.threshold == 0 {
		r.threshold = DefaultThreshold
	}
	titles := map[string]string{} // framework#id → title, withdrawn included, for enhancement titles
	for _, t := range cfg.Targets {
		titles[pipeline.ControlKey(t.FrameworkKey, t.ID)] = t.Title
	}
	var docs [][]string
	for _, t := range cfg.Targets {
		if t.Withdrawn {
			continue
		}
		if _, dup := r.index[t.Key]; dup {
			return nil, fmt.Errorf("target control %s is given twice", t.Key)
		}
		r.index[t.Key] = len(r.targets)
		r.targets = append(r.targets, t)
		parentTitle := ""
		if t.Parent != "" {
			parentTitle = titles[pipeline.ControlKey(t.FrameworkKey, t.Parent)]
		}
		docs = append(docs, lexical.ControlFields(t, parentTitle))
	}
	if len(r.targets) == 0 {
		return nil, fmt.Errorf("no target controls to rank (all %d withdrawn or none given)", len(cfg.Targets))
	}
	r.lex = lexical.NewIndex(docs, lexical.ControlParams())
	r.parent = make([]int, len(r.targets))
	r.children = make([][]int, len(r.targets))
	for i, t := range r.targets {
		r.parent[i] = -1
		if t.Parent == "" {
			continue
		}
		if p, ok := r.index[pipeline.ControlKey(t.FrameworkKey, t.Parent)]; ok {
			r.parent[i] = p
			r.children[p] = append(r.children[p], i)
		}
	}

	r.mem = memory.New(cfg.Sources, cfg.Approved, cfg.Memory)
	for _, s := range cfg.Sources {
		keys := r.mem.Targets(s.Key)
		if len(keys) == 0 {
			continue
		}
		var pos []int
		for _, k := range keys {
			if i, ok := r.index[k]; ok {
				pos = append(pos, i)
			}
		}
		r.approved = append(r.approved, pos)
		r.sourceKey = append(r.sourceKey, s.Key)
	}
	for _, k := range cfg.Exclude {
		r.exclude[k] = true
	}
	if cfg.Embedder != nil {
		r.emb = &embeddings{e: cfg.Embedder}
	}
	return r, nil
}

// Without returns a Ranker that shares this one's indexes and also never
// uses the mappings of the given source controls: one fold of a
// cross-validation, without rebuilding anything.
func (r *Ranker) Without(sourceKeys ...string) *Ranker {
	c := *r
	c.exclude = make(map[string]bool, len(r.exclude)+len(sourceKeys))
	for k := range r.exclude {
		c.exclude[k] = true
	}
	for _, k := range sourceKeys {
		c.exclude[k] = true
	}
	return &c
}

// WithThreshold returns a Ranker sharing this one's indexes with another
// rerank threshold (negative: keep everything).
func (r *Ranker) WithThreshold(t float64) *Ranker {
	c := *r
	c.threshold = t
	return &c
}

// Threshold is the rerank threshold in force.
func (r *Ranker) Threshold() float64 { return r.threshold }

// Targets are the live target controls the Ranker scores, in catalog order.
func (r *Ranker) Targets() []pipeline.Control { return r.targets }

// Memory is the mapping memory the Ranker consults.
func (r *Ranker) Memory() *memory.Memory { return r.mem }

// signals are one query's scores for every target.
type signals struct {
	mem, lex, cos, prior []float64 // cos is nil without an embedder
	top                  float64   // best neighbour's similarity
	support              map[int][]string
	query                lexical.Query
	recall               memory.Result
}

func (r *Ranker) excluded(self string) func(string) bool {
	return func(k string) bool { return k == self || r.exclude[k] }
}

func (r *Ranker) score(ctx context.Context, src pipeline.Source) (*signals, error) {
	text := src.Text
	if text == "" {
		text = src.Control.Text()
	}
	n := len(r.targets)
	s := &signals{mem: make([]float64, n), prior: make([]float64, n), support: map[int][]string{}}
	s.recall = r.mem.Recall(memory.Query{Text: text, Exclude: r.excluded(src.Control.Key)})
	s.top = s.recall.Top()
	for k, v := range s.recall.Scores {
		if i, ok := r.index[k]; ok {
			s.mem[i] = v
			s.support[i] = s.recall.Support[k]
		}
	}
	for k, v := range s.recall.Prior {
		if i, ok := r.index[k]; ok {
			s.prior[i] = v
		}
	}
	s.query = r.lex.Compile(text)
	s.lex = r.lex.Scores(s.query, nil)
	var best float64
	for _, v := range s.lex {
		best = math.Max(best, v)
	}
	if best > 0 {
		for i := range s.lex {
			s.lex[i] /= best
		}
	}
	if r.emb != nil {
		cos, err := r.emb.cosines(ctx, r.targets, text)
		if err != nil {
			return nil, err
		}
		s.cos = cos
	}
	return s, nil
}

// fused is a target's retrieval score: the memory's vote, with the side
// signals weighted by how little the memory knows (see the package doc).
// cos < 0 means no cosine signal.
func (s *signals) fused(i int, cos float64) float64 {
	wm, sum := 0.0, 0.0
	if len(s.recall.Neighbors) > 0 {
		wm = 1
		sum = s.mem[i]
	}
	trust := 1 - s.top
	wl := lexicalWeight * trust
	total := wm + wl
	sum += wl * s.lex[i]
	if cos >= 0 {
		wc := cosineWeight * trust
		total += wc
		sum += wc * cos
	}
	if total == 0 {
		return 0
	}
	return sum / total
}

// cosine is target i's cosine signal, -1 when there is none.
func (s *signals) cosine(i int) float64 {
	if s.cos == nil {
		return -1
	}
	return s.cos[i]
}

// Retrieve scores every target (or only those given, when targets is not
// empty) and returns the k best, best first, with Similarity and Evidence
// filled in. The source's own approved mappings never count.
func (r *Ranker) Retrieve(ctx context.Context, src pipeline.Source, targets []pipeline.Control, k int) ([]pipeline.Candidate, error) {
	pool, err := r.pool(targets)
	if err != nil {
		return nil, err
	}
	s, err := r.score(ctx, src)
	if err != nil {
		return nil, err
	}
	type scored struct {
		i   int
		sim float64
	}
	ranked := make([]scored, 0, len(pool))
	for _, i := range pool {
		ranked = append(ranked, scored{i, s.fused(i, s.cosine(i))})
	}
	sort.SliceStable(ranked, func(a, b int) bool {
		x, y := ranked[a], ranked[b]
		if x.sim != y.sim {
			return x.sim > y.sim
		}
		// Ties (most often: no evidence at all) go to the more popular
		// target, then to catalog order.
		return s.prior[x.i] > s.prior[y.i]
	})
	if k > 0 && len(ranked) > k {
		ranked = ranked[:k]
	}
	out := make([]pipeline.Candidate, len(ranked))
	for j, c := range ranked {
		out[j] = pipeline.Candidate{
			Target:     r.targets[c.i],
			Similarity: clamp01(c.sim),
			Evidence:   r.evidence(s, c.i),
		}
	}
	return out, nil
}

// pool resolves the targets a caller asked for to positions; none means
// all. A target the Ranker was not built with cannot be scored by its
// indexes and is an error rather than a silent zero.
func (r *Ranker) pool(targets []pipeline.Control) ([]int, error) {
	if len(targets) == 0 {
		all := make([]int, len(r.targets))
		for i := range all {
			all[i] = i
		}
		return all, nil
	}
	out := make([]int, 0, len(targets))
	seen := map[int]bool{}
	var unknown []string
	for _, t := range targets {
		i, ok := r.index[t.Key]
		if !ok {
			if !t.Withdrawn {
				unknown = append(unknown, t.Key)
			}
			continue
		}
		if !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("rank: %d target(s) not in the index this ranker was built with (first: %s); rebuild it with the framework's current controls", len(unknown), unknown[0])
	}
	return out, nil
}

func (r *Ranker) evidence(s *signals, i int) pipeline.Evidence {
	ev := pipeline.Evidence{
		SharedTerms: r.lex.SharedTerms(s.query, i, 6),
		SupportedBy: s.support[i],
		Signals: map[string]float64{
			SignalMemory:   round(s.mem[i]),
			SignalLexical:  round(s.lex[i]),
			SignalNeighbor: round(s.top),
			SignalPrior:    round(s.prior[i]),
		},
	}
	if s.cos != nil {
		ev.Signals[SignalCosine] = round(s.cos[i])
	}
	return ev
}

// Rerank rescores candidates from any retriever: the fused score of this
// Ranker's signals, raised by the evidence a target's base control or
// enhancements lend it (hierarchy), drops those below the threshold and
// sorts the rest best first. Evidence is filled in where the retriever left
// it empty; a cosine signal another retriever recorded is kept and used.
func (r *Ranker) Rerank(ctx context.Context, src pipeline.Source, cands []pipeline.Candidate) ([]pipeline.Candidate, error) {
	if len(cands) == 0 {
		return nil, nil
	}
	s, err := r.score(ctx, src)
	if err != nil {
		return nil, err
	}
	transfer := r.transfer(src.Control.Key)
	out := make([]pipeline.Candidate, 0, len(cands))
	for _, c := range cands {
		i, ok := r.index[c.Target.Key]
		if !ok {
			return nil, fmt.Errorf("rank: candidate %s is not in the index this ranker was built with", c.Target.Key)
		}
		cos := s.cosine(i)
		if v, ok := c.Evidence.Signals[SignalCosine]; ok && cos < 0 {
			// A neural retriever measured cosine; this Ranker has no
			// embedder of its own, so its measure stands.
			cos = v
		}
		c.Evidence = r.merge(c.Evidence, r.evidence(s, i))
		if cos >= 0 {
			c.Evidence.Signals[SignalCosine] = round(cos)
		}
		h := r.hierarchy(s, transfer, i)
		score := 1 - (1-s.fused(i, cos))*(1-hierarchyWeight*h)
		c.Evidence.Signals[SignalHierarchy] = round(h)
		c.Rerank = clamp01(score)
		if r.threshold >= 0 && c.Rerank < r.threshold {
			continue
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Rerank > out[b].Rerank })
	return out, nil
}

// merge keeps what a retriever recorded and adds this Ranker's evidence:
// its signals win over same-named ones, and the shared terms and support
// fill in where the retriever gave none.
func (r *Ranker) merge(had, ours pipeline.Evidence) pipeline.Evidence {
	out := pipeline.Evidence{SharedTerms: had.SharedTerms, SupportedBy: had.SupportedBy, Signals: map[string]float64{}}
	if len(out.SharedTerms) == 0 {
		out.SharedTerms = ours.SharedTerms
	}
	if len(out.SupportedBy) == 0 {
		out.SupportedBy = ours.SupportedBy
	}
	for k, v := range had.Signals {
		out.Signals[k] = v
	}
	for k, v := range ours.Signals {
		out.Signals[k] = v
	}
	return out
}

// transfer learns, from the approved mappings not excluded, how often a
// source that maps to control a also maps to its relative b (a base control
// and its enhancement, either way round): the rate at which evidence for one
// carries to the other.
func (r *Ranker) transfer(self string) map[[2]int]float64 {
	skip := r.excluded(self)
	count := map[int]float64{}
	both := map[[2]int]float64{}
	for j, pos := range r.approved {
		if skip(r.sourceKey[j]) {
			continue
		}
		in := make(map[int]bool, len(pos))
		for _, p := range pos {
			in[p] = true
		}
		for _, p := range pos {
			count[p]++
			if q := r.parent[p]; q >= 0 && in[q] {
				both[[2]int{p, q}]++
				both[[2]int{q, p}]++
			}
		}
	}
	rates := make(map[[2]int]float64, len(both))
	for pair, n := range both {
		// One pseudo-count against: a pair seen once is not a certainty.
		rates[pair] = n / (count[pair[0]] + 1)
	}
	return rates
}

// hierarchy is the most evidence target i's relatives lend it: a
// relative's memory score times the learned rate at which it carries over.
func (r *Ranker) hierarchy(s *signals, transfer map[[2]int]float64, i int) float64 {
	var h float64
	lend := func(from int) {
		if rate := transfer[[2]int{from, i}]; rate > 0 {
			h = math.Max(h, s.mem[from]*rate)
		}
	}
	if p := r.parent[i]; p >= 0 {
		lend(p)
	}
	for _, ch := range r.children[i] {
		lend(ch)
	}
	return h
}

// embeddings caches the target vectors of one embedder.
type embeddings struct {
	e    pipeline.Embedder
	mu   sync.Mutex
	vecs [][]float32
}

// cosines embeds the targets once (the first query pays; a failure is not
// cached, so a cancelled first query does not poison the rest) and the query
// each time, returning cosine clipped to 0..1.
func (e *embeddings) cosines(ctx context.Context, targets []pipeline.Control, text string) ([]float64, error) {
	e.mu.Lock()
	if e.vecs == nil {
		texts := make([]string, len(targets))
		for i, t := range targets {
			texts[i] = t.Text()
		}
		vecs, err := e.e.Embed(ctx, texts)
		if err == nil && len(vecs) != len(texts) {
			err = fmt.Errorf("embedder %s returned %d vectors for %d targets", e.e.ModelVersion(), len(vecs), len(texts))
		}
		if err != nil {
			e.mu.Unlock()
			return nil, fmt.Errorf("embed targets: %w", err)
		}
		e.vecs = vecs
	}
	vecs := e.vecs
	e.mu.Unlock()
	q, err := e.e.Embed(ctx, []string{text})
	if err != nil {
		return nil, fmt.Errorf("embed source: %w", err)
	}
	if len(q) != 1 {
		return nil, fmt.Errorf("embedder %s returned %d vectors for 1 text", e.e.ModelVersion(), len(q))
	}
	out := make([]float64, len(vecs))
	for i, v := range vecs {
		var dot float64
		for j := 0; j < len(v) && j < len(q[0]); j++ {
			dot += float64(v[j]) * float64(q[0][j])
		}
		out[i] = clamp01(dot)
	}
	return out, nil
}

func clamp01(v float64) float64 { return math.Max(0, math.Min(1, v)) }

// round keeps evidence readable: four decimals.
func round(v float64) float64 { return math.Round(v*1e4) / 1e4 }
