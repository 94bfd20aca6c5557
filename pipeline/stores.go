package pipeline

import (
	"context"
	"errors"
)

// ErrNotFound is returned by stores for a key they do not hold.
var ErrNotFound = errors.New("not found")

// Catalog holds frameworks and their controls (the Frameworks and
// FrameworkControls tables).
type Catalog interface {
	PutFramework(ctx context.Context, fw Framework) error
	Framework(ctx context.Context, key string) (Framework, error)
	Frameworks(ctx context.Context) ([]Framework, error)
	// PutControls writes controls, replacing those with the same key.
	PutControls(ctx context.Context, controls []Control) error
	Control(ctx context.Context, key string) (Control, error)
	// Controls lists every control of a framework, withdrawn ones included,
	// in a stable order.
	Controls(ctx context.Context, frameworkKey string) ([]Control, error)
}

// EnrichmentStore caches enriched control text (the Enrichment table).
type EnrichmentStore interface {
	// Enrichment returns ErrNotFound when the control was never enriched.
	Enrichment(ctx context.Context, controlKey string) (Enrichment, error)
	PutEnrichment(ctx context.Context, e Enrichment) error
}

// EmbeddingCache caches vectors by control key and model version (the
// EmbeddingCache table).
type EmbeddingCache interface {
	Embedding(ctx context.Context, controlKey, modelVersion string) ([]float32, bool, error)
	PutEmbedding(ctx context.Context, controlKey, modelVersion string, vector []float32) error
}

// MappingStore holds reviewed mappings (the ControlMappings table); the
// APPROVED ones are the mapping memory's training signal.
type MappingStore interface {
	PutMappings(ctx context.Context, ms []Mapping) error
	// MappingsForControl lists the mappings whose source is controlKey.
	MappingsForControl(ctx context.Context, controlKey string) ([]Mapping, error)
	// MappingsByStatus lists every mapping in one status.
	MappingsByStatus(ctx context.Context, status MappingStatus) ([]Mapping, error)
}

// JobStore records mapping jobs (the MappingJobs table).
type JobStore interface {
	PutJob(ctx context.Context, j Job) error
	Job(ctx context.Context, id string) (Job, error)
}

// Store is everything the pipeline reads and writes.
type Store interface {
	Catalog
	EnrichmentStore
	EmbeddingCache
	MappingStore
	JobStore
	Close() error
}
