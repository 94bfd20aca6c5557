// Package query is `nexus db query`.
package query

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/dynamo"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/db/shared"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/commands/settings"
)

// Options are the inputs of `nexus db query`.
type Options struct {
	IO       *iostreams.IOStreams
	Printer  func() (*printer.Printer, error)
	DynamoDB func(context.Context) (dynamo.ReadAPI, error)
	Tables   func() (settings.Tables, error)
	Context  context.Context

	Table      string
	Key        string
	SortKey    string
	Descending bool
	shared.FilterFlags
	shared.PageFlags
}

// NewCmd builds `nexus db query`. runF replaces Run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{
		IO:       f.IOStreams,
		Printer:  f.Printer,
		DynamoDB: shared.Client[dynamo.ReadAPI](f),
		Tables:   shared.TablesFunc(f),
	}
	cmd := &cobra.Command{
		Use:   "query TABLE --key ATTR=VALUE",
		Short: "Read the items of one partition, optionally narrowed by sort key",
		Long: `Query a table or one of its indexes by partition key (--key), optionally narrowing the
sort key (--sort-key), and print items as pages arrive.

--key takes ATTR=VALUE, or just VALUE for the partition key of the table or --index.
--sort-key takes ATTR=VALUE, ATTR<VALUE, ATTR<=VALUE, ATTR>VALUE, ATTR>=VALUE,
begins_with(ATTR,PREFIX) or between(ATTR,LOW,HIGH). Key values are typed as the table
declares them. --where and --filter narrow further after the read (they do not reduce the
capacity it uses).

Paging, --limit, --starting-token and output work as in 'nexus db scan'.`,
		Example: `  # One control's mappings
  nexus db query mappings --key controlKey=AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED

  # Its mappings into NIST SP 800-53 rev 5 only
  nexus db query mappings --key AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED \
    --sort-key 'begins_with(mappedControlKey,NIST-SP-800-53#R5#)'

  # The review queue, through the StatusIndex GSI
  nexus db query mappings --index StatusIndex --key status=PENDING_REVIEW -o jsonl

  # A framework's controls, newest sort keys first
  nexus db query controls --key frameworkKey=NIST-SP-800-53#R5 --descending --limit 20`,
		Args:              shared.TableArgs(0, "TABLE"),
		ValidArgsFunction: shared.CompleteTable(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Table = args[0]
			if strings.TrimSpace(opts.Key) == "" {
				return cmdutil.FlagErrorf("--key is required: the partition key to read, e.g. --key controlKey=AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED")
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
	cmd.Flags().StringVarP(&opts.Key, "key", "k", "", "partition key: ATTR=VALUE, or VALUE (required)")
	cmd.Flags().StringVar(&opts.SortKey, "sort-key", "", "sort key condition: ATTR=V, ATTR<V, ATTR<=V, ATTR>V, ATTR>=V, begins_with(ATTR,PREFIX), between(ATTR,LOW,HIGH)")
	cmd.Flags().BoolVar(&opts.Descending, "descending", false, "read in descending sort-key order")
	shared.AddFilterFlags(cmd, &opts.FilterFlags)
	shared.AddPageFlags(cmd, &opts.PageFlags)
	_ = cmd.RegisterFlagCompletionFunc("index", shared.CompleteIndex(f))
	return cmd
}

// Run queries.
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
	req, b, err := shared.Request(tbl, &opts.FilterFlags, &opts.PageFlags, 1)
	if err != nil {
		return err
	}
	pk, sk, err := tbl.Keys(opts.Index)
	if err != nil {
		return &cmdutil.FlagError{Err: err}
	}
	pv, err := shared.KeyValue("--key", opts.Key, pk)
	if err != nil {
		return err
	}
	keyCond := b.Equal(pk.Name, pv)
	if s := strings.TrimSpace(opts.SortKey); s != "" {
		if sk == nil {
			return cmdutil.FlagErrorf("invalid --sort-key %q: %s has no sort key", s, what(tbl.Name, opts.Index))
		}
		c, err := dynamo.ParseCondition(s)
		if err != nil {
			return cmdutil.FlagErrorf("invalid --sort-key %q: %v\nExample: --sort-key 'begins_with(%s,PREFIX)' or --sort-key '%s>=VALUE'", s, err, sk.Name, sk.Name)
		}
		if c.Attr != sk.Name {
			return cmdutil.FlagErrorf("invalid --sort-key %q: the sort key of %s is %s, not %s", s, what(tbl.Name, opts.Index), sk.Name, c.Attr)
		}
		if err := c.ValidateKey(true); err != nil {
			return cmdutil.FlagErrorf("invalid --sort-key %q: %v", s, err)
		}
		expr, err := c.Expression(b, tbl.AttributeType)
		if err != nil {
			return cmdutil.FlagErrorf("invalid --sort-key %q: %v", s, err)
		}
		keyCond = dynamo.And(keyCond, expr)
	}
	req.KeyCondition, req.Descending = keyCond, opts.Descending
	req.Names, req.Values = b.Names(), b.Values()
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	return shared.ReadItems(ctx, opts.IO, p, api, req, &opts.PageFlags, "Querying "+name)
}

func what(table, index string) string {
	if index != "" {
		return "index " + index + " of " + table
	}
	return "table " + table
}
