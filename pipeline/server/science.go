package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"unsafe"

	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/api"
	"github.com/nexus-compliance/nexus/pipeline/lexical"
	"github.com/nexus-compliance/nexus/pipeline/topk"
)

func (s *Server) handleEmbed(w http.ResponseWriter, r *http.Request) {
	emb := s.embedder()
	if emb == nil {
		writeError(w, http.StatusServiceUnavailable, api.ErrorBody{Error: "embedding needs a bi-encoder: start nexus serve with --model-dir DIR (model.onnx + tokenizer.json)", ErrorCode: CodeUnavailable})
		return
	}
	var req api.EmbedRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Text == "" {
		badRequest(w, "text", "text is required")
		return
	}
	ctx := r.Context()
	version := emb.ModelVersion()
	// A control key is cached in the EmbeddingCache as the ECS service does.
	cacheable := req.ControlID != "" && pipeline.ValidateControlKey(req.ControlID) == nil && s.cfg.Store != nil
	if cacheable {
		if v, ok, err := s.cfg.Store.Embedding(ctx, req.ControlID, version); err == nil && ok {
			writeJSON(w, http.StatusOK, api.EmbedResponse{ControlID: req.ControlID, Embedding: v, CacheHit: true})
			return
		}
	}
	vs, err := emb.Embed(ctx, []string{req.Text})
	if err != nil || len(vs) != 1 {
		internal(w, fmt.Errorf("embedding: %v", err))
		return
	}
	if cacheable {
		_ = s.cfg.Store.PutEmbedding(ctx, req.ControlID, version, vs[0])
	}
	writeJSON(w, http.StatusOK, api.EmbedResponse{ControlID: req.ControlID, Embedding: vs[0]})
}

