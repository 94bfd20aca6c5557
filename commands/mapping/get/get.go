// Package get is `nexus mapping get`.
package get

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/apiclient"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/mapping/shared"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/pipeline"
)

// Options are the inputs of `nexus mapping get`.
type Options struct {
	IO      *iostreams.IOStreams
	Printer func() (*printer.Printer, error)
	API     *apiclient.Source
	Context context.Context

	Args []string
}

// NewCmd builds `nexus mapping get`. runF replaces Run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Printer: f.Printer, API: apiclient.NewSource(f)}
	cmd := &cobra.Command{
		Use:   "get SOURCE|TARGET | get SOURCE TARGET",
		Short: "Show one mapping from the Nexus API",
		Long: `Show one mapping of the ControlMappings table through the Nexus API
(GET /api/v1/mappings/{mappingKey}): its controls, review status, scores and reasoning.
Name it by its mapping key SOURCE|TARGET (quoted) or by the two control keys. A mapping
that does not exist exits 5.`,
		Example: `  nexus mapping get 'AWS.ControlCatalog#1.0#RDS_STORAGE_ENCRYPTED|NIST-SP-800-53#R5#SC-28'
  nexus mapping get AWS.ControlCatalog#1.0#RDS_STORAGE_ENCRYPTED NIST-SP-800-53#R5#SC-28 -o json`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Args = args
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

// Run shows the mapping.
func Run(opts *Options) error {
	key, err := shared.Key(opts.Args)
	if err != nil {
		return err
	}
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	c, err := opts.API.Mapping(opts.Context)
	if err != nil {
		return err
	}
	m, err := c.GetMapping(opts.Context, key)
	if err != nil {
		return apiclient.Err(err)
	}
	return Print(p, m)
}

// Print shows one mapping.
func Print(p *printer.Printer, m pipeline.Mapping) error {
	return p.Print(m, func() printer.Table { return printer.Table{Detail: true, Rows: shared.Detail(m)} })
}
