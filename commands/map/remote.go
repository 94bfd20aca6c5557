package mapcmd

import (
	"fmt"
	"time"

	"github.com/nexus-compliance/nexus/commands/apiclient"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/map/shared"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/api"
)

// runRemote submits the mapping to the Nexus API and, unless --no-wait,
// polls it to its end, printing what local mode prints.
func runRemote(opts *Options, p *printer.Printer) error {
	ctx := opts.Context
	c, err := opts.API.Mapping(ctx)
	if err != nil {
		return err
	}
	acc, err := c.SubmitMapping(ctx, api.MappingRequest{ControlKey: opts.ControlKey, TargetFrameworkKey: opts.Framework, TargetControlIDs: opts.Targets})
	if err != nil {
		return apiclient.Err(err)
	}
	if opts.NoWait {
		if p.IsStructured() {
			return p.Print(acc, nil)
		}
		fmt.Fprintln(opts.IO.Out, acc.MappingID)
		if opts.IO.IsStderrTTY() {
			fmt.Fprintf(opts.IO.ErrOut, "Submitted; follow it with `nexus job wait %s`\n", acc.MappingID)
		}
		return nil
	}
	st, elapsed, err := shared.WaitRemote(ctx, opts.IO, c, acc.MappingID, "Mapping "+controlID(opts.ControlKey), opts.PollInterval)
	if err != nil {
		return apiclient.Err(err)
	}
	return PrintRemote(opts.IO, p, st, elapsed, opts.Framework)
}

// PrintRemote prints a terminal status as local mode prints a job: the
// mappings table or the COMPLETED response, or the FAILED response and
// exit 3.
func PrintRemote(ios *iostreams.IOStreams, p *printer.Printer, st api.JobStatus, elapsed time.Duration, framework string) error {
	if st.Status != string(pipeline.JobCompleted) {
		f := shared.StatusFailed(st)
		if p.IsStructured() {
			if err := p.Print(f, nil); err != nil {
				return err
			}
		}
		return &cmdutil.ProblemsError{Msg: fmt.Sprintf("mapping job %s failed: %s", st.MappingID, f.Error)}
	}
	resp := shared.StatusCompleted(st)
	results := make([]pipeline.ResultMapping, 0, len(resp.Result.Mappings))
	for _, m := range resp.Result.Mappings {
		results = append(results, pipeline.ResultMapping{TargetControlKey: m.TargetControlKey, TargetControlID: m.TargetControlID,
			TargetFrameworkKey: st.TargetFrameworkKey, SimilarityScore: m.SimilarityScore, RerankScore: m.RerankScore, Reasoning: m.Reasoning})
	}
	if err := p.Print(resp, func() printer.Table { return Table(results, ios) }); err != nil {
		return err
	}
	if !p.IsStructured() {
		if len(results) == 0 {
			fmt.Fprintf(ios.ErrOut, "No control of %s scored at or above the threshold.\n", framework)
		}
		if ios.IsStderrTTY() {
			fmt.Fprintf(ios.ErrOut, "%d mappings in %s · job %s (nexus job get %s)\n", len(results), shared.FormatDuration(elapsed), st.MappingID, st.MappingID)
		}
	}
	return nil
}

func controlID(key string) string {
	_, id, err := pipeline.SplitControlKey(key)
	if err != nil {
		return key
	}
	return id
}
