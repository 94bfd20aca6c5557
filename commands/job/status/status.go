// Package status is `nexus job status`.
package status

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/apiclient"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/pipeline/api"
)

// Options are the inputs of `nexus job status`.
type Options struct {
	IO      *iostreams.IOStreams
	Printer func() (*printer.Printer, error)
	API     *apiclient.Source
	Context context.Context

	JobID string
}

// NewCmd builds `nexus job status`. runF replaces Run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Printer: f.Printer, API: apiclient.NewSource(f)}
	cmd := &cobra.Command{
		Use:   "status MAPPING_ID",
		Short: "Ask the Nexus API for a mapping job's status, once",
		Long: `Ask the Nexus API (GET /api/v1/mappings/{mappingId}) for a job's status once and print it:
PENDING or RUNNING with their timestamps, COMPLETED with its mappings, FAILED with its
error. The exit status is 0 whatever the job's status; ` + "`nexus job wait`" + ` waits for the end.
A job the API does not know exits 5.`,
		Example: `  nexus job status 550e8400-e29b-41d4-a716-446655440000
  nexus job status 550e8400-e29b-41d4-a716-446655440000 -o json | jq -r .status`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
				return cmdutil.FlagErrorf("expected one MAPPING_ID, e.g. nexus job status 550e8400-e29b-41d4-a716-446655440000")
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
	return cmd
}

// Run prints the status.
func Run(opts *Options) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	c, err := opts.API.Mapping(opts.Context)
	if err != nil {
		return err
	}
	st, err := c.JobStatus(opts.Context, opts.JobID)
	if err != nil {
		return apiclient.Err(err)
	}
	return Print(opts.IO, p, st)
}

// Print shows a job status: its fields, then a COMPLETED job's mappings.
func Print(ios *iostreams.IOStreams, p *printer.Printer, st api.JobStatus) error {
	if err := p.Print(st, func() printer.Table { return Detail(st) }); err != nil {
		return err
	}
	if p.IsStructured() || st.Result == nil || len(st.Result.Mappings) == 0 {
		return nil
	}
	if ios.IsStdoutTTY() {
		fmt.Fprintln(ios.Out)
	}
	return p.Print(nil, func() printer.Table { return Mappings(st.Result.Mappings) })
}

// Detail is the describe view of a job status.
func Detail(st api.JobStatus) printer.Table {
	rows := [][]string{{"Mapping ID", st.MappingID}, {"Status", st.Status}}
	for _, r := range [][2]string{{"Control", st.ControlKey}, {"Framework", st.TargetFrameworkKey}, {"Created", st.CreatedAt}, {"Updated", st.UpdatedAt}, {"Error", st.Error}} {
		if r[1] != "" {
			rows = append(rows, []string{r[0], r[1]})
		}
	}
	if st.Result != nil {
		rows = append(rows, []string{"Mappings", fmt.Sprint(len(st.Result.Mappings))})
	}
	return printer.Table{Detail: true, Rows: rows}
}

// Mappings lists a COMPLETED job's mappings.
func Mappings(ms []api.ResultMapping) printer.Table {
	t := printer.Table{Headers: []string{"TARGET", "SIMILARITY", "RERANK", "REASONING"}}
	for _, m := range ms {
		t.Rows = append(t.Rows, []string{m.TargetControlKey, fmt.Sprintf("%.3f", m.SimilarityScore), fmt.Sprintf("%.3f", m.RerankScore), m.Reasoning})
	}
	return t
}
