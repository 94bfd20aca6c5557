// Package mapper runs the Nexus mapping pipeline in-process: the stages the
// deployed system spreads over the async API handler, the Step Functions
// workflow, the science orchestrator, the reasoning Map state and the job
// updater, as one sequence of small functions, each testable alone:
//
//	ValidateControl → CheckEnrichment → Enrich (or use the cached text, or
//	none) → SourceText → FetchTargets → Retrieve → Rerank → Reason (five at
//	a time) → Merge
//
// Run records the job in the JobStore as the service does (PENDING with a
// 7-day TTL, RUNNING, then COMPLETED with its mappings or FAILED with its
// error message) and reports each stage's start and duration to an
// Observer. The scorers (Retriever, Reranker), the Reasoner and the Enricher
// are interfaces; which implementations run is the caller's choice.
package mapper

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nexus-compliance/nexus/pipeline"
)

// JobTTL is how long a job record lives, as the async API handler sets it.
const JobTTL = 7 * 24 * time.Hour

// TimeLayout is the ISO-8601 form of job timestamps: UTC, milliseconds, Z.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// Options tune one mapping.
type Options struct {
	// TopK is how many candidates retrieval keeps (default DefaultTopK).
	TopK int
	// Threshold drops candidates whose rerank score is below it.
	Threshold float64
	// TargetControlIDs limits the targets to these ids of the framework.
	TargetControlIDs []string
}

// Request is one mapping: a source control to a target framework.
type Request struct {
	ControlKey   string
	FrameworkKey string
	Options
}

// Event reports a stage starting (Done false) or finishing (Done true, with
// its Duration, its error and a short Detail such as "20 candidates").
type Event struct {
	JobID    string
	Stage    string
	Done     bool
	Duration time.Duration
	Detail   string
	Err      error
}

// Observer receives stage events. Calls come from the goroutine running the
// mapping, one at a time per mapping.
type Observer func(Event)

// Mapper runs mappings against a store.
type Mapper struct {
	Store     pipeline.Store
	Retriever pipeline.Retriever
	Reranker  pipeline.Reranker // nil: the retrieval score is the rerank score
	Reasoner  pipeline.Reasoner // nil: mappings carry no reasoning
	Enricher  pipeline.Enricher // nil: controls without cached enrichment use their own text
	Observer  Observer          // nil: no events
	// ReasonParallel bounds concurrent Reason calls (default 5).
	ReasonParallel int
	// Now and NewID default to the clock and random UUIDs.
	Now   func() time.Time
	NewID func() string
}

// Result is what the stages produced.
type Result struct {
	Source     pipeline.Source
	Framework  pipeline.Framework
	Candidates []pipeline.Candidate
	Mappings   []pipeline.ResultMapping
}

// Map runs every stage and returns the mappings, recording nothing.
func (m *Mapper) Map(ctx context.Context, req Request) (Result, error) {
	v, err := m.validate(ctx, "", req)
	if err != nil {
		return Result{}, err
	}
	return m.run(ctx, "", req, v)
}

// Validate runs the validation stage alone: key shapes, the source control,
// the target framework and any requested target ids. Errors are
// *pipeline.KeyError, *ControlNotFoundError, *FrameworkNotFoundError,
// *UnknownTargetsError, *NoTargetsError, or the store's.
func (m *Mapper) Validate(ctx context.Context, req Request) error {
	_, err := m.validate(ctx, "", req)
	return err
}

