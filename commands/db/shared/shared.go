// Package shared holds what the `nexus db` verbs share: resolving logical
// table names, shell completion, turning DynamoDB errors into nexus's typed
// errors, the read flags of scan/query/count, and the item printer.
package shared

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go"
	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/dynamo"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/settings"
)

// LogicalNames are the config keys of the six Nexus tables, in the seed's
// order; any TABLE argument may be one of them.
var LogicalNames = []string{"jobs", "mappings", "enrichment", "embedding_cache", "frameworks", "controls"}

// TableNames pairs each logical name with the environment's table name.
func TableNames(t settings.Tables) [][2]string {
	return [][2]string{
		{"jobs", t.Jobs}, {"mappings", t.Mappings}, {"enrichment", t.Enrichment},
		{"embedding_cache", t.EmbeddingCache}, {"frameworks", t.Frameworks}, {"controls", t.Controls},
	}
}

// ResolveTable turns a TABLE argument into a table name: a logical name
// (jobs, mappings…, also with - for _) becomes the environment's table;
// anything else is taken as a real table name. logical is the logical name
// of the result, or "".
func ResolveTable(t settings.Tables, arg string) (name, logical string) {
	key := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(arg)), "-", "_")
	for _, p := range TableNames(t) {
		if key == p[0] {
			return p[1], p[0]
		}
	}
	for _, p := range TableNames(t) {
		if arg == p[1] {
			return arg, p[0]
		}
	}
	return arg, ""
}

// TablesFunc builds the Tables dependency of an options struct.
func TablesFunc(f *cmdutil.Factory) func() (settings.Tables, error) {
	return func() (settings.Tables, error) {
		env, err := f.Environment()
		if err != nil {
			return settings.Tables{}, err
		}
		return env.Tables, nil
	}
}

// Client adapts the Factory's DynamoDB client to the interface a command
// declares (never a typed nil).
func Client[T any](f *cmdutil.Factory) func(context.Context) (T, error) {
	return func(ctx context.Context) (T, error) {
		var zero T
		c, err := f.DynamoDB(ctx)
		if err != nil {
			return zero, err
		}
		api, ok := any(c).(T)
		if !ok {
			return zero, fmt.Errorf("the DynamoDB client does not implement %T", zero)
		}
		return api, nil
	}
}

// CompleteTable completes a TABLE argument with the logical names and the
// environment's table names. It makes no AWS call, so it is instant.
func CompleteTable(f *cmdutil.Factory) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		out := []cobra.Completion{}
		var tables settings.Tables
		if env, err := f.Environment(); err == nil {
			tables = env.Tables
		}
		for _, p := range TableNames(tables) {
			out = append(out, cobra.CompletionWithDesc(p[0], "the "+p[1]+" table"))
			if p[1] != "" {
				out = append(out, cobra.CompletionWithDesc(p[1], p[0]))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// CompleteIndex completes --index with the indexes of the table named by
// the first argument (one DescribeTable call, bounded by a short timeout).
func CompleteIndex(f *cmdutil.Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		env, err := f.Environment()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		name, _ := ResolveTable(env.Tables, args[0])
		ctx, cancel := context.WithTimeout(cmd.Context(), 3*time.Second)
		defer cancel()
		c, err := f.DynamoDB(ctx)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		out, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return dynamo.FromDescription(out.Table).IndexNames(), cobra.ShellCompDirectiveNoFileComp
	}
}

// TableNotFound is the error for a missing table.
func TableNotFound(name, logical string) error {
	hint := "Check the name, --env and --region (`nexus config view`); `nexus db tables --all` lists every table."
	if logical != "" {
		hint = fmt.Sprintf("It is the %s table of this environment: create the Nexus tables with `nexus db bootstrap`, "+
			"or point tables.%s at the right name (`nexus config set tables.%s NAME`).", logical, logical, logical)
	}
	return &cmdutil.NotFoundError{What: "table", Name: name, Hint: hint}
}

// Err converts what DynamoDB said about a table into nexus's typed errors:
// a missing table is a NotFoundError (exit 5); a ValidationException (a
// malformed expression, an unknown placeholder) is a usage error (exit 2).
func Err(err error, name, logical string) error {
	if err == nil {
		return nil
	}
	if dynamo.IsNotFound(err) {
		return TableNotFound(name, logical)
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationException" {
		return cmdutil.FlagErrorf("DynamoDB rejected the request: %s", apiErr.ErrorMessage())
	}
	return err
}

// Schema reads a table's key schema and indexes (one DescribeTable call).
func Schema(ctx context.Context, api interface {
	DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}, name, logical string) (*dynamo.Table, error) {
	out, err := api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		return nil, Err(err, name, logical)
	}
	return dynamo.FromDescription(out.Table), nil
}

// Spinner shows progress on stderr while a read runs, but only where it
// cannot tangle with results: stderr is a terminal and results are either
// buffered (a terminal table or yaml) or going elsewhere.
func Spinner(io *iostreams.IOStreams, buffered bool, label string) *iostreams.Progress {
	if !io.IsStderrTTY() || (io.IsStdoutTTY() && !buffered) {
		return &iostreams.Progress{}
	}
	return io.StartProgress(label, -1, "items")
}

// TableArgs accepts exactly one TABLE argument (plus up to extra more),
// and says what is expected otherwise.
func TableArgs(extra int, usage string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < 1 {
			return cmdutil.FlagErrorf("missing TABLE: give a logical name (%s) or a table name", strings.Join(LogicalNames, ", "))
		}
		if len(args) > 1+extra {
			return cmdutil.FlagErrorf("too many arguments %q: expected %s", args[1+extra:], usage)
		}
		return nil
	}
}