// handleRetrieve is the cosine top-k of the source among the targets, with
// pipeline/topk; it needs no model.
func (s *Server) handleRetrieve(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		bodyError(w, err)
		return
	}
	req, err := DecodeRetrieve(body)
	if err != nil {
		var de *DimError
		if errors.As(err, &de) {
			badRequest(w, "target_embeddings", "%v", err)
			return
		}
		bodyError(w, err)
		return
	}
	if len(req.Source) == 0 {
		badRequest(w, "source_embedding", "source_embedding is required")
		return
	}
	if req.Targets.Rows > 0 && req.Targets.Dim != len(req.Source) {
		badRequest(w, "target_embeddings", "target_embeddings have %d values each, source_embedding has %d", req.Targets.Dim, len(req.Source))
		return
	}
	if req.TopK < 0 {
		badRequest(w, "top_k", "top_k must be at least 1")
		return
	}
	k := req.TopK
	if k == 0 {
		k = DefaultTopK
	}
	resp := api.RetrieveResponse{Candidates: []api.RetrieveCandidate{}}
	if req.Targets.Rows > 0 {
		topk.Normalize(req.Source)
		hits, err := topk.SearchWorkers(req.Targets, req.Source, k, 0)
		if err != nil {
			badRequest(w, "target_embeddings", "%v", err)
			return
		}
		for _, h := range hits {
			resp.Candidates = append(resp.Candidates, api.RetrieveCandidate{ControlID: strconv.Itoa(h.Index), Similarity: float64(h.Score)})
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// readBody reads the whole body, sized by Content-Length when given.
func readBody(r *http.Request) ([]byte, error) {
	if n := r.ContentLength; n > 0 && n < 1<<31 {
		buf := make([]byte, n)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	return io.ReadAll(r.Body)
}

// Retrieve is a decoded /api/v1/retrieve body: the targets in one
// contiguous matrix, each row L2-normalised.
type Retrieve struct {
	Source  []float32
	Targets topk.Matrix
	TopK    int
}

// DimError is a target row whose length differs from the first row's.
type DimError struct{ Row, Got, Want int }

func (e *DimError) Error() string {
	return fmt.Sprintf("target_embeddings[%d] has %d values, target_embeddings[0] has %d", e.Row, e.Got, e.Want)
}

// DecodeRetrieve decodes an api.RetrieveRequest. encoding/json spends
// about a microsecond a number, far over budget for 10,000 × 4,096 targets,
// so the usual shape (the three fields, arrays of plain numbers) takes a
// fast path: one scan finds the rows, and the rows' numbers are parsed in
// parallel straight into the matrix. Anything else falls back to
// encoding/json, whose errors are the ones reported.
func DecodeRetrieve(body []byte) (Retrieve, error) {
	if out, ok, err := fastRetrieve(body); ok {
		return out, err
	}
	var req api.RetrieveRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return Retrieve{}, err
	}
	out := Retrieve{Source: req.SourceEmbedding, TopK: req.TopK}
	if len(req.TargetEmbeddings) > 0 {
		dim := len(req.TargetEmbeddings[0])
		for i, row := range req.TargetEmbeddings {
			if len(row) != dim {
				return Retrieve{}, &DimError{Row: i, Got: len(row), Want: dim}
			}
		}
		m, err := topk.NewMatrix(req.TargetEmbeddings)
		if err != nil {
			return Retrieve{}, err
		}
		for i := range m.Rows {
			topk.Normalize(m.Row(i))
		}
		out.Targets = m
	}
	return out, nil
}

type span struct{ lo, hi int }

// fastRetrieve returns ok false when the body is not of the plain shape.
func fastRetrieve(b []byte) (out Retrieve, ok bool, err error) {
	p := skipWS(b, 0)
	if p >= len(b) || b[p] != '{' {
		return out, false, nil
	}
	p = skipWS(b, p+1)
	var rows []span
	seen := map[string]bool{}
	for p < len(b) && b[p] != '}' {
		if b[p] != '"' {
			return out, false, nil
		}
		end := bytes.IndexByte(b[p+1:], '"')
		if end < 0 {
			return out, false, nil
		}
		key := string(b[p+1 : p+1+end])
		if seen[key] {
			return out, false, nil
		}
		seen[key] = true
		p = skipWS(b, p+2+end)
		if p >= len(b) || b[p] != ':' {
			return out, false, nil
		}
		p = skipWS(b, p+1)
		switch key {
		case "source_embedding":
			if p >= len(b) || b[p] != '[' {
				return out, false, nil
			}
			end := bytes.IndexByte(b[p:], ']')
			if end < 0 {
				return out, false, nil
			}
			v, good := parseRow(b[p+1:p+end], nil)
			if !good {
				return out, false, nil
			}
			out.Source = v
			p += end + 1
		case "target_embeddings":
			if p >= len(b) || b[p] != '[' {
				return out, false, nil
			}
			p = skipWS(b, p+1)
			for p < len(b) && b[p] != ']' {
				if b[p] != '[' {
					return out, false, nil
				}
				end := bytes.IndexByte(b[p:], ']')
				if end < 0 {
					return out, false, nil
				}
				rows = append(rows, span{p + 1, p + end})
				p = skipWS(b, p+end+1)
				if p < len(b) && b[p] == ',' {
					p = skipWS(b, p+1)
				}
			}
			if p >= len(b) {
				return out, false, nil
			}
			p++
		case "top_k":
			q := p
			for q < len(b) && (b[q] == '-' || (b[q] >= '0' && b[q] <= '9')) {
				q++
			}
			n, err := strconv.Atoi(string(b[p:q]))
			if err != nil {
				return out, false, nil
			}
			out.TopK, p = n, q
		default:
			return out, false, nil
		}
		p = skipWS(b, p)
		if p < len(b) && b[p] == ',' {
			p = skipWS(b, p+1)
		}
	}
	if p >= len(b) || skipWS(b, p+1) != len(b) {
		return out, false, nil
	}
	if len(rows) == 0 {
		return out, true, nil
	}
	first, good := parseRow(b[rows[0].lo:rows[0].hi], nil)
	if !good {
		return out, false, nil
	}
	dim := len(first)
	m := topk.Matrix{Rows: len(rows), Dim: dim, Data: make([]float32, len(rows)*dim)}
	workers := min(runtime.GOMAXPROCS(0), (len(rows)+63)/64)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		bad    bool
		dimErr *DimError
	)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(rows); i += workers {
				dst := m.Data[i*dim : (i+1)*dim : (i+1)*dim]
				v, good := parseRow(b[rows[i].lo:rows[i].hi], dst[:0])
				if !good || len(v) != dim {
					mu.Lock()
					if !good {
						bad = true
					} else if dimErr == nil || i < dimErr.Row {
						dimErr = &DimError{Row: i, Got: len(v), Want: dim}
					}
					mu.Unlock()
					return
				}
				topk.Normalize(dst)
			}
		})
	}
	wg.Wait()
	if bad {
		return out, false, nil
	}
	if dimErr != nil {
		return out, true, dimErr
	}
	out.Targets = m
	return out, true, nil
}