// Run validates the request and, when it is valid, records a job and runs
// the stages, returning the final job record. A request that fails
// validation records no job (as the API answers 400 or 404 before creating
// one) and returns the zero Job. A job that fails in a stage is recorded
// FAILED and returned together with a *StageError; one cancelled by ctx is
// recorded FAILED too, so it never stays RUNNING.
func (m *Mapper) Run(ctx context.Context, req Request) (pipeline.Job, error) {
	if m.Retriever == nil {
		return pipeline.Job{}, errors.New("mapper: no retriever configured")
	}
	v, err := m.validate(ctx, "", req)
	if err != nil {
		return pipeline.Job{}, err
	}
	now := m.now()
	job := pipeline.Job{
		JobID: m.newID(), Status: pipeline.JobPending, ControlKey: req.ControlKey, TargetFrameworkKey: req.FrameworkKey,
		TargetControlIDs: req.TargetControlIDs, CreatedAt: now.Format(TimeLayout), UpdatedAt: now.Format(TimeLayout),
		TTL: now.Add(JobTTL).Unix(),
	}
	if err := m.Store.PutJob(ctx, job); err != nil {
		return pipeline.Job{}, fmt.Errorf("recording the job: %w", err)
	}
	job.Status, job.UpdatedAt = pipeline.JobRunning, m.now().Format(TimeLayout)
	if err := m.Store.PutJob(ctx, job); err != nil {
		return job, fmt.Errorf("recording the job: %w", err)
	}
	res, runErr := m.run(ctx, job.JobID, req, v)
	// The final record is written even when ctx was cancelled.
	wctx := context.WithoutCancel(ctx)
	ts := m.now().Format(TimeLayout)
	job.UpdatedAt = ts
	if runErr != nil {
		job.Status, job.FailedAt, job.ErrorMessage = pipeline.JobFailed, ts, runErr.Error()
		if errors.Is(runErr, context.Canceled) {
			job.ErrorMessage = "interrupted before completion: " + runErr.Error()
		}
	} else {
		job.Status, job.CompletedAt = pipeline.JobCompleted, ts
		job.Mappings = MappingRecords(res.Mappings)
	}
	if err := m.Store.PutJob(wctx, job); err != nil {
		return job, errors.Join(runErr, fmt.Errorf("recording the job: %w", err))
	}
	return job, runErr
}

type validated struct {
	control   pipeline.Control
	framework pipeline.Framework
	targets   []pipeline.Control
}

func (m *Mapper) validate(ctx context.Context, jobID string, req Request) (validated, error) {
	var v validated
	err := m.stage(ctx, jobID, StageValidate, func() (string, error) {
		var err error
		v.control, v.framework, err = ValidateControl(ctx, m.Store, req.ControlKey, req.FrameworkKey)
		if err != nil {
			return "", err
		}
		// The targets are checked here too, so that an unknown target id is
		// a validation error rather than a failed job.
		_, err = FetchTargets(ctx, m.Store, req.FrameworkKey, req.TargetControlIDs)
		return "", err
	})
	return v, err
}

