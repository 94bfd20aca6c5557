// Package list is `nexus job list`.
package list

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/dynamo"
	catshared "github.com/nexus-compliance/nexus/commands/catalog/shared"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	dbshared "github.com/nexus-compliance/nexus/commands/db/shared"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/job/shared"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/commands/settings"
	"github.com/nexus-compliance/nexus/pipeline"
)

// Options are the inputs of `nexus job list`.
type Options struct {
	IO       *iostreams.IOStreams
	Printer  func() (*printer.Printer, error)
	DynamoDB func(context.Context) (dynamo.PagerAPI, error)
	Tables   func() (settings.Tables, error)
	Now      func() time.Time
	Context  context.Context
	// OpenLocal opens the local store, for --store local.
	OpenLocal catshared.Opener

	Store     string
	Status    string
	OlderThan time.Duration
	Control   string
	Framework string
	Limit     int
	PageSize  int32
}

// NewCmd builds `nexus job list`. runF replaces Run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{
		IO:       f.IOStreams,
		Printer:  f.Printer,
		DynamoDB: dbshared.Client[dynamo.PagerAPI](f),
		Tables:   dbshared.TablesFunc(f),
		Now:      f.Now,
	}
	local := catshared.StoreLocal
	opts.OpenLocal = catshared.NewOpener(f, &local)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List mapping jobs, filtered by status, age, control or framework",
		Long: `List the jobs of the MappingJobs table. The table has no secondary index, so this is a
paged Scan with the filters applied by DynamoDB: jobs stream out as pages arrive, in table
order, and --limit (default 100) stops the scan as soon as that many jobs are shown.
The Nexus API has no endpoint that lists jobs, so this reads the store even when an API
URL is set; ` + "`nexus job status|wait|get ID`" + ` follow one job through the API.

--older-than compares created_at (ISO-8601 UTC, as the Lambdas write it) with now minus
the duration: the way to find jobs stuck in PENDING or RUNNING. --status RUNNING also
matches the SQS trigger's legacy IN_PROGRESS.

With --store local the jobs come from the local store instead (those ` + "`nexus map`" + ` and
` + "`nexus map batch`" + ` ran on this machine), newest first, with the same filters.`,
		Example: `  # Jobs stuck in PENDING for more than 30 minutes
  nexus job list --status PENDING --older-than 30m

  # Failed jobs of one control, as JSON
  nexus job list --status FAILED --control AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED -o json

  # Every job mapping into NIST SP 800-53 rev 5, as JSON lines
  nexus job list --framework NIST-SP-800-53#R5 --limit 0 -o jsonl

  # The failed jobs of local nexus map runs
  nexus job list --store local --status FAILED`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := f.Context(cmd.Context())
			defer cancel()
			opts.Context = ctx
			if opts.Store == "" {
				opts.Store = catshared.DefaultStore(f)
			}
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Status, "status", "s", "", "only jobs in this status: PENDING, RUNNING, COMPLETED or FAILED")
	fl.DurationVar(&opts.OlderThan, "older-than", 0, "only jobs created longer ago than this (e.g. 30m, 6h, 168h)")
	fl.StringVar(&opts.Control, "control", "", "only jobs of this source control key (e.g. AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED)")
	fl.StringVar(&opts.Framework, "framework", "", "only jobs targeting this framework key (e.g. NIST-SP-800-53#R5)")
	fl.IntVarP(&opts.Limit, "limit", "n", dbshared.DefaultLimit, "stop after this many jobs; 0 lists them all")
	fl.Int32Var(&opts.PageSize, "page-size", 0, "items DynamoDB evaluates per request (default: 1 MB pages)")
	catshared.AddStoreFlag(cmd, &opts.Store)
	statuses := make([]string, len(pipeline.JobStatuses))
	for i, s := range pipeline.JobStatuses {
		statuses[i] = string(s)
	}
	_ = cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(statuses, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("older-than", cobra.FixedCompletions([]string{"15m", "30m", "1h", "6h", "24h", "168h"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// listed are the attributes the table view needs; -o json|yaml|jsonl read
// whole jobs.
var listed = []string{"job_id", "status", "control_key", "target_framework_key", "created_at", "updated_at"}

// Run lists the jobs.
func Run(opts *Options) error {
	b := dynamo.NewBuilder()
	var conds []string
	if opts.Status != "" {
		st, err := pipeline.ParseJobStatus(opts.Status)
		if err != nil {
			return &cmdutil.FlagError{Err: err}
		}
		vals := []types.AttributeValue{dynamo.S(string(st))}
		if st == pipeline.JobRunning {
			vals = append(vals, dynamo.S("IN_PROGRESS"))
		}
		conds = append(conds, b.In("status", vals...))
	}
	if opts.OlderThan < 0 {
		return cmdutil.FlagErrorf("invalid --older-than %s: give a positive duration such as 30m or 6h", opts.OlderThan)
	}
	if opts.OlderThan > 0 {
		cutoff := shared.ISO(opts.Now().Add(-opts.OlderThan))
		conds = append(conds, b.Name("created_at")+" < "+b.Value(dynamo.S(cutoff)))
	}
	if err := shared.KeyFlag("--control", opts.Control, pipeline.ValidateControlKey); err != nil {
		return err
	}
	if opts.Control != "" {
		conds = append(conds, b.Equal("control_key", dynamo.S(opts.Control)))
	}
	if err := shared.KeyFlag("--framework", opts.Framework, pipeline.ValidateFrameworkKey); err != nil {
		return err
	}
	if opts.Framework != "" {
		conds = append(conds, b.Equal("target_framework_key", dynamo.S(opts.Framework)))
	}
	if opts.Limit < 0 || opts.PageSize < 0 {
		return cmdutil.FlagErrorf("--limit and --page-size must not be negative")
	}
	if opts.Store != "" { // empty: DynamoDB (tests call Run directly)
		if err := catshared.CheckStoreKind(opts.Store); err != nil {
			return err
		}
	}
	if opts.Store == catshared.StoreLocal {
		return runLocal(opts)
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
	req := dynamo.Request{
		Table: tables.Jobs, Filter: dynamo.And(conds...), Names: b.Names(), Values: b.Values(),
		Limit: opts.Limit, PageSize: opts.PageSize, KeyAttributes: []string{dynamo.JobID},
	}
	if !p.IsStructured() {
		req.Projection = listed
	}
	now := opts.Now()
	tty := opts.IO.IsStdoutTTY()
	s := p.Stream([]string{"JOB ID", "STATUS", "CONTROL", "FRAMEWORK", "AGE", "CREATED"})
	spin := dbshared.Spinner(opts.IO, !p.IsStructured() || p.Format() == printer.FormatYAML, "Scanning "+tables.Jobs)
	req.OnPage = func(scanned, _ int) { spin.Add(scanned) }
	res, err := dynamo.Read(ctx, api, req, func(it dynamo.Item) error {
		j, err := shared.Decode(it)
		if err != nil {
			return err
		}
		var row []string
		if !p.IsStructured() {
			control, framework := j.ControlKey, j.TargetFrameworkKey
			if tty {
				control, framework = dbshared.Truncate(control, dbshared.CellWidth), dbshared.Truncate(framework, dbshared.CellWidth)
			}
			row = []string{j.JobID, string(j.Status), control, framework, shared.Age(now, j.CreatedAt), j.CreatedAt}
		}
		return s.Write(j, row)
	})
	spin.Stop()
	if err != nil {
		return dbshared.Err(err, tables.Jobs, "jobs")
	}
	if err := s.Close(); err != nil {
		return err
	}
	if s.Count() == 0 && !p.IsStructured() && tty {
		fmt.Fprintln(opts.IO.ErrOut, "No jobs match.")
	}
	if res.Truncated {
		fmt.Fprintf(opts.IO.ErrOut, "Showing the first %d jobs; more may match (--limit 0 lists them all%s).\n", res.Items, filtersHint(opts))
	}
	return nil
}

func filtersHint(opts *Options) string {
	if opts.Status == "" && opts.OlderThan == 0 && opts.Control == "" && opts.Framework == "" {
		return ", or filter with --status, --older-than, --control, --framework"
	}
	return ""
}

// localJobs is what the local store offers beyond pipeline.Store.
type localJobs interface {
	Jobs(ctx context.Context) ([]pipeline.Job, error)
}

// runLocal lists the jobs of the local store, newest first, filtered in
// memory with the same flags.
func runLocal(opts *Options) error {
	ctx := opts.Context
	var status pipeline.JobStatus
	if opts.Status != "" {
		status, _ = pipeline.ParseJobStatus(opts.Status) // validated by Run
	}
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	s, err := opts.OpenLocal(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	lister, ok := s.Store.(localJobs)
	if !ok {
		return fmt.Errorf("the local store cannot list jobs")
	}
	all, err := lister.Jobs(ctx)
	if err != nil {
		return err
	}
	now := opts.Now()
	cutoff := now.Add(-opts.OlderThan)
	tty := opts.IO.IsStdoutTTY()
	st := p.Stream([]string{"JOB ID", "STATUS", "CONTROL", "FRAMEWORK", "AGE", "CREATED"})
	truncated := false
	for _, j := range all {
		if status != "" && j.Status != status ||
			opts.Control != "" && j.ControlKey != opts.Control ||
			opts.Framework != "" && j.TargetFrameworkKey != opts.Framework {
			continue
		}
		if opts.OlderThan > 0 {
			if t, ok := shared.ParseTime(j.CreatedAt); !ok || !t.Before(cutoff) {
				continue
			}
		}
		if opts.Limit > 0 && st.Count() == opts.Limit {
			truncated = true
			break
		}
		var row []string
		if !p.IsStructured() {
			control, framework := j.ControlKey, j.TargetFrameworkKey
			if tty {
				control, framework = dbshared.Truncate(control, dbshared.CellWidth), dbshared.Truncate(framework, dbshared.CellWidth)
			}
			row = []string{j.JobID, string(j.Status), control, framework, shared.Age(now, j.CreatedAt), j.CreatedAt}
		}
		if err := st.Write(j, row); err != nil {
			return err
		}
	}
	if err := st.Close(); err != nil {
		return err
	}
	if st.Count() == 0 && !p.IsStructured() && tty {
		fmt.Fprintln(opts.IO.ErrOut, "No jobs match.")
	}
	if truncated {
		fmt.Fprintf(opts.IO.ErrOut, "Showing the newest %d jobs; more match (--limit 0 lists them all%s).\n", st.Count(), filtersHint(opts))
	}
	return nil
}
