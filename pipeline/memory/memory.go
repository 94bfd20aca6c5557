// Package memory is Nexus's mapping memory: it proposes targets for a
// source control from the APPROVED mappings of the source controls most
// like it. Reviewers who mapped "EBS volume in a backup plan" to CP-9 and
// CP-10 have said a great deal about "EFS file system in a backup plan";
// this is that collaborative signal, as a k-nearest-neighbour vote.
//
// Which sources are "like" the query is learned too. Plain TF-IDF rewards
// rare words, and in control text the rare words are mostly resource names
// (DynamoDB, EFS) that say what a rule checks, not which requirement it
// serves; the requirement is carried by words like "backup", "encrypted" or
// "public". So each word's weight is its IDF times how alike the approved
// target sets of the sources that use it are: the mean, over pairs of
// sources containing the word, of the cosine between their target sets,
// shrunk towards the mean over all pairs. A word whose sources map alike
// gains weight; a word shared by unrelated rules loses it. The statistic is
// recomputed without the excluded sources, so a held-out query's own
// mappings never shape the weights that rank its neighbours.
package memory

import (
	"math"
	"sort"

	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/lexical"
)

// Options tune the neighbour vote.
type Options struct {
	// K is how many of the most similar sources vote.
	K int
	// Power sharpens similarities before they weigh votes: with 2, a
	// neighbour twice as similar counts four times as much.
	Power float64
	// Shrink is the strength, in pairs of sources, of the prior that pulls a
	// word's target agreement towards the mean over all pairs: a word seen
	// in two sources (one pair) is trusted a third with the default 2.
	Shrink float64
}

// DefaultOptions are the options nexus ships with. They were checked on the
// cdk-nag AWS Config → NIST 800-53 mapping, where K from 10 to 30, Power
// from 1 to 3 and Shrink from 0.5 to 5 all land within about three points
// of recall@20 and MRR of each other, leave-one-out and 5-fold: the vote is
// not tuned to a knife edge.
func DefaultOptions() Options { return Options{K: 20, Power: 2, Shrink: 2} }

// Memory holds the source controls that have approved mappings and what they
// map to. It is read-only once built and safe for concurrent use.
type Memory struct {
	opts    Options
	sources []pipeline.Control
	index   map[string]int // source key → position

	targetKeys []string
	targets    [][]int32 // source → target ids, ascending

	vocab    map[string]int32
	surface  []string
	terms    [][]termTF // source → its terms, ascending
	postings [][]int32  // term → sources containing it, ascending

	// Target-set agreement per word over all pairs of sources containing
	// it, and over all pairs of sources at all.
	pairSum, pairCount   []float64
	totalSum, totalCount float64
}

type termTF struct {
	term int32
	tf   float64 // sublinear: 1 + ln(count)
}

