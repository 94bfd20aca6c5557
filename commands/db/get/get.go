// Package get is `nexus db get`.
package get

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/dynamo"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/db/shared"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/commands/settings"
)

// API is what `nexus db get` calls.
type API interface {
	DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// Options are the inputs of `nexus db get`.
type Options struct {
	IO       *iostreams.IOStreams
	Printer  func() (*printer.Printer, error)
	DynamoDB func(context.Context) (API, error)
	Tables   func() (settings.Tables, error)
	Context  context.Context

	Table          string
	KeyValues      []string // positional: partition key value, then sort key value
	Keys           []string // --key ATTR=VALUE (repeatable) or one JSON object
	Projection     []string
	ConsistentRead bool
	Raw            bool
}

// NewCmd builds `nexus db get`. runF replaces Run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{
		IO:       f.IOStreams,
		Printer:  f.Printer,
		DynamoDB: shared.Client[API](f),
		Tables:   shared.TablesFunc(f),
	}
	cmd := &cobra.Command{
		Use:   "get TABLE [PK_VALUE [SK_VALUE]]",
		Short: "Read one item by its key",
		Long: `Read one item by its primary key. Give the key as positional values (partition key, then
sort key), as --key ATTR=VALUE (repeat it for the sort key), or as one JSON object with
--key '{"ATTR":"VALUE",…}'. Values are typed as the table declares its keys.

A missing item exits with status 5.`,
		Example: `  # A job
  nexus db get jobs 550e8400-e29b-41d4-a716-446655440000

  # A mapping, by both keys
  nexus db get mappings --key controlKey=AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED \
    --key mappedControlKey=NIST-SP-800-53#R5#AC-1

  # The same with a JSON key, as DynamoDB JSON
  nexus db get mappings --raw -o json --key '{"controlKey":"AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED","mappedControlKey":"NIST-SP-800-53#R5#AC-1"}'`,
		Args:              shared.TableArgs(2, "TABLE [PK_VALUE [SK_VALUE]]"),
		ValidArgsFunction: shared.CompleteTable(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Table, opts.KeyValues = args[0], args[1:]
			if len(opts.KeyValues) > 0 && len(opts.Keys) > 0 {
				return cmdutil.FlagErrorf("give the key either as positional values or with --key, not both")
			}
			if len(opts.KeyValues) == 0 && len(opts.Keys) == 0 {
				return cmdutil.FlagErrorf("missing key: e.g. nexus db get %s VALUE, or --key ATTR=VALUE", args[0])
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
	cmd.Flags().StringArrayVarP(&opts.Keys, "key", "k", nil, `key attribute ATTR=VALUE (repeat for the sort key), or a JSON object '{"ATTR":"VALUE"}'`)
	cmd.Flags().StringSliceVarP(&opts.Projection, "projection", "p", nil, "return only these attributes (comma-separated)")
	cmd.Flags().BoolVar(&opts.ConsistentRead, "consistent-read", false, "strongly consistent read")
	cmd.Flags().BoolVar(&opts.Raw, "raw", false, `print the item as DynamoDB JSON ({"S":"…"})`)
	return cmd
}

// Run reads the item.
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
	key, err := BuildKey(tbl, opts.KeyValues, opts.Keys)
	if err != nil {
		return err
	}
	in := &dynamodb.GetItemInput{TableName: aws.String(name), Key: key}
	if opts.ConsistentRead {
		in.ConsistentRead = aws.Bool(true)
	}
	if len(opts.Projection) > 0 {
		b := dynamo.NewBuilder()
		ps := make([]string, 0, len(opts.Projection))
		for _, a := range opts.Projection {
			if a = strings.TrimSpace(a); a != "" {
				ps = append(ps, b.Name(a))
			}
		}
		in.ProjectionExpression, in.ExpressionAttributeNames = aws.String(strings.Join(ps, ", ")), b.Names()
	}
	out, err := api.GetItem(ctx, in)
	if err != nil {
		return shared.Err(err, name, logical)
	}
	if len(out.Item) == 0 {
		return &cmdutil.NotFoundError{What: "item", Name: dynamo.KeyString(key), Hint: fmt.Sprintf("No item of table %s has this key; `nexus db scan %s --where ATTR=VALUE` searches by other attributes.", name, opts.Table)}
	}
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	return p.Print(shared.ItemValue(out.Item, opts.Raw), func() printer.Table {
		return printer.Table{Detail: true, Rows: shared.DetailRows(out.Item, tbl.KeyNames())}
	})
}

// BuildKey makes the primary key from positional values or --key flags,
// typed as the table declares its key attributes.
func BuildKey(tbl *dynamo.Table, positional, flags []string) (dynamo.Item, error) {
	attrs := []dynamo.Attribute{tbl.PartitionKey}
	if tbl.SortKey != nil {
		attrs = append(attrs, *tbl.SortKey)
	}
	usage := keyUsage(attrs)
	key := dynamo.Item{}
	switch {
	case len(positional) > 0:
		if len(positional) > len(attrs) {
			return nil, cmdutil.FlagErrorf("table %s has %d key attribute(s) but %d values were given; %s", tbl.Name, len(attrs), len(positional), usage)
		}
		for i, v := range positional {
			av, err := dynamo.ParseValue(v, types.ScalarAttributeType(attrs[i].Type))
			if err != nil {
				return nil, cmdutil.FlagErrorf("invalid key value %q for %s: %v", v, attrs[i].Name, err)
			}
			key[attrs[i].Name] = av
		}
	case len(flags) == 1 && strings.HasPrefix(strings.TrimSpace(flags[0]), "{"):
		item, err := dynamo.ParseJSONObject(flags[0])
		if err != nil {
			return nil, cmdutil.FlagErrorf("invalid --key %q: %v\nExample: --key '{\"%s\":\"VALUE\"}'", flags[0], err, attrs[0].Name)
		}
		for k, v := range item {
			a, ok := find(attrs, k)
			if !ok {
				return nil, cmdutil.FlagErrorf("invalid --key: %s is not a key attribute of %s; %s", k, tbl.Name, usage)
			}
			if av, ok := coerce(v, a.Type); ok {
				key[k] = av
			} else {
				return nil, cmdutil.FlagErrorf("invalid --key: %s is of type %s in table %s", k, a.Type, tbl.Name)
			}
		}
	default:
		for _, fl := range flags {
			attr, v, ok := strings.Cut(fl, "=")
			attr = strings.TrimSpace(attr)
			if !ok || attr == "" {
				return nil, cmdutil.FlagErrorf("invalid --key %q: expected ATTR=VALUE; %s", fl, usage)
			}
			a, ok := find(attrs, attr)
			if !ok {
				return nil, cmdutil.FlagErrorf("invalid --key %q: %s is not a key attribute of %s; %s", fl, attr, tbl.Name, usage)
			}
			av, err := dynamo.ParseValue(v, types.ScalarAttributeType(a.Type))
			if err != nil {
				return nil, cmdutil.FlagErrorf("invalid --key %q: %v", fl, err)
			}
			key[attr] = av
		}
	}
	for _, a := range attrs {
		if _, ok := key[a.Name]; !ok {
			return nil, cmdutil.FlagErrorf("missing key attribute %s of table %s; %s", a.Name, tbl.Name, usage)
		}
	}
	return key, nil
}

func keyUsage(attrs []dynamo.Attribute) string {
	parts := make([]string, len(attrs))
	for i, a := range attrs {
		parts[i] = "--key " + a.Name + "=VALUE"
	}
	return "pass " + strings.Join(parts, " ")
}

func find(attrs []dynamo.Attribute, name string) (dynamo.Attribute, bool) {
	for _, a := range attrs {
		if a.Name == name {
			return a, true
		}
	}
	return dynamo.Attribute{}, false
}

// coerce accepts a JSON value for a key attribute of the given type: a
// JSON number for an S key is taken as its text, numeric text for an N key
// as the number.
func coerce(av types.AttributeValue, typ string) (types.AttributeValue, bool) {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		if typ == "S" {
			return v, true
		}
		if typ == "N" {
			n, err := dynamo.ParseValue(v.Value, types.ScalarAttributeTypeN)
			return n, err == nil
		}
		if typ == "B" {
			b, err := dynamo.ParseValue(v.Value, types.ScalarAttributeTypeB)
			return b, err == nil
		}
	case *types.AttributeValueMemberN:
		if typ == "N" {
			return v, true
		}
		if typ == "S" {
			return dynamo.S(v.Value), true
		}
	}
	return nil, false
}
