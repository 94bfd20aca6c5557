package apiclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/api"
)

// DefaultPollInterval is --poll-interval's default.
const DefaultPollInterval = 2 * time.Second

// Terminal says whether a job status is final.
func Terminal(status string) bool {
	return status == string(pipeline.JobCompleted) || status == string(pipeline.JobFailed)
}

// TimeoutError says a wait ran past --timeout while the job went on; it
// exits 1 and names the command that picks the wait up again.
type TimeoutError struct {
	MappingID string
	Status    string
	Waited    time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("mapping %s is still %s after %s (--timeout); it goes on on the server: check it later with `nexus job wait %s`",
		e.MappingID, e.Status, e.Waited.Round(time.Millisecond), e.MappingID)
}

// Wait polls GET /api/v1/mappings/{id} every interval until the job is
// COMPLETED or FAILED, calling observe with every status read. A deadline
// (--timeout) ends the wait with a *TimeoutError; a cancellation with the
// context's error.
func Wait(ctx context.Context, c api.MappingAPI, id string, interval time.Duration, observe func(api.JobStatus)) (api.JobStatus, error) {
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	start := time.Now()
	last := api.JobStatus{MappingID: id, Status: string(pipeline.JobPending)}
	timeout := func() (api.JobStatus, error) {
		return last, &TimeoutError{MappingID: id, Status: last.Status, Waited: time.Since(start)}
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return timeout()
			}
			return last, ctx.Err()
		case <-t.C:
		}
		st, err := c.JobStatus(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				if errors.Is(ctx.Err(), context.DeadlineExceeded) {
					return timeout()
				}
				return last, ctx.Err()
			}
			return last, err
		}
		last = st
		if observe != nil {
			observe(st)
		}
		if Terminal(st.Status) {
			return st, nil
		}
		t.Reset(interval)
	}
}