// New builds the memory from source controls and mappings. Only APPROVED
// mappings whose source is one of sources count; a source with none is left
// out, since "not yet mapped" says nothing about what it maps to. A mapping
// stored target-first (its MappedControlKey is the source) is read either
// way round.
func New(sources []pipeline.Control, approved []pipeline.Mapping, opts Options) *Memory {
	def := DefaultOptions()
	if opts.K <= 0 {
		opts.K = def.K
	}
	if opts.Power <= 0 {
		opts.Power = def.Power
	}
	if opts.Shrink <= 0 {
		opts.Shrink = def.Shrink
	}
	byKey := make(map[string]int, len(sources))
	for i, s := range sources {
		byKey[s.Key] = i
	}
	m := &Memory{opts: opts, index: map[string]int{}, vocab: map[string]int32{}}
	targetID := map[string]int32{}
	perSource := make([][]int32, len(sources))
	seen := map[[2]string]bool{}
	for _, mp := range approved {
		if mp.Status != pipeline.MappingApproved {
			continue
		}
		src, tgt := mp.ControlKey, mp.MappedControlKey
		i, ok := byKey[src]
		if !ok {
			if i, ok = byKey[tgt]; !ok {
				continue
			}
			src, tgt = tgt, src
		}
		if seen[[2]string{src, tgt}] {
			continue
		}
		seen[[2]string{src, tgt}] = true
		id, ok := targetID[tgt]
		if !ok {
			id = int32(len(m.targetKeys))
			targetID[tgt] = id
			m.targetKeys = append(m.targetKeys, tgt)
		}
		perSource[i] = append(perSource[i], id)
	}
	surfaces := []map[string]int{}
	for i, s := range sources {
		if len(perSource[i]) == 0 {
			continue
		}
		if _, dup := m.index[s.Key]; dup {
			continue
		}
		ts := perSource[i]
		sort.Slice(ts, func(a, b int) bool { return ts[a] < ts[b] })
		m.index[s.Key] = len(m.sources)
		m.sources = append(m.sources, s)
		m.targets = append(m.targets, ts)

		counts := map[int32]float64{}
		lexical.EachWord(SourceText(s), func(word, stem string) {
			id, ok := m.vocab[stem]
			if !ok {
				id = int32(len(m.surface))
				m.vocab[stem] = id
				m.surface = append(m.surface, word)
				surfaces = append(surfaces, map[string]int{})
				m.postings = append(m.postings, nil)
			}
			surfaces[id][word]++
			counts[id]++
		})
		tfs := make([]termTF, 0, len(counts))
		for id, c := range counts {
			tfs = append(tfs, termTF{id, 1 + math.Log(c)})
		}
		sort.Slice(tfs, func(a, b int) bool { return tfs[a].term < tfs[b].term })
		m.terms = append(m.terms, tfs)
		for _, t := range tfs {
			m.postings[t.term] = append(m.postings[t.term], int32(len(m.sources)-1))
		}
	}
	for id, sf := range surfaces {
		m.surface[id] = lexical.MostFrequent(sf)
	}

	n := len(m.sources)
	m.pairSum = make([]float64, len(m.surface))
	m.pairCount = make([]float64, len(m.surface))
	for t, docs := range m.postings {
		for a := 0; a < len(docs); a++ {
			for b := a + 1; b < len(docs); b++ {
				m.pairSum[t] += m.agreement(int(docs[a]), int(docs[b]))
			}
		}
		k := float64(len(docs))
		m.pairCount[t] = k * (k - 1) / 2
	}
	for a := 0; a < n; a++ {
		for b := a + 1; b < n; b++ {
			m.totalSum += m.agreement(a, b)
		}
	}
	m.totalCount = float64(n) * float64(n-1) / 2
	return m
}

// agreement is the cosine between two sources' target sets.
func (m *Memory) agreement(a, b int) float64 {
	x, y := m.targets[a], m.targets[b]
	common, i, j := 0, 0, 0
	for i < len(x) && j < len(y) {
		switch {
		case x[i] == y[j]:
			common++
			i++
			j++
		case x[i] < y[j]:
			i++
		default:
			j++
		}
	}
	return float64(common) / math.Sqrt(float64(len(x))*float64(len(y)))
}

// SourceText is the text a source control is compared by: its title and
// description.
func SourceText(c pipeline.Control) string { return c.Text() }

// Len is the number of sources with approved mappings.
func (m *Memory) Len() int { return len(m.sources) }

// Targets returns the approved target keys of a source control, nil when it
// has none.
func (m *Memory) Targets(sourceKey string) []string {
	i, ok := m.index[sourceKey]
	if !ok {
		return nil
	}
	out := make([]string, len(m.targets[i]))
	for j, t := range m.targets[i] {
		out[j] = m.targetKeys[t]
	}
	return out
}

// Query is one lookup.
type Query struct {
	// Text is the source text to match (title and description, or the
	// enriched text).
	Text string
	// Exclude reports source keys whose mappings must not be used: the
	// query's own (leave-one-out) and a held-out fold's. Nil excludes
	// nothing.
	Exclude func(sourceKey string) bool
}

// Neighbor is one similar source control.
type Neighbor struct {
	Source     pipeline.Control
	Similarity float64  // weighted cosine, 0..1
	Shared     []string // the words that made them similar, heaviest first
}

