// Package list is `nexus mapping list`.
package list

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/dynamo"
	"github.com/nexus-compliance/nexus/commands/apiclient"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	dbshared "github.com/nexus-compliance/nexus/commands/db/shared"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/commands/settings"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/api"
)

// Options are the inputs of `nexus mapping list`.
type Options struct {
	IO       *iostreams.IOStreams
	Printer  func() (*printer.Printer, error)
	DynamoDB func(context.Context) (dynamo.PagerAPI, error)
	Tables   func() (settings.Tables, error)
	// API, when it knows an API URL, lists through the Nexus API instead
	// of DynamoDB.
	API     *apiclient.Source
	Context context.Context

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
		API:      apiclient.NewSource(f),
	}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List control mappings by source control and review status",
		Long: `List the mappings of the ControlMappings table, read the cheapest way the filters allow:

  --control and --status   Query of the ControlStatusIndex GSI
  --control                Query of the table (one partition)
  --status                 Query of the StatusIndex GSI
  neither                  Scan of the table

When an API URL is known (--api-url, $NEXUS_API_URL or the environment's api_url) the
mappings come from the Nexus API instead (GET /api/v1/mappings), page by page.

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
	fl.Int32Var(&opts.PageSize, "page-size", 0, "items DynamoDB evaluates per request (default: 1 MB pages); through the API, mappings per page")
	apiclient.AddFlag(cmd, opts.API)
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
	if opts.API.Known() {
		return runAPI(opts, status)
	}
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

// APIPageMax is the most mappings asked of the API per page.
const APIPageMax = 1000

// runAPI lists through GET /api/v1/mappings, asking for the next page only
// while fewer than --limit mappings have been shown.
func runAPI(opts *Options, status pipeline.MappingStatus) error {
	ctx := opts.Context
	c, err := opts.API.Mapping(ctx)
	if err != nil {
		return err
	}
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	tty := opts.IO.IsStdoutTTY()
	s := p.Stream([]string{"CONTROL", "MAPPED CONTROL", "STATUS", "SIMILARITY", "RERANK", "TIMESTAMP"})
	spin := dbshared.Spinner(opts.IO, !p.IsStructured() || p.Format() == printer.FormatYAML, "Reading mappings from the Nexus API")
	truncated := false
	err = func() error {
		defer spin.Stop()
		req := api.ListOptions{ControlKey: opts.Control, Status: status}
		for {
			size := APIPageMax
			if opts.PageSize > 0 {
				size = min(size, int(opts.PageSize))
			}
			if opts.Limit > 0 {
				size = min(size, opts.Limit-s.Count())
			}
			req.Limit = size
			page, err := c.ListMappings(ctx, req)
			if err != nil {
				return apiclient.Err(err)
			}
			spin.Add(len(page.Mappings))
			for i, m := range page.Mappings {
				if opts.Limit > 0 && s.Count() >= opts.Limit {
					truncated = truncated || i < len(page.Mappings) || page.NextToken != ""
					return nil
				}
				var row []string
				if !p.IsStructured() {
					control, mapped := m.ControlKey, m.MappedControlKey
					if tty {
						control, mapped = dbshared.Truncate(control, dbshared.CellWidth), dbshared.Truncate(mapped, dbshared.CellWidth)
					}
					row = []string{control, mapped, string(m.Status), score(m.SimilarityScore), score(m.RerankScore), m.Timestamp}
				}
				if err := s.Write(m, row); err != nil {
					return err
				}
			}
			if page.NextToken == "" || page.NextToken == req.NextToken {
				return nil
			}
			if opts.Limit > 0 && s.Count() >= opts.Limit {
				truncated = true
				return nil
			}
			req.NextToken = page.NextToken
		}
	}()
	if err != nil {
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	if s.Count() == 0 && !p.IsStructured() && tty {
		fmt.Fprintln(opts.IO.ErrOut, "No mappings match.")
	}
	if truncated {
		fmt.Fprintf(opts.IO.ErrOut, "Showing the first %d mappings; more may match (--limit 0 lists them all).\n", s.Count())
	}
	return nil
}

func score(f *float64) string {
	if f == nil {
		return "-"
	}
	return strconv.FormatFloat(*f, 'f', -1, 64)
}
