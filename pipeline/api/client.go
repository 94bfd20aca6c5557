package api

import (
	"context"

	"github.com/nexus-compliance/nexus/pipeline"
)

// ListOptions page through GET /api/v1/mappings.
type ListOptions struct {
	ControlKey string
	Status     pipeline.MappingStatus
	Limit      int
	NextToken  string
}

// MappingAPI is the client side of the mapping API (async and CRUD), as
// the commands use it. pipeline/api/client implements it over HTTP.
type MappingAPI interface {
	SubmitMapping(ctx context.Context, req MappingRequest) (Accepted, error)
	// JobStatus is GET /api/v1/mappings/{id} for a job id.
	JobStatus(ctx context.Context, mappingID string) (JobStatus, error)
	ListMappings(ctx context.Context, opts ListOptions) (MappingPage, error)
	// GetMapping is GET /api/v1/mappings/{id} for a mapping key
	// (source|target, sorted).
	GetMapping(ctx context.Context, mappingKey string) (pipeline.Mapping, error)
	UpdateMapping(ctx context.Context, mappingKey string, u MappingUpdate) (pipeline.Mapping, error)
	ArchiveMapping(ctx context.Context, mappingKey string) (pipeline.Mapping, error)
	// BatchCreateMappings sends any number of items, 100 per call, and
	// reports each item's outcome (Index is the position in items).
	BatchCreateMappings(ctx context.Context, items []MappingCreateItem) (BatchMappingsResponse, error)
	ControlMappings(ctx context.Context, controlKey string) ([]pipeline.Mapping, error)
}

// ScienceAPI is the client side of NexusECSService.
type ScienceAPI interface {
	Embed(ctx context.Context, req EmbedRequest) (EmbedResponse, error)
	Retrieve(ctx context.Context, req RetrieveRequest) (RetrieveResponse, error)
	Rerank(ctx context.Context, req RerankRequest) (RerankResponse, error)
	Health(ctx context.Context) (Health, error)
	Ready(ctx context.Context) (Health, error)
}
