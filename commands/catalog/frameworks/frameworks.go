// Package frameworks is `nexus catalog frameworks`.
package frameworks

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	catshared "github.com/nexus-compliance/nexus/commands/catalog/shared"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	dbshared "github.com/nexus-compliance/nexus/commands/db/shared"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/pipeline"
)

// Options are the inputs of `nexus catalog frameworks`.
type Options struct {
	IO      *iostreams.IOStreams
	Printer func() (*printer.Printer, error)
	Open    catshared.Opener
	Context context.Context

	Store string
}

// NewCmd builds `nexus catalog frameworks`. runF replaces Run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Printer: f.Printer}
	opts.Open = catshared.NewOpener(f, &opts.Store)
	cmd := &cobra.Command{
		Use:   "frameworks",
		Short: "List the frameworks of the catalog, with their control counts",
		Long: `List every framework of the catalog in --store (the local store by default): its key,
name and version, how many controls it holds and how many of those are withdrawn.`,
		Example: `  nexus catalog frameworks
  nexus catalog frameworks --store dynamodb --env prod -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := f.Context(cmd.Context())
			defer cancel()
			opts.Context = ctx
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	catshared.AddStoreFlag(cmd, &opts.Store)
	return cmd
}

// Framework is a framework with its counts.
type Framework struct {
	pipeline.Framework
	Controls  int `json:"controls"`
	Withdrawn int `json:"withdrawn"`
}

// Run lists the frameworks.
func Run(opts *Options) error {
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
	fws, err := store.Frameworks(ctx)
	if err != nil {
		return err
	}
	catshared.SortFrameworks(fws)
	out := make([]Framework, 0, len(fws))
	for _, fw := range fws {
		cs, err := store.Controls(ctx, fw.Key)
		if err != nil {
			return err
		}
		row := Framework{Framework: fw, Controls: len(cs)}
		for _, c := range cs {
			if c.Withdrawn {
				row.Withdrawn++
			}
		}
		out = append(out, row)
	}
	if len(out) == 0 && !p.IsStructured() {
		fmt.Fprintln(opts.IO.ErrOut, "The catalog holds no framework; import one with `nexus catalog import --oscal FILE`.")
	}
	return p.Print(out, func() printer.Table { return table(out, opts.IO.IsStdoutTTY()) })
}

func table(fws []Framework, tty bool) printer.Table {
	t := printer.Table{Headers: []string{"FRAMEWORK", "NAME", "VERSION", "CONTROLS", "WITHDRAWN", "TITLE"}}
	for _, fw := range fws {
		title := fw.Title
		if tty {
			title = dbshared.Truncate(title, 50)
		}
		t.Rows = append(t.Rows, []string{fw.Key, fw.Name, fw.Version, strconv.Itoa(fw.Controls), strconv.Itoa(fw.Withdrawn), title})
	}
	return t
}