// Result is the vote of a query's neighbours.
type Result struct {
	// Neighbors are the voting sources, most similar first.
	Neighbors []Neighbor
	// Scores maps each target some neighbour maps to onto the weighted share
	// of the vote it got, 0..1 (1: every neighbour maps to it).
	Scores map[string]float64
	// Support maps each target onto the keys of the neighbours that map to
	// it, most similar first.
	Support map[string][]string
	// Prior maps every target of the sources not excluded onto the share of
	// those sources that map to it: what the vote falls back to.
	Prior map[string]float64
	// Trained is how many sources were allowed to vote.
	Trained int
}

// Top is the similarity of the best neighbour, 0 when there is none: how
// much the vote can be trusted.
func (r Result) Top() float64 {
	if len(r.Neighbors) == 0 {
		return 0
	}
	return r.Neighbors[0].Similarity
}

// weights are the word weights for one query's training set.
type weights struct {
	m     *Memory
	w     []float64
	valid []bool
	excl  []bool
	n     float64 // sources not excluded
	mu    float64 // mean agreement over pairs not excluded
	rows  map[int][]float64
}

// newWeights prepares the weights with the excluded sources taken out: the
// pairs they are part of leave every word's statistic and the global mean.
func (m *Memory) newWeights(excl []bool, excluded []int) *weights {
	w := &weights{m: m, w: make([]float64, len(m.surface)), valid: make([]bool, len(m.surface)), excl: excl, rows: map[int][]float64{}}
	w.n = float64(len(m.sources) - len(excluded))
	sum, count := m.totalSum, m.totalCount
	for _, e := range excluded {
		row := w.row(e)
		for j, s := range row {
			// Pairs between two excluded sources are met twice; count them
			// once, from the lower-numbered side.
			if excl[j] && j <= e && j != e {
				continue
			}
			if j != e {
				sum -= s
				count--
			}
		}
	}
	if count > 0 {
		w.mu = sum / count
	}
	return w
}

// row is the agreement of source e with every source, computed once per
// query.
func (w *weights) row(e int) []float64 {
	if r, ok := w.rows[e]; ok {
		return r
	}
	r := make([]float64, len(w.m.sources))
	for j := range r {
		if j != e {
			r[j] = w.m.agreement(e, j)
		}
	}
	w.rows[e] = r
	return r
}

// weight is word t's weight for this training set: IDF times its shrunk
// target agreement; 0 for a word no training source uses.
func (w *weights) weight(t int32) float64 {
	if w.valid[t] {
		return w.w[t]
	}
	m := w.m
	docs := m.postings[t]
	df := float64(len(docs))
	sum, count := m.pairSum[t], m.pairCount[t]
	var out []int
	for _, d := range docs {
		if w.excl[d] {
			out = append(out, int(d))
		}
	}
	if len(out) > 0 {
		df -= float64(len(out))
		for i, e := range out {
			row := w.row(e)
			for _, d := range docs {
				j := int(d)
				if j == e || w.excl[j] && containsBefore(out, j, i) {
					continue
				}
				sum -= row[j]
				count--
			}
		}
	}
	var v float64
	if df > 0 {
		idf := math.Log((w.n+1)/(df+1)) + 1
		agree := (sum + m.opts.Shrink*w.mu) / (count + m.opts.Shrink)
		v = idf * agree
	}
	w.w[t], w.valid[t] = v, true
	return v
}

// containsBefore reports whether j is among out[:i]: the pair (out[k], j)
// was already taken out.
func containsBefore(out []int, j, i int) bool {
	for _, x := range out[:i] {
		if x == j {
			return true
		}
	}
	return false
}

