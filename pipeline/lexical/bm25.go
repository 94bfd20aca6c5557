package lexical

import (
	"math"
	"runtime"
	"sort"
	"sync"

	"github.com/nexus-compliance/nexus/pipeline"
)

// Field is one text field of the documents an Index holds.
type Field struct {
	Name string
	// Weight is what one occurrence here is worth against one in a field of
	// weight 1 (BM25F's field boost).
	Weight float64
	// B is the field's length normalisation, 0 (none) to 1 (full).
	B float64
}

// Params are BM25F's parameters.
type Params struct {
	K1     float64
	Fields []Field
}

// PlainParams is textbook BM25 (k1 1.2, b 0.75) over one field.
func PlainParams() Params {
	return Params{K1: 1.2, Fields: []Field{{Name: "text", Weight: 1, B: 0.75}}}
}

// ControlParams are the BM25F parameters for control text, in the field
// order of ControlFields. A title names what the control is about in a few
// words, so a title match is worth three statement matches, and titles are
// barely length-normalised; guidance is long, discursive and mentions many
// neighbouring topics, so a match there is worth half one in the statement.
func ControlParams() Params {
	return Params{K1: 1.2, Fields: []Field{
		{Name: "title", Weight: 3, B: 0.3},
		{Name: "statement", Weight: 1, B: 0.75},
		{Name: "guidance", Weight: 0.5, B: 0.75},
	}}
}

// ControlFields returns the fields of a control in ControlParams order. An
// enhancement's title is read with its base control's title before it
// ("Account Management: Automated System Account Management"), as NIST
// prints it, since the enhancement's own title often leaves the subject out.
func ControlFields(c pipeline.Control, parentTitle string) []string {
	title := c.Title
	if parentTitle != "" {
		title = parentTitle + ": " + title
	}
	return []string{title, c.Description, c.Guidance}
}

// Index is a BM25F index over a fixed set of documents. It is read-only once
// built and safe for concurrent use.
type Index struct {
	k1       float64
	vocab    map[string]int32
	surface  []string    // term id → the word most often seen for it
	postings [][]posting // term id → documents, ascending
	docTerms [][]int32   // document → its distinct term ids, ascending
	n        int
}

type posting struct {
	doc   int32
	score float32 // idf × saturated field-weighted tf: the term's whole contribution
}

// Hit is one document's score for a query.
type Hit struct {
	Doc   int
	Score float64
}

// NewIndex indexes docs, each a slice of field texts in the order of
// p.Fields (missing trailing fields are empty).
func NewIndex(docs [][]string, p Params) *Index {
	nf := len(p.Fields)
	ix := &Index{k1: p.K1, vocab: map[string]int32{}, n: len(docs)}
	words := tokenizeAll(docs, nf)

	// Term ids, field lengths and term frequencies. Counting goes through a
	// dense per-document scratch array rather than a map: this loop sees
	// every word of the catalog, and map updates were most of the build.
	surfaces := []map[string]int{}
	lengths := make([][]int, len(docs))
	avg := make([]float64, nf)
	type tf struct {
		term  int32
		field int
		n     int
	}
	docTF := make([][]tf, len(docs))
	var counts []int // term*nf+field → count, for the current document
	var touched []int
	for d := range docs {
		lengths[d] = make([]int, nf)
		for f, ws := range words[d] {
			for _, w := range ws {
				id, ok := ix.vocab[w.stem]
				if !ok {
					id = int32(len(ix.surface))
					ix.vocab[w.stem] = id
					ix.surface = append(ix.surface, w.word)
					surfaces = append(surfaces, map[string]int{})
					counts = append(counts, make([]int, nf)...)
				}
				surfaces[id][w.word]++
				slot := int(id)*nf + f
				if counts[slot] == 0 {
					touched = append(touched, slot)
				}
				counts[slot]++
			}
			lengths[d][f] = len(ws)
			avg[f] += float64(len(ws))
		}
		for _, slot := range touched {
			docTF[d] = append(docTF[d], tf{term: int32(slot / nf), field: slot % nf, n: counts[slot]})
			counts[slot] = 0
		}
		touched = touched[:0]
	}
	for f := range avg {
		avg[f] = math.Max(avg[f]/math.Max(float64(len(docs)), 1), 1)
	}
	for id, m := range surfaces {
		ix.surface[id] = MostFrequent(m)
	}

	// Field-weighted, length-normalised term frequency per document.
	weighted := make([]map[int32]float64, len(docs))
	df := make([]int, len(ix.surface))
	for d := range docs {
		weighted[d] = make(map[int32]float64, len(docTF[d]))
		for _, k := range docTF[d] {
			fp := p.Fields[k.field]
			norm := 1 - fp.B + fp.B*float64(lengths[d][k.field])/avg[k.field]
			weighted[d][k.term] += fp.Weight * float64(k.n) / norm
		}
		for t := range weighted[d] {
			df[t]++
		}
	}
	ix.postings = make([][]posting, len(ix.surface))
	ix.docTerms = make([][]int32, len(docs))
	for d := range docs {
		terms := make([]int32, 0, len(weighted[d]))
		for t := range weighted[d] {
			terms = append(terms, t)
		}
		sort.Slice(terms, func(i, j int) bool { return terms[i] < terms[j] })
		ix.docTerms[d] = terms
		for _, t := range terms {
			w := weighted[d][t]
			ix.postings[t] = append(ix.postings[t], posting{doc: int32(d), score: float32(idf(len(docs), df[t]) * w / (p.K1 + w))})
		}
	}
	return ix
}

