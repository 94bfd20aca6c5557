// Package scan is `nexus db scan`.
package scan

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/dynamo"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/db/shared"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/commands/settings"
)

// Options are the inputs of `nexus db scan`.
type Options struct {
	IO       *iostreams.IOStreams
	Printer  func() (*printer.Printer, error)
	DynamoDB func(context.Context) (dynamo.ReadAPI, error)
	Tables   func() (settings.Tables, error)
	Context  context.Context

	Table    string
	Segments int
	shared.FilterFlags
	shared.PageFlags
}

// NewCmd builds `nexus db scan`. runF replaces Run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{
		IO:       f.IOStreams,
		Printer:  f.Printer,
		DynamoDB: shared.Client[dynamo.ReadAPI](f),
		Tables:   shared.TablesFunc(f),
	}
	cmd := &cobra.Command{
		Use:   "scan TABLE",
		Short: "Read a table's items page by page",
		Long: `Scan a table (or one of its indexes), printing items as pages arrive: nothing loads the
whole table. TABLE is a logical name (jobs, mappings, enrichment, embedding_cache,
frameworks, controls) or a real table name.

Items print as plain JSON with -o json|jsonl|yaml (numbers keep every digit), or as
DynamoDB JSON with --raw. The table view shows the keys and a few other attributes, or
--columns.

--limit (default 100) stops as soon as that many items are printed and prints a token on
stderr; pass it to --starting-token to go on. --segments N scans N segments in parallel
(at most 16 at once); items then arrive in no particular order and --limit stays exact.`,
		Example: `  # The first 100 jobs
  nexus db scan jobs

  # Failed jobs of one control, as JSON lines
  nexus db scan jobs --where status=FAILED \
    --where control_key=AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED -o jsonl

  # A raw filter with placeholders
  nexus db scan mappings --filter '#s = :s AND rerank_score >= :min' \
    --names '#s=status' --values '{":s":"PENDING_REVIEW",":min":0.9}'

  # Everything, 8 segments in parallel, only two attributes
  nexus db scan controls --limit 0 --segments 8 --projection frameworkKey,controlKey -o jsonl`,
		Args:              shared.TableArgs(0, "TABLE"),
		ValidArgsFunction: shared.CompleteTable(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Table = args[0]
			ctx, cancel := f.Context(cmd.Context())
			defer cancel()
			opts.Context = ctx
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	shared.AddFilterFlags(cmd, &opts.FilterFlags)
	shared.AddPageFlags(cmd, &opts.PageFlags)
	cmd.Flags().IntVar(&opts.Segments, "segments", 1, "scan this many segments in parallel")
	_ = cmd.RegisterFlagCompletionFunc("index", shared.CompleteIndex(f))
	return cmd
}

// Run scans.
func Run(opts *Options) error {
	ctx := opts.Context
	tables, err := opts.Tables()
	if err != nil {
		return err
	}
	name, logical := shared.ResolveTable(tables, opts.Table)
	api, err := opts.DynamoDB(ctx)
	if err != nil {
		return err
	}
	tbl, err := shared.Schema(ctx, api, name, logical)
	if err != nil {
		return err
	}
	req, b, err := shared.Request(tbl, &opts.FilterFlags, &opts.PageFlags, opts.Segments)
	if err != nil {
		return err
	}
	req.Names, req.Values = b.Names(), b.Values()
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	return shared.ReadItems(ctx, opts.IO, p, api, req, &opts.PageFlags, "Scanning "+name)
}
