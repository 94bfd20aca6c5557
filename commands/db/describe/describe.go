// Package describe is `nexus db describe`.
package describe

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/dynamo"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/db/shared"
	"github.com/nexus-compliance/nexus/commands/db/tables"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/commands/settings"
)

// Options are the inputs of `nexus db describe`.
type Options struct {
	IO       *iostreams.IOStreams
	Printer  func() (*printer.Printer, error)
	DynamoDB func(context.Context) (dynamo.DescribeAPI, error)
	Tables   func() (settings.Tables, error)
	Context  context.Context

	Table string
}

// NewCmd builds `nexus db describe`. runF replaces Run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{
		IO:       f.IOStreams,
		Printer:  f.Printer,
		DynamoDB: shared.Client[dynamo.DescribeAPI](f),
		Tables:   shared.TablesFunc(f),
	}
	cmd := &cobra.Command{
		Use:   "describe TABLE",
		Short: "Show a table's keys, indexes, billing, TTL and size",
		Long: `Show one table: key schema and attribute types, global and local secondary indexes with
their keys, projection and status, billing mode, time to live, approximate item count and
size, ARN and creation time. TABLE is a logical name (jobs, mappings, enrichment,
embedding_cache, frameworks, controls) or a real table name.`,
		Example: `  nexus db describe mappings
  nexus db describe FrameworkControls -o json`,
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
	return cmd
}

// Run describes the table.
func Run(opts *Options) error {
	ctx := opts.Context
	ts, err := opts.Tables()
	if err != nil {
		return err
	}
	name, logical := shared.ResolveTable(ts, opts.Table)
	api, err := opts.DynamoDB(ctx)
	if err != nil {
		return err
	}
	t, err := dynamo.Describe(ctx, api, name)
	if err != nil {
		return shared.Err(err, name, logical)
	}
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	return p.Print(t, func() printer.Table { return Detail(t, logical) })
}

// Detail is the describe view of a table.
func Detail(t *dynamo.Table, logical string) printer.Table {
	rows := [][]string{{"Table", t.Name}}
	if logical != "" {
		rows = append(rows, []string{"Name", logical})
	}
	billing := t.BillingMode
	if t.ReadCapacity > 0 || t.WriteCapacity > 0 {
		billing += fmt.Sprintf(" (%d RCU, %d WCU)", t.ReadCapacity, t.WriteCapacity)
	}
	created := "-"
	if !t.CreatedAt.IsZero() {
		created = t.CreatedAt.Format(time.RFC3339)
	}
	rows = append(rows,
		[]string{"Status", t.Status},
		[]string{"Partition key", attr(t.PartitionKey)},
		[]string{"Sort key", optAttr(t.SortKey)},
		[]string{"Attributes", attrs(t.Attributes)},
		[]string{"Billing", billing},
		[]string{"TTL", t.TTL.String()},
		[]string{"Items", strconv.FormatInt(t.ItemCount, 10) + " (approximate)"},
		[]string{"Size", tables.Bytes(t.SizeBytes)},
		[]string{"ARN", orDash(t.ARN)},
		[]string{"Created", created},
	)
	if len(t.Indexes) == 0 {
		rows = append(rows, []string{"Indexes", "none"})
	}
	for _, ix := range t.Indexes {
		kind := "GSI"
		if !ix.Global {
			kind = "LSI"
		}
		keys := attr(ix.PartitionKey)
		if ix.SortKey != nil {
			keys += ", " + attr(*ix.SortKey)
		}
		proj := ix.Projection
		if len(ix.NonKeyAttributes) > 0 {
			proj += " (" + strings.Join(ix.NonKeyAttributes, ", ") + ")"
		}
		desc := fmt.Sprintf("%s; projects %s", keys, proj)
		if ix.Status != "" {
			desc += "; " + ix.Status
		}
		if ix.Backfilling {
			desc += " (backfilling)"
		}
		desc += fmt.Sprintf("; %d items, %s", ix.ItemCount, tables.Bytes(ix.SizeBytes))
		rows = append(rows, []string{kind + " " + ix.Name, desc})
	}
	return printer.Table{Detail: true, Rows: rows}
}

func attr(a dynamo.Attribute) string { return fmt.Sprintf("%s (%s)", a.Name, a.Type) }

func optAttr(a *dynamo.Attribute) string {
	if a == nil {
		return "-"
	}
	return attr(*a)
}

func attrs(as []dynamo.Attribute) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = a.Name + " " + a.Type
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