// parseRow parses comma-separated numbers, appending to dst (which, when
// it has the capacity, is written in place).
func parseRow(b []byte, dst []float32) ([]float32, bool) {
	p := skipWS(b, 0)
	if p == len(b) {
		return dst, true
	}
	for {
		q := p
		for q < len(b) && b[q] != ',' && b[q] != ' ' && b[q] != '\n' && b[q] != '\t' && b[q] != '\r' {
			q++
		}
		if q == p {
			return nil, false
		}
		f, err := strconv.ParseFloat(unsafe.String(&b[p], q-p), 32)
		if err != nil {
			return nil, false
		}
		dst = append(dst, float32(f))
		q = skipWS(b, q)
		if q == len(b) {
			return dst, true
		}
		if b[q] != ',' {
			return nil, false
		}
		p = skipWS(b, q+1)
		if p == len(b) {
			return nil, false
		}
	}
}

func skipWS(b []byte, p int) int {
	for p < len(b) && (b[p] == ' ' || b[p] == '\n' || b[p] == '\t' || b[p] == '\r') {
		p++
	}
	return p
}

// handleRerank scores the candidates against the source text with the
// cross-encoder, or without one with BM25 over the candidates' texts
// (scaled so the best is 1); HeaderReranker says which.
func (s *Server) handleRerank(w http.ResponseWriter, r *http.Request) {
	var req api.RerankRequest
	if !decode(w, r, &req) {
		return
	}
	if req.SourceText == "" {
		badRequest(w, "source_text", "source_text is required")
		return
	}
	texts := make([]string, len(req.Candidates))
	for i, c := range req.Candidates {
		texts[i] = c.Text
	}
	var scores []float64
	if ce := s.crossEncoder(); ce != nil {
		w.Header().Set(HeaderReranker, "cross-encoder")
		if len(texts) > 0 {
			var err error
			if scores, err = ce.Score(r.Context(), req.SourceText, texts); err != nil {
				internal(w, fmt.Errorf("reranking: %w", err))
				return
			}
		}
	} else {
		w.Header().Set(HeaderReranker, "lexical")
		scores = LexicalScores(req.SourceText, texts)
	}
	resp := api.RerankResponse{Rankings: make([]api.Ranking, len(req.Candidates))}
	for i, c := range req.Candidates {
		resp.Rankings[i] = api.Ranking{ControlID: c.ControlID, Score: scores[i]}
	}
	slices.SortStableFunc(resp.Rankings, func(a, b api.Ranking) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return 0
	})
	writeJSON(w, http.StatusOK, resp)
}

// LexicalScores are BM25 scores of the texts for the query, scaled so the
// best is 1 (all 0 when no text shares a word with the query).
func LexicalScores(query string, texts []string) []float64 {
	if len(texts) == 0 {
		return nil
	}
	docs := make([][]string, len(texts))
	for i, t := range texts {
		docs[i] = []string{t}
	}
	ix := lexical.NewIndex(docs, lexical.PlainParams())
	scores := ix.Scores(ix.Compile(query), nil)
	best := 0.0
	for _, v := range scores {
		best = max(best, v)
	}
	if best > 0 {
		for i := range scores {
			scores[i] /= best
		}
	}
	return scores
}
