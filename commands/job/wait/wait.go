// Package wait is `nexus job wait`.
package wait

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/apiclient"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/job/status"
	"github.com/nexus-compliance/nexus/commands/map/shared"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/pipeline"
)

// Options are the inputs of `nexus job wait`.
type Options struct {
	IO      *iostreams.IOStreams
	Printer func() (*printer.Printer, error)
	API     *apiclient.Source
	Context context.Context

	JobID        string
	PollInterval time.Duration
}

// NewCmd builds `nexus job wait`. runF replaces Run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Printer: f.Printer, API: apiclient.NewSource(f)}
	cmd := &cobra.Command{
		Use:   "wait MAPPING_ID",
		Short: "Wait for a mapping job of the Nexus API to complete or fail",
		Long: `Poll the Nexus API every --poll-interval until the job is COMPLETED or FAILED (on a
terminal a spinner shows its status and the time waited), then print it as
` + "`nexus job status`" + ` does. The exit status is 0 for COMPLETED, 3 for FAILED, and 1 when
--timeout ends the wait first (the job goes on; wait again later).`,
		Example: `  nexus job wait 550e8400-e29b-41d4-a716-446655440000
  nexus job wait 550e8400-e29b-41d4-a716-446655440000 --timeout 10m --poll-interval 5s -o json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
				return cmdutil.FlagErrorf("expected one MAPPING_ID, e.g. nexus job wait 550e8400-e29b-41d4-a716-446655440000")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.JobID = strings.TrimSpace(args[0])
			ctx, cancel := f.Context(cmd.Context())
			defer cancel()
			opts.Context = ctx
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	apiclient.AddFlag(cmd, opts.API)
	cmd.Flags().DurationVar(&opts.PollInterval, "poll-interval", apiclient.DefaultPollInterval, "how often to ask the API for the job's status")
	return cmd
}

// Run waits for the job.
func Run(opts *Options) error {
	if opts.PollInterval < 0 {
		return cmdutil.FlagErrorf("--poll-interval must not be negative")
	}
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	c, err := opts.API.Mapping(opts.Context)
	if err != nil {
		return err
	}
	st, _, err := shared.WaitRemote(opts.Context, opts.IO, c, opts.JobID, "Job "+opts.JobID, opts.PollInterval)
	if err != nil {
		return apiclient.Err(err)
	}
	if err := status.Print(opts.IO, p, st); err != nil {
		return err
	}
	if st.Status == string(pipeline.JobFailed) {
		msg := st.Error
		if msg == "" {
			msg = "the job failed"
		}
		return &cmdutil.ProblemsError{Msg: fmt.Sprintf("mapping job %s failed: %s", st.MappingID, msg)}
	}
	return nil
}
