// Package tables is `nexus db tables`.
package tables

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/dynamo"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/db/shared"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/commands/settings"
)

// API is what `nexus db tables` calls.
type API interface {
	dynamo.DescribeAPI
	dynamo.ListTablesAPI
}

// Options are the inputs of `nexus db tables`.
type Options struct {
	IO       *iostreams.IOStreams
	Printer  func() (*printer.Printer, error)
	DynamoDB func(context.Context) (API, error)
	Tables   func() (settings.Tables, error)
	Context  context.Context

	All bool
}

// StatusMissing is the status of an environment table that does not exist.
const StatusMissing = "MISSING"

// Summary is one table as `nexus db tables -o json` prints it.
type Summary struct {
	Name        string     `json:"name"`
	Logical     string     `json:"logical,omitempty"`
	Status      string     `json:"status"`
	ItemCount   int64      `json:"item_count"`
	SizeBytes   int64      `json:"size_bytes"`
	Indexes     []string   `json:"indexes"`
	BillingMode string     `json:"billing_mode,omitempty"`
	TTL         dynamo.TTL `json:"ttl"`
}

// describeConcurrency bounds the DescribeTable calls in flight.
const describeConcurrency = 8

// NewCmd builds `nexus db tables`. runF replaces Run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{
		IO:       f.IOStreams,
		Printer:  f.Printer,
		DynamoDB: shared.Client[API](f),
		Tables:   shared.TablesFunc(f),
	}
	cmd := &cobra.Command{
		Use:   "tables",
		Short: "List the environment's tables with status, size, indexes, billing and TTL",
		Long: `List the six Nexus tables of the environment (MappingJobs, ControlMappings, Enrichment,
EmbeddingCache, Frameworks, FrameworkControls unless configured otherwise) with their
status, approximate item count and size (DynamoDB refreshes both about every six hours),
global secondary indexes, billing mode and time to live. A table that does not exist is
listed as MISSING. --all lists every table of the account and region instead.`,
		Example: `  nexus db tables
  nexus db tables --env prod -o json
  nexus db tables --all`,
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
	cmd.Flags().BoolVarP(&opts.All, "all", "a", false, "every table of the account and region, not just the environment's")
	return cmd
}

var headers = []string{"NAME", "TABLE", "STATUS", "ITEMS", "SIZE", "GSIS", "BILLING", "TTL"}

// Run lists the tables.
func Run(opts *Options) error {
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
	logicalOf := map[string]string{}
	for _, pair := range shared.TableNames(tables) {
		logicalOf[pair[1]] = pair[0]
	}
	s := p.Stream(headers)
	missing := 0
	emit := func(names []string) error {
		sums, err := describeAll(ctx, api, names, logicalOf)
		if err != nil {
			return err
		}
		for _, sum := range sums {
			if sum.Status == StatusMissing {
				missing++
			}
			if err := s.Write(sum, row(sum)); err != nil {
				return err
			}
		}
		return nil
	}
	if opts.All {
		var batch []string
		for name, err := range dynamo.TableNames(ctx, api) {
			if err != nil {
				return err
			}
			if batch = append(batch, name); len(batch) == 100 {
				if err := emit(batch); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
		if err := emit(batch); err != nil {
			return err
		}
	} else {
		names := make([]string, 0, 6)
		for _, pair := range shared.TableNames(tables) {
			names = append(names, pair[1])
		}
		if err := emit(names); err != nil {
			return err
		}
	}
	if err := s.Close(); err != nil {
		return err
	}
	if missing > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "%d of the environment's tables are missing: create them with `nexus db bootstrap`.\n", missing)
	}
	return nil
}

// describeAll describes tables concurrently and returns them in order. An
// environment table that does not exist is a MISSING summary, not an error.
func describeAll(ctx context.Context, api API, names []string, logicalOf map[string]string) ([]Summary, error) {
	out := make([]Summary, len(names))
	errs := make([]error, len(names))
	sem := make(chan struct{}, describeConcurrency)
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			t, err := dynamo.Describe(ctx, api, name)
			switch {
			case dynamo.IsNotFound(err):
				out[i] = Summary{Name: name, Logical: logicalOf[name], Status: StatusMissing, Indexes: []string{}}
			case err != nil:
				errs[i] = fmt.Errorf("describing %s: %w", name, err)
			default:
				out[i] = Summarize(t, logicalOf[name])
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Summarize reduces a table description to the summary shape.
func Summarize(t *dynamo.Table, logical string) Summary {
	s := Summary{
		Name: t.Name, Logical: logical, Status: t.Status, ItemCount: t.ItemCount, SizeBytes: t.SizeBytes,
		BillingMode: t.BillingMode, TTL: t.TTL, Indexes: []string{},
	}
	for _, ix := range t.Indexes {
		if ix.Global {
			s.Indexes = append(s.Indexes, ix.Name)
		}
	}
	return s
}

func row(s Summary) []string {
	if s.Status == StatusMissing {
		return []string{s.Logical, s.Name, s.Status, "-", "-", "-", "-", "-"}
	}
	gsis := strings.Join(s.Indexes, ",")
	if gsis == "" {
		gsis = "-"
	}
	return []string{s.Logical, s.Name, s.Status, strconv.FormatInt(s.ItemCount, 10), Bytes(s.SizeBytes), gsis, s.BillingMode, s.TTL.String()}
}

// Bytes formats a size in binary units: 0 B, 512 B, 1.5 KiB, 2.0 GiB.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
