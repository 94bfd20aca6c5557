package batch

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nexus-compliance/nexus/commands/apiclient"
	"github.com/nexus-compliance/nexus/commands/map/shared"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/api"
)

// runRemote submits the items to the Nexus API, --concurrency at a time,
// polls each to its end and records its line as it finishes. Every worker
// waits on one shared back-off when any of them is answered 429.
func runRemote(ctx context.Context, opts *Options, c api.MappingAPI, todo []Item, record func(any, bool)) {
	b := opts.Backoff
	if b == nil {
		b = &apiclient.Backoff{}
	}
	interval := opts.PollInterval
	if interval <= 0 {
		interval = apiclient.DefaultPollInterval
	}
	work := make(chan Item)
	var wg sync.WaitGroup
	for range opts.Concurrency {
		wg.Go(func() {
			for it := range work {
				if ctx.Err() != nil {
					continue
				}
				remoteOne(ctx, c, b, interval, it, record)
			}
		})
	}
feed:
	for _, it := range todo {
		select {
		case work <- it:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
}

func remoteOne(ctx context.Context, c api.MappingAPI, b *apiclient.Backoff, interval time.Duration, it Item, record func(any, bool)) {
	failed := shared.Failed{Status: string(pipeline.JobFailed), ControlKey: it.ControlKey, TargetFrameworkKey: it.Framework}
	if err := pipeline.ValidateControlKey(it.ControlKey); err != nil {
		failed.Error = fmt.Sprintf("input line %d: %v", it.Line, err)
		record(failed, false)
		return
	}
	acc, err := apiclient.Do(ctx, b, apiclient.Throttled, func() (api.Accepted, error) {
		return c.SubmitMapping(ctx, api.MappingRequest{ControlKey: it.ControlKey, TargetFrameworkKey: it.Framework, TargetControlIDs: it.Targets})
	})
	if err != nil {
		if ctx.Err() == nil {
			failed.Error = apiclient.Err(err).Error()
			record(failed, false)
		}
		return
	}
	failed.MappingID = acc.MappingID
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return // no line: --resume submits it again
		case <-t.C:
		}
		st, err := apiclient.Do(ctx, b, apiclient.Throttled, func() (api.JobStatus, error) { return c.JobStatus(ctx, acc.MappingID) })
		if err != nil {
			if ctx.Err() == nil {
				failed.Error = apiclient.Err(err).Error()
				record(failed, false)
			}
			return
		}
		switch st.Status {
		case string(pipeline.JobCompleted):
			resp := shared.StatusCompleted(st)
			resp.ControlKey, resp.TargetFrameworkKey = it.ControlKey, it.Framework
			record(resp, true)
			return
		case string(pipeline.JobFailed):
			f := shared.StatusFailed(st)
			failed.Error = f.Error
			record(failed, false)
			return
		}
		t.Reset(interval)
	}
}