// stemmed is one kept word of a document and its stem.
type stemmed struct{ word, stem string }

// tokenizeAll splits and stems every field of every document, spread over
// the CPUs: it is the costly part of building an index (the catalog's
// guidance text is long), and documents are independent.
func tokenizeAll(docs [][]string, nf int) [][][]stemmed {
	out := make([][][]stemmed, len(docs))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(docs)/64))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			cache := stemCache{}
			for d := w; d < len(docs); d += workers {
				fields := make([][]stemmed, nf)
				for f := 0; f < nf && f < len(docs[d]); f++ {
					eachWord(docs[d][f], func(word string) {
						fields[f] = append(fields[f], stemmed{word: word, stem: cache.stem(word)})
					})
				}
				out[d] = fields
			}
		})
	}
	wg.Wait()
	return out
}

// idf is the BM25 inverse document frequency in Lucene's form, which stays
// positive for terms in more than half the documents.
func idf(n, df int) float64 {
	return math.Log(1 + (float64(n)-float64(df)+0.5)/(float64(df)+0.5))
}

// MostFrequent is the key with the highest count, the smallest on a tie:
// how a corpus most often spells a stem.
func MostFrequent(m map[string]int) string {
	best, bn := "", -1
	for w, n := range m {
		if n > bn || n == bn && w < best {
			best, bn = w, n
		}
	}
	return best
}

// Len is the number of documents.
func (ix *Index) Len() int { return ix.n }

// Query is a text compiled against one index: its known terms and how often
// each occurs.
type Query struct {
	terms  []int32
	counts []float64
}

// Empty reports whether no word of the query occurs in the index.
func (q Query) Empty() bool { return len(q.terms) == 0 }

// Compile tokenizes text against the index's vocabulary; words the index
// has never seen cannot score and are dropped.
func (ix *Index) Compile(text string) Query {
	counts := map[int32]float64{}
	var order []int32
	for _, s := range Tokenize(text) {
		id, ok := ix.vocab[s]
		if !ok {
			continue
		}
		if counts[id] == 0 {
			order = append(order, id)
		}
		counts[id]++
	}
	q := Query{terms: order, counts: make([]float64, len(order))}
	for i, id := range order {
		// A word repeated in a query counts a little more, not n times:
		// descriptions repeat their subject for style, not emphasis.
		q.counts[i] = 1 + math.Log(counts[id])
	}
	return q
}

// Scores writes every document's score for q into dst (reused when it is
// long enough) and returns it.
func (ix *Index) Scores(q Query, dst []float64) []float64 {
	if cap(dst) < ix.n {
		dst = make([]float64, ix.n)
	}
	dst = dst[:ix.n]
	clear(dst)
	for i, t := range q.terms {
		c := q.counts[i]
		for _, p := range ix.postings[t] {
			dst[p.doc] += c * float64(p.score)
		}
	}
	return dst
}

// Search returns the k best documents for text, best first, ties by
// document order; documents that share no term are left out.
func (ix *Index) Search(text string, k int) []Hit {
	scores := ix.Scores(ix.Compile(text), nil)
	hits := make([]Hit, 0, 64)
	for d, s := range scores {
		if s > 0 {
			hits = append(hits, Hit{Doc: d, Score: s})
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].Score != hits[j].Score {
			return hits[i].Score > hits[j].Score
		}
		return hits[i].Doc < hits[j].Doc
	})
	if k >= 0 && len(hits) > k {
		hits = hits[:k]
	}
	return hits
}

// SharedTerms are the query's words found in document doc, the ones that
// contributed most first, at most max of them (all when max <= 0). Words
// are shown as the corpus most often spells them, not as stems.
func (ix *Index) SharedTerms(q Query, doc int, max int) []string {
	type term struct {
		word  string
		score float64
	}
	var found []term
	dt := ix.docTerms[doc]
	for i, t := range q.terms {
		j := sort.Search(len(dt), func(j int) bool { return dt[j] >= t })
		if j == len(dt) || dt[j] != t {
			continue
		}
		ps := ix.postings[t]
		p := sort.Search(len(ps), func(p int) bool { return ps[p].doc >= int32(doc) })
		found = append(found, term{ix.surface[t], q.counts[i] * float64(ps[p].score)})
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].score > found[j].score })
	if max > 0 && len(found) > max {
		found = found[:max]
	}
	out := make([]string, len(found))
	for i, f := range found {
		out[i] = f.word
	}
	return out
}