// Recall finds the K most similar sources not excluded and lets them vote.
// Sources with no weighted word in common with the query do not vote.
func (m *Memory) Recall(q Query) Result {
	res := Result{Scores: map[string]float64{}, Support: map[string][]string{}, Prior: map[string]float64{}}
	excl := make([]bool, len(m.sources))
	var excluded []int
	if q.Exclude != nil {
		for i, s := range m.sources {
			if q.Exclude(s.Key) {
				excl[i] = true
				excluded = append(excluded, i)
			}
		}
	}
	res.Trained = len(m.sources) - len(excluded)
	if res.Trained == 0 {
		return res
	}
	counts := map[int32]float64{}
	for i, ts := range m.targets {
		if excl[i] {
			continue
		}
		for _, t := range ts {
			counts[t]++
		}
	}
	for t, c := range counts {
		res.Prior[m.targetKeys[t]] = c / float64(res.Trained)
	}

	w := m.newWeights(excl, excluded)
	qtf := map[int32]float64{}
	lexical.EachWord(q.Text, func(_, stem string) {
		if id, ok := m.vocab[stem]; ok {
			qtf[id]++
		}
	})
	qv := make([]termTF, 0, len(qtf))
	for id, c := range qtf {
		if x := (1 + math.Log(c)) * w.weight(id); x != 0 {
			qv = append(qv, termTF{id, x})
		}
	}
	// Sum in term order, not map order, so the same query scores the same
	// to the last bit in every process (served and local results compare
	// equal).
	sort.Slice(qv, func(a, b int) bool { return qv[a].term < qv[b].term })
	var qnorm float64
	for _, qt := range qv {
		qnorm += qt.tf * qt.tf
	}
	if qnorm == 0 {
		return res
	}
	qnorm = math.Sqrt(qnorm)

	dots := map[int32]float64{}
	for _, qt := range qv {
		wt := w.weight(qt.term)
		for _, d := range m.postings[qt.term] {
			if excl[d] {
				continue
			}
			dots[d] += qt.tf * wt * m.tf(int(d), qt.term)
		}
	}
	type cand struct {
		i   int
		sim float64
	}
	cands := make([]cand, 0, len(dots))
	for d, dot := range dots {
		var norm float64
		for _, st := range m.terms[d] {
			x := st.tf * w.weight(st.term)
			norm += x * x
		}
		if dot > 0 && norm > 0 {
			cands = append(cands, cand{int(d), math.Min(dot/(qnorm*math.Sqrt(norm)), 1)})
		}
	}
	sort.Slice(cands, func(a, b int) bool {
		if cands[a].sim != cands[b].sim {
			return cands[a].sim > cands[b].sim
		}
		return cands[a].i < cands[b].i
	})
	if len(cands) > m.opts.K {
		cands = cands[:m.opts.K]
	}
	var total float64
	for _, c := range cands {
		wt := math.Pow(c.sim, m.opts.Power)
		total += wt
		src := m.sources[c.i]
		res.Neighbors = append(res.Neighbors, Neighbor{Source: src, Similarity: c.sim, Shared: m.shared(qv, c.i, w, 5)})
		for _, t := range m.targets[c.i] {
			key := m.targetKeys[t]
			res.Scores[key] += wt
			res.Support[key] = append(res.Support[key], src.Key)
		}
	}
	for t := range res.Scores {
		res.Scores[t] /= total
	}
	return res
}

// tf is source d's weight-free term frequency for term t (0 when absent).
func (m *Memory) tf(d int, t int32) float64 {
	ts := m.terms[d]
	i := sort.Search(len(ts), func(i int) bool { return ts[i].term >= t })
	if i < len(ts) && ts[i].term == t {
		return ts[i].tf
	}
	return 0
}

// shared lists the words a query and source d have in common, heaviest
// first.
func (m *Memory) shared(qv []termTF, d int, w *weights, max int) []string {
	type word struct {
		t int32
		x float64
	}
	var ws []word
	for _, qt := range qv {
		if tf := m.tf(d, qt.term); tf > 0 {
			ws = append(ws, word{qt.term, qt.tf * tf * w.weight(qt.term)})
		}
	}
	sort.SliceStable(ws, func(a, b int) bool { return ws[a].x > ws[b].x })
	if len(ws) > max {
		ws = ws[:max]
	}
	out := make([]string, len(ws))
	for i, x := range ws {
		out[i] = m.surface[x.t]
	}
	return out
}
