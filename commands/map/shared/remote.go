package shared

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nexus-compliance/nexus/commands/apiclient"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/api"
	"github.com/nexus-compliance/nexus/pipeline/mapper"
)

// WaitRemote polls a job of the API to its end, showing its status and
// the time waited on a spinner when stderr is a terminal.
func WaitRemote(ctx context.Context, ios *iostreams.IOStreams, c api.MappingAPI, id, label string, interval time.Duration) (api.JobStatus, time.Duration, error) {
	start := time.Now()
	spin := StartSpinner(ios, label)
	var (
		mu     sync.Mutex
		status = "SUBMITTED"
		done   = make(chan struct{})
		wg     sync.WaitGroup
	)
	show := func() {
		mu.Lock()
		s := status
		mu.Unlock()
		spin.Observe(mapper.Event{Stage: fmt.Sprintf("%s · %s", s, time.Since(start).Round(time.Second))})
	}
	if ios.IsStderrTTY() {
		show()
		wg.Go(func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					show()
				}
			}
		})
	}
	st, err := apiclient.Wait(ctx, c, id, interval, func(st api.JobStatus) {
		mu.Lock()
		status = st.Status
		mu.Unlock()
		show()
	})
	close(done)
	wg.Wait()
	spin.Stop()
	return st, time.Since(start), err
}

// Remote says whether a mapping goes to the API: --mode remote always
// (a usage error without an API URL), auto when an API URL is known.
func Remote(mode string, src *apiclient.Source) (bool, error) {
	switch mode {
	case "remote":
		if src.URL == nil {
			return false, apiclient.NoURLError("--mode remote")
		}
		u, err := src.URL()
		if err != nil {
			return false, err
		}
		if u == "" {
			return false, apiclient.NoURLError("--mode remote")
		}
		return true, nil
	case "auto":
		return src.Known(), nil
	}
	return false, nil
}

// StatusCompleted turns a COMPLETED status into local mode's response.
func StatusCompleted(st api.JobStatus) Completed {
	c := Completed{MappingID: st.MappingID, Status: st.Status, ControlKey: st.ControlKey, TargetFrameworkKey: st.TargetFrameworkKey}
	c.Result.Mappings = []ResponseMapping{}
	if st.Result != nil {
		for _, m := range st.Result.Mappings {
			c.Result.Mappings = append(c.Result.Mappings, ResponseMapping(m))
		}
	}
	return c
}

// StatusFailed turns a FAILED status into local mode's response.
func StatusFailed(st api.JobStatus) Failed {
	msg := st.Error
	if msg == "" {
		msg = "the job failed"
	}
	return Failed{MappingID: st.MappingID, Status: string(pipeline.JobFailed), Error: msg}
}
