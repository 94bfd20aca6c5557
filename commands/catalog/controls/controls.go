// Package controls is `nexus catalog controls`.
package controls

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	catshared "github.com/nexus-compliance/nexus/commands/catalog/shared"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	dbshared "github.com/nexus-compliance/nexus/commands/db/shared"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/mapper"
)

// Options are the inputs of `nexus catalog controls`.
type Options struct {
	IO      *iostreams.IOStreams
	Printer func() (*printer.Printer, error)
	Open    catshared.Opener
	Context context.Context

	Framework string
	Withdrawn bool
	Store     string
}

// NewCmd builds `nexus catalog controls`. runF replaces Run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Printer: f.Printer}
	opts.Open = catshared.NewOpener(f, &opts.Store)
	cmd := &cobra.Command{
		Use:   "controls FW_KEY",
		Short: "List the controls of a framework",
		Long: `List the controls of one framework in catalog order (AC-2, AC-2(1), … AC-10): id, title
and family. Withdrawn controls are left out unless --withdrawn is given; the mapper never
maps to them.`,
		Example: `  nexus catalog controls NIST-SP-800-53#R5
  nexus catalog controls NIST-SP-800-53#R5 --withdrawn -o jsonl | jq -r 'select(.withdrawn) | .controlId'
  nexus catalog controls AWS.ControlCatalog#1.0`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cmdutil.FlagErrorf("expected one FW_KEY, e.g. nexus catalog controls %s", pipeline.ExampleFrameworkKey)
			}
			return nil
		},
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return catshared.CompleteFrameworks(opts.Open)(cmd, args, toComplete)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Framework = args[0]
			ctx, cancel := f.Context(cmd.Context())
			defer cancel()
			opts.Context = ctx
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Withdrawn, "withdrawn", false, "include withdrawn controls")
	catshared.AddStoreFlag(cmd, &opts.Store)
	return cmd
}

// Run lists the controls.
func Run(opts *Options) error {
	if err := pipeline.ValidateFrameworkKey(opts.Framework); err != nil {
		return &cmdutil.FlagError{Err: err}
	}
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	ctx := opts.Context
	store, err := opts.Open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	catshared.NoteSeeded(opts.IO, store)
	if _, err := store.Framework(ctx, opts.Framework); err != nil {
		if errors.Is(err, pipeline.ErrNotFound) {
			return FrameworkNotFound(ctx, store, opts.Framework)
		}
		return err
	}
	all, err := store.Controls(ctx, opts.Framework)
	if err != nil {
		return err
	}
	out := make([]pipeline.Control, 0, len(all))
	hidden := 0
	for _, c := range all {
		if c.Withdrawn && !opts.Withdrawn {
			hidden++
			continue
		}
		out = append(out, c)
	}
	if err := p.Print(out, func() printer.Table { return table(out, opts.Withdrawn, opts.IO.IsStdoutTTY()) }); err != nil {
		return err
	}
	if !p.IsStructured() && opts.IO.IsStderrTTY() {
		msg := fmt.Sprintf("%d controls", len(out))
		if hidden > 0 {
			msg += fmt.Sprintf(" (%d withdrawn not shown; --withdrawn lists them)", hidden)
		}
		fmt.Fprintln(opts.IO.ErrOut, msg)
	}
	return nil
}

// FrameworkNotFound is the not-found error for a framework key, listing the
// frameworks the store holds.
func FrameworkNotFound(ctx context.Context, store pipeline.Catalog, key string) error {
	nf := &mapper.FrameworkNotFoundError{Key: key}
	fws, err := store.Frameworks(ctx)
	if err != nil {
		return err
	}
	for _, fw := range fws {
		nf.Available = append(nf.Available, fw.Key)
	}
	return catshared.Err(nf)
}

func table(cs []pipeline.Control, withdrawn, tty bool) printer.Table {
	t := printer.Table{Headers: []string{"ID", "TITLE", "FAMILY"}}
	if withdrawn {
		t.Headers = append(t.Headers, "STATUS")
	}
	for _, c := range cs {
		title := c.Title
		if tty {
			title = dbshared.Truncate(title, 70)
		}
		row := []string{c.ID, title, c.Family}
		if withdrawn {
			st := "live"
			if c.Withdrawn {
				st = "withdrawn"
			}
			row = append(row, st)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}
