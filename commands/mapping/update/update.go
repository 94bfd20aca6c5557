// Package update is `nexus mapping update`.
package update

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/apiclient"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/mapping/get"
	"github.com/nexus-compliance/nexus/commands/mapping/shared"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/api"
)

// Options are the inputs of `nexus mapping update`.
type Options struct {
	IO      *iostreams.IOStreams
	Printer func() (*printer.Printer, error)
	API     *apiclient.Source
	Context context.Context

	Args      []string
	Status    string
	Reasoning string
	DryRun    bool
}

// NewCmd builds `nexus mapping update`. runF replaces Run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Printer: f.Printer, API: apiclient.NewSource(f)}
	cmd := &cobra.Command{
		Use:   "update SOURCE|TARGET [--status S] [--reasoning TEXT]",
		Short: "Review a mapping through the Nexus API: set its status or reasoning",
		Long: `Change a mapping through the Nexus API (PUT /api/v1/mappings/{mappingKey}): its review
status (APPROVED, PENDING_REVIEW or REJECTED; archive with ` + "`nexus mapping archive`" + `) and
its reasoning. Fields not given are left as they are. Prints the updated mapping;
--dry-run prints the request instead of sending it.`,
		Example: `  nexus mapping update 'AWS.ControlCatalog#1.0#RDS_STORAGE_ENCRYPTED|NIST-SP-800-53#R5#SC-28' --status APPROVED
  nexus mapping update AWS.ControlCatalog#1.0#RDS_STORAGE_ENCRYPTED NIST-SP-800-53#R5#SC-28 --reasoning "Both require encryption at rest."`,
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
	cmd.Flags().StringVarP(&opts.Status, "status", "s", "", "new review status: APPROVED, PENDING_REVIEW or REJECTED")
	cmd.Flags().StringVar(&opts.Reasoning, "reasoning", "", "new reasoning text")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print the update without sending it")
	return cmd
}

// Run updates the mapping.
func Run(opts *Options) error {
	key, err := shared.Key(opts.Args)
	if err != nil {
		return err
	}
	var u api.MappingUpdate
	if opts.Status != "" {
		st, err := pipeline.ParseMappingStatus(opts.Status)
		if err != nil {
			return &cmdutil.FlagError{Err: err}
		}
		if st == pipeline.MappingArchived {
			return cmdutil.FlagErrorf("archive a mapping with `nexus mapping archive %q`", key)
		}
		u.Status = st
	}
	u.Reasoning = opts.Reasoning
	if u.Status == "" && u.Reasoning == "" {
		return cmdutil.FlagErrorf("nothing to update: give --status and/or --reasoning")
	}
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	if opts.DryRun {
		fmt.Fprintf(opts.IO.ErrOut, "Dry run: would send PUT /api/v1/mappings/%s\n", key)
		return p.Print(u, func() printer.Table {
			return printer.Table{Detail: true, Rows: [][]string{{"Mapping key", key}, {"Status", string(u.Status)}, {"Reasoning", u.Reasoning}}}
		})
	}
	c, err := opts.API.Mapping(opts.Context)
	if err != nil {
		return err
	}
	m, err := c.UpdateMapping(opts.Context, key, u)
	if err != nil {
		return apiclient.Err(err)
	}
	return get.Print(p, m)
}
