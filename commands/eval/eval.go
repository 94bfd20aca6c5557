// Package eval is `nexus eval`: measure mapping quality against a published
// mapping, with the popularity and BM25 baselines printed beside it.
package eval

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	catshared "github.com/nexus-compliance/nexus/commands/catalog/shared"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/catalog"
	"github.com/nexus-compliance/nexus/pipeline/eval"
)

// DefaultSourceFramework is the framework key given to the source controls
// of the query and approved files: they are AWS Config managed rules in the
// published mapping nexus ships tests for. It only has to be the same for
// both files, so that a query is recognised in the approved set.
const DefaultSourceFramework = "AWS.Config#1.0"

// Options are the inputs of `nexus eval`.
type Options struct {
	IO      *iostreams.IOStreams
	Printer func() (*printer.Printer, error)
	Context context.Context

	// Open opens the store the framework is read from when --catalog is
	// not given (the one `nexus catalog import` filled).
	Open catshared.Opener

	Queries         string
	Approved        string
	Catalog         string
	Store           string
	Framework       string
	SourceFramework string
	Ks              []int
	Folds           int
}

// NewCmd builds `nexus eval`.
func NewCmd(f *cmdutil.Factory) *cobra.Command { return newCmd(f, nil) }

// newCmd builds the command; runF replaces Run in tests.
func newCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Printer: f.Printer}
	opts.Open = catshared.NewOpener(f, &opts.Store)
	cmd := &cobra.Command{
		Use:   "eval --queries FILE --framework FW_KEY [--catalog OSCAL_FILE]",
		Short: "Measure mapping quality against a published mapping",
		Long: `Treat each line of a published mapping (JSONL: source_id, title, description, targets)
as a query whose relevant targets are its targets, rank the framework's live (not
withdrawn) controls for it, and report recall@k, MRR and nDCG@20, for nexus's ranker and
for two baselines: popularity (targets ranked by how often the training fold maps to
them) and plain BM25 over each control's title and statement.

The ranker learns from approved mappings (--approved, by default the queries file
itself). It never sees a query's own line: leave-one-out by default, or --folds N
interleaved folds. Relevant targets that are withdrawn or not in the catalog are left
out (a note on stderr says how many).

-o json prints {"queries": N, "system": {...}, "baselines": {"popularity": {...},
"bm25": {...}}}, each with recall@k for every --k, "mrr" and "ndcg@20".`,
		Example: `  # AWS Config rules → NIST SP 800-53 r5, leave-one-out
  nexus eval --queries cdknag-awsconfig-aws-to-nist80053r5.jsonl \
    --catalog nist-800-53-r5-catalog.json --framework NIST-SP-800-53#R5

  # 5-fold cross-validation, as JSON
  nexus eval --queries cdknag-awsconfig-aws-to-nist80053r5.jsonl \
    --catalog nist-800-53-r5-catalog.json --framework NIST-SP-800-53#R5 --folds 5 -o json

  # Learn from one mapping, test on another
  nexus eval --queries held-out.jsonl --approved reviewed.jsonl \
    --catalog nist-800-53-r5-catalog.json --framework NIST-SP-800-53#R5 --k 10,20`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := f.Context(cmd.Context())
			defer cancel()
			opts.Context = ctx
			if err := validate(opts); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Queries, "queries", "", "published mapping to evaluate on, JSONL (required)")
	fl.StringVar(&opts.Approved, "approved", "", "approved mappings the ranker may learn from, JSONL (default: the --queries file, leave-one-out)")
	fl.StringVar(&opts.Catalog, "catalog", "", "the target framework's OSCAL 1.0 catalog, JSON (default: the framework in the store, from `nexus catalog import`)")
	catshared.AddStoreFlag(cmd, &opts.Store)
	fl.StringVar(&opts.Framework, "framework", "", "target framework key, e.g. NIST-SP-800-53#R5 (required)")
	fl.StringVar(&opts.SourceFramework, "source-framework", DefaultSourceFramework, "framework key given to the source controls of both files")
	fl.IntSliceVar(&opts.Ks, "k", eval.DefaultKs, "recall cut-offs")
	fl.IntVar(&opts.Folds, "folds", 0, "cross-validation folds; 0 is leave-one-out")
	_ = cmd.MarkFlagFilename("queries", "jsonl")
	_ = cmd.MarkFlagFilename("approved", "jsonl")
	_ = cmd.MarkFlagFilename("catalog", "json")
	return cmd
}

