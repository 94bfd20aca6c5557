package pipeline

import "context"

// Source is the control being mapped and the text the scorers read: the
// enriched text when there is one, else title and statement.
type Source struct {
	Control  Control
	Text     string
	Enriched bool
}

// Evidence is why a candidate scored as it did; the template reasoner
// writes its justification from it.
type Evidence struct {
	SharedTerms []string           `json:"shared_terms,omitempty"`
	SupportedBy []string           `json:"supported_by,omitempty"` // source controls whose approved mappings point here
	Signals     map[string]float64 `json:"signals,omitempty"`      // per-scorer scores (lexical, memory, cosine…)
}

// Candidate is a target control with the scores the stages gave it.
type Candidate struct {
	Target     Control
	Similarity float64 // retrieval score, 0..1
	Rerank     float64 // rerank score, 0..1
	Evidence   Evidence
	Reasoning  string
}

// Retriever ranks the targets for a source and returns the best k, best
// first. The default fuses lexical scoring with mapping memory; the neural
// one is cosine similarity over embeddings.
type Retriever interface {
	Retrieve(ctx context.Context, src Source, targets []Control, k int) ([]Candidate, error)
}

// Reranker rescores retrieved candidates (setting Rerank), best first.
type Reranker interface {
	Rerank(ctx context.Context, src Source, cands []Candidate) ([]Candidate, error)
}

// Reasoner writes the justification of one mapping.
type Reasoner interface {
	Reason(ctx context.Context, src Source, c Candidate) (string, error)
}

// Enricher produces enriched text for a control that has none.
type Enricher interface {
	Enrich(ctx context.Context, c Control) (Enrichment, error)
}

// Embedder turns texts into L2-normalised vectors.
type Embedder interface {
	ModelVersion() string
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}