func (m *Mapper) run(ctx context.Context, jobID string, req Request, v validated) (Result, error) {
	res := Result{Framework: v.framework}
	var (
		enr    pipeline.Enrichment
		cached bool
	)
	steps := []struct {
		name string
		fn   func() (string, error)
	}{
		{StageCheckEnrichment, func() (string, error) {
			var err error
			enr, cached, err = CheckEnrichment(ctx, m.Store, v.control.Key)
			if cached {
				return "cached", err
			}
			return "none cached", err
		}},
		{StageEnrich, func() (string, error) {
			switch {
			case cached:
				return "using cached enrichment", nil
			case m.Enricher == nil:
				return "skipped: no enricher", nil
			}
			var err error
			enr, err = Enrich(ctx, m.Enricher, m.Store, v.control)
			cached = err == nil
			return "enriched", err
		}},
		{StageSourceText, func() (string, error) {
			var e *pipeline.Enrichment
			if cached {
				e = &enr
			}
			res.Source = SourceText(v.control, e)
			if res.Source.Enriched {
				return "enriched text", nil
			}
			return "title and statement", nil
		}},
		{StageFetchTargets, func() (string, error) {
			var err error
			v.targets, err = FetchTargets(ctx, m.Store, req.FrameworkKey, req.TargetControlIDs)
			return fmt.Sprintf("%d targets", len(v.targets)), err
		}},
		{StageRetrieve, func() (string, error) {
			if m.Retriever == nil {
				return "", errors.New("no retriever configured")
			}
			var err error
			res.Candidates, err = Retrieve(ctx, m.Retriever, res.Source, v.targets, req.TopK)
			return fmt.Sprintf("%d candidates", len(res.Candidates)), err
		}},
		{StageRerank, func() (string, error) {
			var err error
			res.Candidates, err = Rerank(ctx, m.Reranker, res.Source, res.Candidates, req.Threshold)
			if req.Threshold > 0 {
				return fmt.Sprintf("%d kept (threshold %g)", len(res.Candidates), req.Threshold), err
			}
			return fmt.Sprintf("%d kept", len(res.Candidates)), err
		}},
		{StageReason, func() (string, error) {
			if m.Reasoner == nil {
				return "skipped: no reasoner", nil
			}
			var err error
			res.Candidates, err = Reason(ctx, m.Reasoner, res.Source, res.Candidates, m.ReasonParallel)
			return fmt.Sprintf("%d reasoned", len(res.Candidates)), err
		}},
		{StageMerge, func() (string, error) {
			res.Mappings = Merge(req.FrameworkKey, res.Candidates)
			return fmt.Sprintf("%d mappings", len(res.Mappings)), nil
		}},
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return res, &StageError{Stage: s.name, Err: err}
		}
		if err := m.stage(ctx, jobID, s.name, s.fn); err != nil {
			return res, &StageError{Stage: s.name, Err: err}
		}
	}
	return res, nil
}

func (m *Mapper) stage(ctx context.Context, jobID, name string, fn func() (string, error)) error {
	if m.Observer != nil {
		m.Observer(Event{JobID: jobID, Stage: name})
	}
	start := time.Now()
	detail, err := fn()
	if err == nil {
		err = ctx.Err()
	}
	if m.Observer != nil {
		m.Observer(Event{JobID: jobID, Stage: name, Done: true, Duration: time.Since(start), Detail: detail, Err: err})
	}
	return err
}

func (m *Mapper) now() time.Time {
	if m.Now != nil {
		return m.Now().UTC()
	}
	return time.Now().UTC()
}

func (m *Mapper) newID() string {
	if m.NewID != nil {
		return m.NewID()
	}
	return NewUUID()
}

// NewUUID returns a random (version 4) UUID, the form of job ids.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// MappingRecords is the mappings as the MappingJobs table stores them:
// objects with the seed's snake_case field names.
func MappingRecords(ms []pipeline.ResultMapping) []map[string]any {
	out := make([]map[string]any, len(ms))
	for i, r := range ms {
		b, _ := json.Marshal(r)
		_ = json.Unmarshal(b, &out[i])
	}
	return out
}

// ResultMappings reads a job's stored mappings back (both the snake_case
// this package writes and the camelCase other writers have used).
func ResultMappings(records []map[string]any) []pipeline.ResultMapping {
	out := make([]pipeline.ResultMapping, 0, len(records))
	for _, m := range records {
		str := func(keys ...string) string {
			for _, k := range keys {
				if s, ok := m[k].(string); ok {
					return s
				}
			}
			return ""
		}
		num := func(keys ...string) float64 {
			for _, k := range keys {
				switch v := m[k].(type) {
				case float64:
					return v
				case json.Number:
					f, _ := v.Float64()
					return f
				case int:
					return float64(v)
				}
			}
			return 0
		}
		out = append(out, pipeline.ResultMapping{
			TargetControlKey:   str("target_control_key", "targetControlKey"),
			TargetControlID:    str("target_control_id", "targetControlId"),
			TargetFrameworkKey: str("target_framework_key", "targetFrameworkKey"),
			Title:              str("title"),
			Text:               str("text"),
			SimilarityScore:    num("similarity_score", "similarityScore"),
			RerankScore:        num("rerank_score", "rerankScore"),
			Reasoning:          str("reasoning"),
		})
	}
	return out
}