// validate turns missing or malformed flags into usage errors (exit 2).
func validate(opts *Options) error {
	for _, req := range []struct{ name, value, hint string }{
		{"queries", opts.Queries, "a published mapping in JSONL"},
		{"framework", opts.Framework, "e.g. " + pipeline.ExampleFrameworkKey},
	} {
		if req.value == "" {
			return cmdutil.FlagErrorf("--%s is required (%s)", req.name, req.hint)
		}
	}
	for _, k := range []string{opts.Framework, opts.SourceFramework} {
		if err := pipeline.ValidateFrameworkKey(k); err != nil {
			return &cmdutil.FlagError{Err: err}
		}
	}
	if len(opts.Ks) == 0 {
		return cmdutil.FlagErrorf("--k needs at least one cut-off, e.g. --k 5,10,20,50")
	}
	for _, k := range opts.Ks {
		if k <= 0 {
			return cmdutil.FlagErrorf("invalid --k %d: cut-offs are positive", k)
		}
	}
	if opts.Folds < 0 {
		return cmdutil.FlagErrorf("invalid --folds %d: use 0 for leave-one-out or 2 and up", opts.Folds)
	}
	return nil
}

// loadTargets reads the framework's controls from --catalog, or else from
// the store.
func loadTargets(ctx context.Context, opts *Options) ([]pipeline.Control, error) {
	var targets []pipeline.Control
	if opts.Catalog != "" {
		err := readFile(opts.Catalog, "catalog", func(r io.Reader) (err error) {
			_, targets, err = catalog.ParseOSCAL(r, opts.Framework)
			return err
		})
		return targets, err
	}
	if opts.Open == nil {
		return nil, cmdutil.FlagErrorf("--catalog is required here (no store to read %s from)", opts.Framework)
	}
	st, err := opts.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	targets, err = st.Controls(ctx, opts.Framework)
	if err == nil && len(targets) == 0 {
		err = pipeline.ErrNotFound
	}
	if err != nil {
		return nil, &cmdutil.NotFoundError{What: "framework", Name: opts.Framework,
			Hint: "Import it first (`nexus catalog import --oscal FILE`) or pass --catalog FILE."}
	}
	return targets, nil
}

// Run loads the files and evaluates.
func Run(opts *Options) error {
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	targets, err := loadTargets(ctx, opts)
	if err != nil {
		return err
	}
	var queries, sources []pipeline.Control
	var qmaps, approved []pipeline.Mapping
	if err := readFile(opts.Queries, "queries", func(r io.Reader) (err error) {
		queries, qmaps, err = catalog.ParseMappingJSONL(r, opts.SourceFramework, opts.Framework)
		return err
	}); err != nil {
		return err
	}
	sources, approved = queries, qmaps
	if opts.Approved != "" && opts.Approved != opts.Queries {
		if err := readFile(opts.Approved, "approved", func(r io.Reader) (err error) {
			sources, approved, err = catalog.ParseMappingJSONL(r, opts.SourceFramework, opts.Framework)
			return err
		}); err != nil {
			return err
		}
	}
	if len(queries) == 0 {
		return fmt.Errorf("queries file %s holds no mapping lines", opts.Queries)
	}

	rep, err := eval.Run(ctx, eval.Config{
		Targets:  targets,
		Queries:  eval.QueriesFromMappings(queries, qmaps),
		Sources:  sources,
		Approved: approved,
		Ks:       opts.Ks,
		Folds:    opts.Folds,
	})
	if err != nil {
		return err
	}
	if rep.Skipped > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "note: %d relevant target(s) are withdrawn or not in the catalog; no method can retrieve them, so they were left out\n", rep.Skipped)
	}
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	return p.Print(rep, func() printer.Table { return table(rep) })
}

// readFile opens path and hands it to parse, naming the flag in errors.
func readFile(path, flag string, parse func(io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open --%s file: %w", flag, err)
	}
	defer f.Close()
	if err := parse(f); err != nil {
		return fmt.Errorf("read --%s file %s: %w", flag, path, err)
	}
	return nil
}

// table is metrics down, methods across.
func table(rep eval.Report) printer.Table {
	t := printer.Table{Headers: []string{"METRIC", "SYSTEM", "POPULARITY", "BM25"}}
	for _, key := range rep.System.Keys() {
		row := []string{key}
		for _, m := range []eval.Metrics{rep.System, rep.Baselines.Popularity, rep.Baselines.BM25} {
			v, _ := m.Value(key)
			row = append(row, strconv.FormatFloat(v, 'f', 3, 64))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}
