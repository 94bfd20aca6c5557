// Package archive is `nexus mapping archive`.
package archive

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
)

// Options are the inputs of `nexus mapping archive`.
type Options struct {
	IO      *iostreams.IOStreams
	Printer func() (*printer.Printer, error)
	API     *apiclient.Source
	Context context.Context

	Args   []string
	Yes    bool
	DryRun bool
}

// NewCmd builds `nexus mapping archive`. runF replaces Run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Printer: f.Printer, API: apiclient.NewSource(f)}
	cmd := &cobra.Command{
		Use:   "archive SOURCE|TARGET",
		Short: "Archive a mapping through the Nexus API",
		Long: `Archive a mapping (PUT /api/v1/mappings/{mappingKey}/archive): its status becomes ARCHIVED
and it stops counting as approved evidence. On a terminal nexus asks first; elsewhere
--yes is required. --dry-run shows what would be archived and sends nothing.`,
		Example: `  nexus mapping archive 'AWS.ControlCatalog#1.0#RDS_STORAGE_ENCRYPTED|NIST-SP-800-53#R5#SC-28'
  nexus mapping archive AWS.ControlCatalog#1.0#RDS_STORAGE_ENCRYPTED NIST-SP-800-53#R5#SC-28 --yes`,
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
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "archive without asking")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "show what would be archived and send nothing")
	return cmd
}

// Run archives the mapping.
func Run(opts *Options) error {
	key, err := shared.Key(opts.Args)
	if err != nil {
		return err
	}
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	if opts.DryRun {
		fmt.Fprintf(opts.IO.Out, "Dry run: would archive %s (PUT /api/v1/mappings/%s/archive)\n", key, key)
		return nil
	}
	if !opts.Yes {
		if !opts.IO.CanPrompt() {
			return cmdutil.FlagErrorf("archiving %s needs --yes when nexus cannot ask on a terminal", key)
		}
		ok, err := opts.IO.Confirm(fmt.Sprintf("Archive mapping %s?", key))
		if err != nil {
			return err
		}
		if !ok {
			return cmdutil.CancelError
		}
	}
	c, err := opts.API.Mapping(opts.Context)
	if err != nil {
		return err
	}
	m, err := c.ArchiveMapping(opts.Context, key)
	if err != nil {
		return apiclient.Err(err)
	}
	return get.Print(p, m)
}
