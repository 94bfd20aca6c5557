package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/mapper"
)

// DLQEntry is a job parked after MaxAttempts failed runs (GET /api/v1/dlq).
type DLQEntry struct {
	JobID              string `json:"job_id"`
	ControlKey         string `json:"control_key"`
	TargetFrameworkKey string `json:"target_framework_key"`
	Attempts           int    `json:"attempts"`
	Error              string `json:"error"`
	ParkedAt           string `json:"parked_at"`
}

// DLQ is GET /api/v1/dlq: the parked jobs, oldest first.
type DLQ struct {
	MessageCount int        `json:"dlq_message_count"`
	Messages     []DLQEntry `json:"messages"`
}

// Parked returns the jobs parked so far, oldest first.
func (s *Server) Parked() []DLQEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]DLQEntry(nil), s.parked...)
}

func (s *Server) worker() {
	defer s.workers.Done()
	for {
		// Stopping wins over a queued job: what is left stays PENDING.
		select {
		case <-s.stop:
			return
		default:
		}
		select {
		case <-s.stop:
			return
		case id := <-s.queue:
			s.process(id)
		}
	}
}

// process runs one job: RUNNING, up to MaxAttempts runs, then COMPLETED,
// or FAILED and parked; a run cut short by shutdown goes back to PENDING.
func (s *Server) process(id string) {
	ctx := s.workCtx
	wctx := context.WithoutCancel(ctx)
	j, err := s.cfg.Store.Job(wctx, id)
	if err != nil {
		s.logf("nexus serve: job %s: %v", id, err)
		return
	}
	if j.Status.Terminal() {
		return
	}
	j.Status, j.UpdatedAt = pipeline.JobRunning, s.ts()
	if err := s.cfg.Store.PutJob(wctx, j); err != nil {
		s.logf("nexus serve: job %s: recording RUNNING: %v", id, err)
		return
	}
	req := mapper.Request{ControlKey: j.ControlKey, FrameworkKey: j.TargetFrameworkKey,
		Options: mapper.Options{TopK: s.cfg.TopK, Threshold: s.cfg.Threshold, TargetControlIDs: j.TargetControlIDs}}
	var runErr error
	for attempt := 1; attempt <= s.cfg.MaxAttempts; attempt++ {
		var res mapper.Result
		res, runErr = s.runOnce(ctx, req)
		if runErr == nil {
			ts := s.ts()
			j.Status, j.UpdatedAt, j.CompletedAt = pipeline.JobCompleted, ts, ts
			j.Mappings = mapper.MappingRecords(res.Mappings)
			if err := s.cfg.Store.PutJob(wctx, j); err != nil {
				s.logf("nexus serve: job %s: recording COMPLETED: %v", id, err)
			}
			return
		}
		if ctx.Err() != nil {
			if err := s.backToPending(wctx, id); err != nil {
				s.logf("nexus serve: job %s: %v", id, err)
			}
			return
		}
		s.logf("nexus serve: job %s: attempt %d of %d failed: %v", id, attempt, s.cfg.MaxAttempts, runErr)
		if attempt < s.cfg.MaxAttempts && s.cfg.RetryBackoff > 0 {
			select {
			case <-time.After(s.cfg.RetryBackoff):
			case <-ctx.Done():
				if err := s.backToPending(wctx, id); err != nil {
					s.logf("nexus serve: job %s: %v", id, err)
				}
				return
			}
		}
	}
	ts := s.ts()
	j.Status, j.UpdatedAt, j.FailedAt, j.ErrorMessage = pipeline.JobFailed, ts, ts, runErr.Error()
	if err := s.cfg.Store.PutJob(wctx, j); err != nil {
		s.logf("nexus serve: job %s: recording FAILED: %v", id, err)
	}
	s.mu.Lock()
	s.parked = append(s.parked, DLQEntry{JobID: id, ControlKey: j.ControlKey, TargetFrameworkKey: j.TargetFrameworkKey,
		Attempts: s.cfg.MaxAttempts, Error: runErr.Error(), ParkedAt: ts})
	s.mu.Unlock()
}

func (s *Server) runOnce(ctx context.Context, req mapper.Request) (res mapper.Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	m, err := s.mapper(ctx, req.FrameworkKey)
	if err != nil {
		return mapper.Result{}, err
	}
	return m.Map(ctx, req)
}

// mapper returns the framework's mapper, building it once; a failed build
// is not kept, so the next attempt builds again.
func (s *Server) mapper(ctx context.Context, fw string) (*mapper.Mapper, error) {
	if s.cfg.NewMapper == nil {
		return nil, errors.New("no mapper configured")
	}
	s.mappersMu.Lock()
	e := s.mappers[fw]
	if e == nil {
		e = &mapperEntry{}
		s.mappers[fw] = e
	}
	s.mappersMu.Unlock()
	e.once.Do(func() { e.m, e.err = s.cfg.NewMapper(ctx, fw) })
	if e.err != nil {
		s.mappersMu.Lock()
		if s.mappers[fw] == e {
			delete(s.mappers, fw)
		}
		s.mappersMu.Unlock()
		return nil, fmt.Errorf("preparing the scorers for %s: %w", fw, e.err)
	}
	return e.m, nil
}

// invalidateMappers drops the cached mappers: the rankers learn from the
// approved mappings, which a mapping write may have changed.
func (s *Server) invalidateMappers() {
	s.mappersMu.Lock()
	s.mappers = map[string]*mapperEntry{}
	s.mappersMu.Unlock()
}
