// Package api is the wire contract of the Nexus HTTP APIs: the async
// mapping API, the mapping CRUD API, and the science (NexusECSService) and
// Strands (NexusStrandsAgentService) endpoints, exactly as the architecture
// document shows them. The client (pipeline/api/client) and `nexus serve`
// (pipeline/server) both speak these types.
package api

import "github.com/nexus-compliance/nexus/pipeline"

// Routes of the APIs.
const (
	PathMappings        = "/api/v1/mappings"             // POST: submit a job; GET: list mappings
	PathMapping         = "/api/v1/mappings/{mappingId}" // GET: job status or mapping; PUT: update mapping
	PathArchive         = "/api/v1/mappings/{mappingId}/archive"
	PathBatchMappings   = "/api/v1/batchMappings"
	PathControlMappings = "/api/v1/controls/{controlId}/mappings"
	PathEmbed           = "/api/v1/embed"
	PathRetrieve        = "/api/v1/retrieve"
	PathRerank          = "/api/v1/rerank"
	PathEnrich          = "/api/v1/enrich"
	PathReason          = "/api/v1/reason"
	PathReasonBatch     = "/api/v1/reason/batch"
	PathProfileGenerate = "/api/v1/profile/generate"
	PathHealth          = "/health"
	PathReady           = "/ready"
)

// MaxBatchMappings is the most mappings one POST /batchMappings takes.
const MaxBatchMappings = 100

// MappingRequest is the body of POST /api/v1/mappings.
type MappingRequest struct {
	ControlKey         string   `json:"control_key"`
	TargetFrameworkKey string   `json:"target_framework_key"`
	TargetControlIDs   []string `json:"target_control_ids,omitempty"`
}

// Accepted is the 202 response of POST /api/v1/mappings.
type Accepted struct {
	MappingID          string `json:"mappingId"`
	Status             string `json:"status"` // ACCEPTED
	StatusURL          string `json:"statusUrl"`
	ControlKey         string `json:"controlKey"`
	TargetFrameworkKey string `json:"targetFrameworkKey"`
}

// ResultMapping is one mapping of a COMPLETED job.
type ResultMapping struct {
	TargetControlID  string  `json:"targetControlId"`
	TargetControlKey string  `json:"targetControlKey"`
	SimilarityScore  float64 `json:"similarityScore"`
	RerankScore      float64 `json:"rerankScore"`
	Reasoning        string  `json:"reasoning"`
}

// JobResult is the result of a COMPLETED job.
type JobResult struct {
	Mappings []ResultMapping `json:"mappings"`
}

// JobStatus is GET /api/v1/mappings/{mappingId} for a job: PENDING and
// RUNNING carry the timestamps, COMPLETED the result, FAILED the error.
type JobStatus struct {
	MappingID          string     `json:"mappingId"`
	Status             string     `json:"status"`
	ControlKey         string     `json:"controlKey,omitempty"`
	TargetFrameworkKey string     `json:"targetFrameworkKey,omitempty"`
	CreatedAt          string     `json:"createdAt,omitempty"`
	UpdatedAt          string     `json:"updatedAt,omitempty"`
	Result             *JobResult `json:"result,omitempty"`
	Error              string     `json:"error,omitempty"`
}

// MappingPage is GET /api/v1/mappings: one page of ControlMappings records.
type MappingPage struct {
	Mappings  []pipeline.Mapping `json:"mappings"`
	NextToken string             `json:"nextToken,omitempty"`
}

// MappingUpdate is the body of PUT /api/v1/mappings/{mappingId}: the fields
// a reviewer changes. Empty fields are left as they are.
type MappingUpdate struct {
	Status          pipeline.MappingStatus `json:"status,omitempty"`
	Reasoning       string                 `json:"reasoning,omitempty"`
	SimilarityScore *float64               `json:"similarity_score,omitempty"`
	RerankScore     *float64               `json:"rerank_score,omitempty"`
}

// MappingCreateItem is one mapping of POST /api/v1/batchMappings.
type MappingCreateItem struct {
	SourceControlKey string   `json:"source_control_key"`
	TargetControlKey string   `json:"target_control_key"`
	SimilarityScore  *float64 `json:"similarity_score,omitempty"`
	RerankScore      *float64 `json:"rerank_score,omitempty"`
	Reasoning        string   `json:"reasoning,omitempty"`
}

// BatchMappingsRequest is the body of POST /api/v1/batchMappings.
type BatchMappingsRequest struct {
	Mappings []MappingCreateItem `json:"mappings"`
}

// BatchItemResult is the outcome of one item of a batch create.
type BatchItemResult struct {
	Index      int    `json:"index"`
	MappingKey string `json:"mappingKey,omitempty"`
	Status     string `json:"status"` // CREATED or FAILED
	Error      string `json:"error,omitempty"`
}

// BatchMappingsResponse is the response of POST /api/v1/batchMappings.
type BatchMappingsResponse struct {
	Created int               `json:"created"`
	Failed  int               `json:"failed"`
	Results []BatchItemResult `json:"results"`
}

// ErrorBody is every error response of the APIs (the commons' builders):
// a message, and for validation errors the field, for not-found errors the
// resource and identifier, with suggestions when the control or framework
// does not exist.
type ErrorBody struct {
	Error       string   `json:"error"`
	ErrorCode   string   `json:"errorCode,omitempty"`
	Field       string   `json:"field,omitempty"`
	Resource    string   `json:"resource,omitempty"`
	Identifier  string   `json:"identifier,omitempty"`
	Suggestions []string `json:"suggestions,omitempty"`
}

// EmbedRequest and EmbedResponse are POST /api/v1/embed.
type EmbedRequest struct {
	ControlID string `json:"control_id"`
	Text      string `json:"text"`
}

// EmbedResponse carries one vector.
type EmbedResponse struct {
	ControlID string    `json:"control_id"`
	Embedding []float32 `json:"embedding"`
	CacheHit  bool      `json:"cache_hit"`
}

// RetrieveRequest is POST /api/v1/retrieve: cosine top-k of the source
// among the targets (all L2-normalised).
type RetrieveRequest struct {
	SourceEmbedding  []float32   `json:"source_embedding"`
	TargetEmbeddings [][]float32 `json:"target_embeddings"`
	TopK             int         `json:"top_k"`
}

// RetrieveCandidate is one hit; ControlID is the target's index as a string.
type RetrieveCandidate struct {
	ControlID  string  `json:"control_id"`
	Similarity float64 `json:"similarity"`
}

// RetrieveResponse lists the hits, best first.
type RetrieveResponse struct {
	Candidates []RetrieveCandidate `json:"candidates"`
}

// RerankCandidate is one candidate of POST /api/v1/rerank.
type RerankCandidate struct {
	ControlID string `json:"control_id"`
	Text      string `json:"text"`
}

// RerankRequest is POST /api/v1/rerank.
type RerankRequest struct {
	SourceText string            `json:"source_text"`
	Candidates []RerankCandidate `json:"candidates"`
}

// Ranking is one reranked candidate.
type Ranking struct {
	ControlID string  `json:"control_id"`
	Score     float64 `json:"score"`
}

// RerankResponse lists the rankings, best first.
type RerankResponse struct {
	Rankings []Ranking `json:"rankings"`
}

// Health is /health and /ready.
type Health struct {
	Status string `json:"status"` // ok, ready, loading
	Detail string `json:"detail,omitempty"`
}
