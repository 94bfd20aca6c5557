package shared

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/rank"
	"github.com/nexus-compliance/nexus/pipeline/reason"
)

// TemplateReasoner is the reasoner of --reasoning template: pipeline/reason's
// template, which writes each justification from the candidate's evidence
// (supporting approved mappings, shared words, scores) with no service.
func TemplateReasoner(context.Context, pipeline.Store) (pipeline.Reasoner, error) {
	return reason.Template{}, nil
}

// RankScorers builds pipeline/rank's default ranker (mapping memory fused
// with BM25F, reranked with the catalog's hierarchy) for one target
// framework, from the store: the framework's controls, the APPROVED
// mappings into it and the source controls of those mappings. --threshold,
// when given, replaces the ranker's own threshold (0 keeps every
// candidate). It is the intended value of DefaultScorers.
func RankScorers(ctx context.Context, store pipeline.Store, req ScorerRequest) (pipeline.Retriever, pipeline.Reranker, error) {
	cfg, err := RankConfig(ctx, store, req)
	if err != nil {
		return nil, nil, err
	}
	cfg.Embedder = req.Embedder
	r, err := rank.NewDefault(cfg)
	if err != nil {
		return nil, nil, err
	}
	return r, r, nil
}

// RankConfig reads what the ranker of one target framework learns from.
func RankConfig(ctx context.Context, store pipeline.Store, req ScorerRequest) (rank.Config, error) {
	targets, err := store.Controls(ctx, req.FrameworkKey)
	if err != nil {
		return rank.Config{}, err
	}
	all, err := store.MappingsByStatus(ctx, pipeline.MappingApproved)
	if err != nil {
		return rank.Config{}, err
	}
	prefix := req.FrameworkKey + "#"
	var approved []pipeline.Mapping
	needed := map[string]bool{}
	sourceFWs := map[string]bool{}
	for _, m := range all {
		if !strings.HasPrefix(m.MappedControlKey, prefix) {
			continue
		}
		fw, _, err := pipeline.SplitControlKey(m.ControlKey)
		if err != nil {
			continue
		}
		approved = append(approved, m)
		needed[m.ControlKey] = true
		sourceFWs[fw] = true
	}
	// One Controls call per source framework, not one lookup per source.
	var sources []pipeline.Control
	for _, fw := range slices.Sorted(maps.Keys(sourceFWs)) {
		cs, err := store.Controls(ctx, fw)
		if err != nil {
			return rank.Config{}, err
		}
		for _, c := range cs {
			if needed[c.Key] {
				sources = append(sources, c)
			}
		}
	}
	cfg := rank.Config{Targets: targets, Sources: sources, Approved: approved}
	if req.Threshold != nil {
		cfg.Threshold = *req.Threshold
		if cfg.Threshold == 0 {
			cfg.Threshold = -1 // rank reads 0 as its default; the user asked to keep everything
		}
	}
	return cfg, nil
}
