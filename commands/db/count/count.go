// Package count is `nexus db count`.
package count

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/dynamo"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/db/shared"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/commands/settings"
)

// Options are the inputs of `nexus db count`.
type Options struct {
	IO       *iostreams.IOStreams
	Printer  func() (*printer.Printer, error)
	DynamoDB func(context.Context) (dynamo.ReadAPI, error)
	Tables   func() (settings.Tables, error)
	Context  context.Context

	Table    string
	Key      string
	Segments int
	PageSize int32
	shared.FilterFlags
}

// Result is what -o json prints.
type Result struct {
	Table   string `json:"table"`
	Index   string `json:"index,omitempty"`
	Count   int    `json:"count"`
	Scanned int64  `json:"scanned"`
}

// NewCmd builds `nexus db count`. runF replaces Run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{
		IO:       f.IOStreams,
		Printer:  f.Printer,
		DynamoDB: shared.Client[dynamo.ReadAPI](f),
		Tables:   shared.TablesFunc(f),
	}
	cmd := &cobra.Command{
		Use:   "count TABLE",
		Short: "Count the items of a table, exactly, with optional filters",
		Long: `Count items exactly by reading the table (or an index, or one partition with --key) with
Select=COUNT, so no item crosses the network. --where and --filter count only matching
items; --segments N counts N segments in parallel. For a quick approximate figure,
'nexus db tables' shows DynamoDB's item count (refreshed about every six hours).

Off a terminal only the number is printed, so $(nexus db count jobs) works in scripts.`,
		Example: `  # Every job
  nexus db count jobs

  # Jobs still pending, counted in 8 parallel segments
  nexus db count jobs --where status=PENDING --segments 8

  # Mappings waiting for review, through the StatusIndex GSI
  nexus db count mappings --index StatusIndex --key status=PENDING_REVIEW`,
		Args:              shared.TableArgs(0, "TABLE"),
		ValidArgsFunction: shared.CompleteTable(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Table = args[0]
			if opts.Key != "" && opts.Segments > 1 {
				return cmdutil.FlagErrorf("--segments applies to scans; a count with --key is a query of one partition")
			}
			ctx, cancel := f.Context(cmd.Context())
			defer cancel()
			opts.Context = ctx
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Key, "key", "k", "", "count one partition: ATTR=VALUE of the table's or --index's partition key")
	cmd.Flags().IntVar(&opts.Segments, "segments", 1, "count this many scan segments in parallel")
	cmd.Flags().Int32Var(&opts.PageSize, "page-size", 0, "items evaluated per request (default: 1 MB pages)")
	shared.AddFilterFlags(cmd, &opts.FilterFlags)
	_ = cmd.RegisterFlagCompletionFunc("index", shared.CompleteIndex(f))
	return cmd
}

// Run counts.
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
	req, b, err := shared.Request(tbl, &opts.FilterFlags, nil, opts.Segments)
	if err != nil {
		return err
	}
	if opts.PageSize < 0 {
		return cmdutil.FlagErrorf("invalid --page-size %d: use a positive number", opts.PageSize)
	}
	req.PageSize = opts.PageSize
	if strings.TrimSpace(opts.Key) != "" {
		pk, _, err := tbl.Keys(opts.Index)
		if err != nil {
			return &cmdutil.FlagError{Err: err}
		}
		v, err := shared.KeyValue("--key", opts.Key, pk)
		if err != nil {
			return err
		}
		req.KeyCondition = b.Equal(pk.Name, v)
	}
	req.Names, req.Values = b.Names(), b.Values()

	spin := shared.Spinner(opts.IO, true, "Counting "+name)
	req.OnPage = func(scanned, _ int) { spin.Add(scanned) }
	res, err := dynamo.Count(ctx, api, req)
	spin.Stop()
	if err != nil {
		return shared.Err(err, name, logical)
	}
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	out := Result{Table: name, Index: opts.Index, Count: res.Items, Scanned: res.Scanned}
	if err := p.Print(out, func() printer.Table {
		return printer.Table{Headers: []string{"COUNT"}, Rows: [][]string{{strconv.Itoa(out.Count)}}}
	}); err != nil {
		return err
	}
	if !p.IsStructured() && opts.IO.IsStderrTTY() && req.Filter != "" {
		fmt.Fprintf(opts.IO.ErrOut, "(%d items evaluated)\n", out.Scanned)
	}
	return nil
}
