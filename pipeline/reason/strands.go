// Package reason writes the justification of a mapping: from the scorers'
// evidence, from the Strands agent service, or from a Bedrock model.
package reason

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/internal/jsonhttp"
)

// StrandsOptions tune the Strands client: bearer token, per-attempt
// timeout (default 120 s), retries and backoff.
type StrandsOptions = jsonhttp.Options

// ServiceError is a failure the Strands service reported, with its HTTP
// status and message.
type ServiceError = jsonhttp.StatusError

// MaxBatch is the most mappings /api/v1/reason/batch takes in one call.
const MaxBatch = 20

// Strands asks the NexusStrandsAgentService for reasoning: one mapping per
// call with /api/v1/reason, or many with /api/v1/reason/batch.
type Strands struct {
	c *jsonhttp.Client
}

var _ pipeline.Reasoner = (*Strands)(nil)

// NewStrands returns a client of the service at baseURL (the seed's
// STRANDS_SERVICE_ENDPOINT). A nil httpClient uses http.DefaultClient.
func NewStrands(baseURL string, httpClient *http.Client, opts StrandsOptions) (*Strands, error) {
	c, err := jsonhttp.New("strands", baseURL, httpClient, opts)
	if err != nil {
		return nil, err
	}
	return &Strands{c: c}, nil
}

// reasonMapping is a candidate as the service reads it.
type reasonMapping struct {
	TargetControlID string  `json:"targetControlId"`
	TargetFramework string  `json:"targetFramework"`
	Text            string  `json:"text"`
	SimilarityScore float64 `json:"similarityScore"`
	RerankScore     float64 `json:"rerankScore"`
}

type reasonRequest struct {
	SourceControlID string        `json:"sourceControlId"`
	SourceText      string        `json:"sourceText"`
	Mapping         reasonMapping `json:"mapping"`
}

type reasonResponse struct {
	SourceControlID string `json:"sourceControlId"`
	TargetControlID string `json:"targetControlId"`
	Reasoning       string `json:"reasoning"`
	Status          string `json:"status"`
	Error           string `json:"error"`
}

type batchRequest struct {
	SourceControlID string          `json:"sourceControlId"`
	SourceText      string          `json:"sourceText"`
	Mappings        []reasonMapping `json:"mappings"`
}

type batchResponse struct {
	Results    []reasonResponse `json:"results"`
	Total      int              `json:"total"`
	Successful int              `json:"successful"`
	Failed     int              `json:"failed"`
}

// Reason asks /api/v1/reason for the justification of one mapping.
func (s *Strands) Reason(ctx context.Context, src pipeline.Source, c pipeline.Candidate) (string, error) {
	var out reasonResponse
	if err := s.c.Post(ctx, "/api/v1/reason", reasonRequest{
		SourceControlID: sourceID(src), SourceText: sourceText(src), Mapping: wireMapping(c),
	}, &out); err != nil {
		return "", err
	}
	r := strings.TrimSpace(out.Reasoning)
	if r == "" {
		return "", fmt.Errorf("strands POST /api/v1/reason: no reasoning for %s → %s", sourceID(src), c.Target.Key)
	}
	return r, nil
}

// BatchResult is the reasoning of one candidate of ReasonBatch, or why the
// service gave none.
type BatchResult struct {
	TargetControlID string
	Reasoning       string
	Err             error
}

// ReasonBatch asks /api/v1/reason/batch for the reasoning of every
// candidate, MaxBatch per call, one call after another (each runs up to 20
// LLM calls on the service already). The results line up with cands. A
// mapping the service failed, or left out of its answer, has Err set and
// does not fail the batch; err is set only when a call failed as a whole
// (service unreachable, request refused, context ended), and then the
// results of the calls before it are returned with it.
func (s *Strands) ReasonBatch(ctx context.Context, src pipeline.Source, cands []pipeline.Candidate) ([]BatchResult, error) {
	results := make([]BatchResult, len(cands))
	for i, c := range cands {
		results[i].TargetControlID = c.Target.ID
	}
	for start := 0; start < len(cands); start += MaxBatch {
		chunk := cands[start:min(start+MaxBatch, len(cands))]
		req := batchRequest{SourceControlID: sourceID(src), SourceText: sourceText(src), Mappings: make([]reasonMapping, len(chunk))}
		for i, c := range chunk {
			req.Mappings[i] = wireMapping(c)
		}
		var out batchResponse
		if err := s.c.Post(ctx, "/api/v1/reason/batch", req, &out); err != nil {
			return results[:start], fmt.Errorf("reasoning mappings %d–%d of %d: %w", start+1, start+len(chunk), len(cands), err)
		}
		match(results[start:start+len(chunk)], out.Results)
	}
	return results, nil
}

// match files each result under its candidate by target control id; a
// result without an id is taken to be in request order, as the service
// answers.
func match(dst []BatchResult, got []reasonResponse) {
	done := make([]bool, len(dst))
	for i, r := range got {
		idx := -1
		for j := range dst {
			if !done[j] && r.TargetControlID != "" && dst[j].TargetControlID == r.TargetControlID {
				idx = j
				break
			}
		}
		if idx < 0 && r.TargetControlID == "" && i < len(dst) && !done[i] {
			idx = i
		}
		if idx < 0 {
			continue
		}
		done[idx] = true
		text := strings.TrimSpace(r.Reasoning)
		switch {
		case r.Status != "" && !strings.EqualFold(r.Status, "success"):
			msg := r.Error
			if msg == "" {
				msg = "status " + r.Status
			}
			dst[idx].Err = fmt.Errorf("strands could not reason about %s: %s", dst[idx].TargetControlID, msg)
		case text == "":
			dst[idx].Err = fmt.Errorf("strands returned no reasoning for %s", dst[idx].TargetControlID)
		default:
			dst[idx].Reasoning = text
		}
	}
	for j := range dst {
		if !done[j] {
			dst[j].Err = fmt.Errorf("strands left %s out of its batch answer", dst[j].TargetControlID)
		}
	}
}

// sourceID is the label the Lambdas send (the control id, AWS-IAM-001),
// or the whole key when a control has none.
func sourceID(src pipeline.Source) string {
	if src.Control.ID != "" {
		return src.Control.ID
	}
	return src.Control.Key
}

func sourceText(src pipeline.Source) string {
	if strings.TrimSpace(src.Text) != "" {
		return src.Text
	}
	return src.Control.Text()
}

// wireMapping is a candidate in the service's words: the seed's example
// names the target by control id and its framework by name (NIST-AC-1,
// NIST-SP-800-53), without the version.
func wireMapping(c pipeline.Candidate) reasonMapping {
	return reasonMapping{
		TargetControlID: c.Target.ID,
		TargetFramework: frameworkName(c.Target),
		Text:            c.Target.Text(),
		SimilarityScore: c.Similarity,
		RerankScore:     c.Rerank,
	}
}

func frameworkName(c pipeline.Control) string {
	fw := c.FrameworkKey
	if fw == "" {
		fw, _, _ = pipeline.SplitControlKey(c.Key)
	}
	name, _, _ := strings.Cut(fw, "#")
	return name
}
