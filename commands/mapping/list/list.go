// Package list is `nexus mapping list`.
package list

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/dynamo"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	dbshared "github.com/nexus-compliance/nexus/commands/db/shared"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/commands/settings"
	"github.com/nexus-compliance/nexus/pipeline"
)

// Options are the inputs of `nexus mapping list`.
type Options struct {
	IO       *iostreams.IOStreams
	Printer  func() (*printer.Printer, error)
	DynamoDB func(context.Context) (dynamo.PagerAPI, error)
	Tables   func() (settings.Tables, error)
	Context  context.Context

	Control  string
	Status   string
	Limit    int
	PageSize int32
}

// NewCmd builds `nexus mapping list`. runF replaces Run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{
		IO:       f.IOStreams,
		Printer:  f.Printer,
		DynamoDB: dbshared.Client[dynamo.PagerAPI](f),
		Tables:   dbshared.TablesFunc(f),
	}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List control mappings by source control and review status",
		Long: `List the mappings of the ControlMappings table, read the cheapest way the filters allow:

  --control and --status   Query of the ControlStatusIndex GSI
  --control                Query of the table (one partition)
  --status                 Query of the StatusIndex GSI
  neither                  Scan of the table

Mappings stream out page by page; --limit (default 100) stops as soon as that many are
shown, and nothing loads the whole table.`,
		Example: `  # One AWS control's mappings
  nexus mapping list --control AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED

  # The review queue
  nexus mapping list --status PENDING_REVIEW --limit 50

  # One control's approved mappings, as JSON
  nexus mapping list --control AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED --status APPROVED -o json`,
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
	fl := cmd.Flags()
	fl.StringVarP(&opts.Control, "control", "c", "", "only mappings of this source control key (e.g. AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED)")
	fl.StringVarP(&opts.Status, "status", "s", "", "only mappings in this review status: APPROVED, PENDING_REVIEW, REJECTED or ARCHIVED")
	fl.IntVarP(&opts.Limit, "limit", "n", dbshared.DefaultLimit, "stop after this many mappings; 0 lists them all")
	fl.Int32Var(&opts.PageSize, "page-size", 0, "items DynamoDB evaluates per request (default: 1 MB pages)")
	statuses := make([]string, len(pipeline.MappingStatuses))
	for i, s := range pipeline.MappingStatuses {
		statuses[i] = string(s)
	}
	_ = cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(statuses, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Plan is how a listing reads the table: the index (or none) and the key
// condition (or none, for a Scan).
func Plan(b *dynamo.Builder, control string, status pipeline.MappingStatus) (index, keyCondition string) {
	switch {
	case control != "" && status != "":
		return dynamo.ControlStatusIndex, dynamo.And(b.Equal(dynamo.ControlKeyAttr, dynamo.S(control)), b.Equal(dynamo.StatusAttr, dynamo.S(string(status))))
	case control != "":
		return "", b.Equal(dynamo.ControlKeyAttr, dynamo.S(control))
	case status != "":
		return dynamo.StatusIndex, b.Equal(dynamo.StatusAttr, dynamo.S(string(status)))
	}
	return "", ""
}

// Run lists the mappings.
func Run(opts *Options) error {
	var status pipeline.MappingStatus
	if opts.Status != "" {
		st, err := pipeline.ParseMappingStatus(opts.Status)
		if err != nil {
			return &cmdutil.FlagError{Err: err}
		}
		status = st
	}
	if opts.Control != "" {
		if err := pipeline.ValidateControlKey(opts.Control); err != nil {
			return cmdutil.FlagErrorf("invalid --control: %v", err)
		}
	}
	if opts.Limit < 0 || opts.PageSize < 0 {
		return cmdutil.FlagErrorf("--limit and --page-size must not be negative")
	}
	ctx := opts.Context
	tables, err := opts.Tables()
	if err != nil {
		return err
	}
	api, err := opts.DynamoDB(ctx)
	if err != nil {
		return err
	}
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	b := dynamo.NewBuilder()
	index, keyCond := Plan(b, opts.Control, status)
	keys := []string{dynamo.ControlKeyAttr, dynamo.MappedControlKeyAttr}
	if index != "" {
		keys = append(keys, dynamo.StatusAttr)
	}
	req := dynamo.Request{
		Table: tables.Mappings, Index: index, KeyCondition: keyCond, Names: b.Names(), Values: b.Values(),
		Limit: opts.Limit, PageSize: opts.PageSize, KeyAttributes: keys,
	}
	tty := opts.IO.IsStdoutTTY()
	s := p.Stream([]string{"CONTROL", "MAPPED CONTROL", "STATUS", "SIMILARITY", "RERANK", "TIMESTAMP"})
	spin := dbshared.Spinner(opts.IO, !p.IsStructured() || p.Format() == printer.FormatYAML, "Reading "+tables.Mappings)
	req.OnPage = func(scanned, _ int) { spin.Add(scanned) }
	res, err := dynamo.Read(ctx, api, req, func(it dynamo.Item) error {
		var m pipeline.Mapping
		if err := attributevalue.UnmarshalMap(it, &m); err != nil {
			return fmt.Errorf("reading mapping %s → %s: %w", dynamo.Text(it[dynamo.ControlKeyAttr]), dynamo.Text(it[dynamo.MappedControlKeyAttr]), err)
		}
		var row []string
		if !p.IsStructured() {
			control, mapped := m.ControlKey, m.MappedControlKey
			if tty {
				control, mapped = dbshared.Truncate(control, dbshared.CellWidth), dbshared.Truncate(mapped, dbshared.CellWidth)
			}
			row = []string{control, mapped, string(m.Status), score(m.SimilarityScore), score(m.RerankScore), m.Timestamp}
		}
		return s.Write(m, row)
	})
	spin.Stop()
	if err != nil {
		return dbshared.Err(err, tables.Mappings, "mappings")
	}
	if err := s.Close(); err != nil {
		return err
	}
	if s.Count() == 0 && !p.IsStructured() && tty {
		fmt.Fprintln(opts.IO.ErrOut, "No mappings match.")
	}
	if res.Truncated {
		fmt.Fprintf(opts.IO.ErrOut, "Showing the first %d mappings; more may match (--limit 0 lists them all).\n", res.Items)
	}
	return nil
}

func score(f *float64) string {
	if f == nil {
		return "-"
	}
	return strconv.FormatFloat(*f, 'f', -1, 64)
}
