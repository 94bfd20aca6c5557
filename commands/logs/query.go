package logs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/spf13/cobra"

	awslogs "github.com/nexus-compliance/nexus/aws/logs"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/printer"
)

// QueryOptions are the inputs of `nexus logs query`.
type QueryOptions struct {
	Deps
	Ctx context.Context

	Name   string
	Query  string
	Since  string
	Groups []string
	Limit  int
	JobID  string
	List   bool

	pollInterval time.Duration
}

// NewCmdQuery builds `nexus logs query`.
func NewCmdQuery(f *cmdutil.Factory, runF func(*QueryOptions) error) *cobra.Command {
	opts := &QueryOptions{Deps: NewDeps(f)}
	cmd := &cobra.Command{
		Use:   "query [NAME | --query Q]",
		Short: "Run a CloudWatch Logs Insights query (saved or your own)",
		Long: `Run a Logs Insights query over the components' log groups, wait for it to complete, and
print its rows. NAME is one of the saved queries (` + "`nexus logs query --list`" + `), each with
its default groups; --query runs your own over every component. --group (component key,
name or log group, repeatable) overrides the groups. Ctrl-C stops the query in AWS.

Saved queries: ` + queryNames() + `.`,
		Example: `  nexus logs query --list
  nexus logs query errors-by-component --since 24h
  nexus logs query job-trail --job 3f2a9c1e-… --since 2d
  nexus logs query --query 'stats count(*) by @log' --group ecs_service -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Name = args[0]
			}
			switch {
			case opts.List:
			case opts.Name == "" && opts.Query == "":
				return cmdutil.FlagErrorf("give a saved query NAME or --query; saved queries: %s", queryNames())
			case opts.Name != "" && opts.Query != "":
				return cmdutil.FlagErrorf("give either a saved query NAME or --query, not both")
			case opts.Limit < 0 || opts.Limit > 10000:
				return cmdutil.FlagErrorf("--limit must be between 1 and 10000, not %d", opts.Limit)
			case strings.Contains(opts.JobID, `"`):
				return cmdutil.FlagErrorf("--job: a job id has no quotes")
			}
			if opts.Name != "" {
				q, ok := LookupQuery(opts.Name)
				if !ok {
					return cmdutil.FlagErrorf("unknown saved query %q; saved queries: %s", opts.Name, queryNames())
				}
				if q.NeedsJob && opts.JobID == "" {
					return cmdutil.FlagErrorf("%s needs --job ID", q.Name)
				}
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return queryRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Query, "query", "q", "", "Logs Insights query `Q` to run instead of a saved one")
	fl.StringVar(&opts.Since, "since", "1h", "start `TIME`: a duration back (10m, 2h, 3d) or an ISO time")
	fl.StringSliceVar(&opts.Groups, "group", nil, "component or log `GROUP` to query (repeatable; default: the query's)")
	fl.IntVar(&opts.Limit, "limit", 0, "at most `N` rows (Insights default 1000, max 10000)")
	fl.StringVar(&opts.JobID, "job", "", "job `ID` for job-trail")
	fl.BoolVar(&opts.List, "list", false, "list the saved queries")
	return cmd
}

func queryRun(opts *QueryOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	if opts.List {
		return p.Print(SavedQueries, func() printer.Table {
			t := printer.Table{Headers: []string{"NAME", "DESCRIPTION", "COMPONENTS"}}
			for _, q := range SavedQueries {
				comps := "all"
				if len(q.Components) > 0 {
					comps = strings.Join(q.Components, ",")
				}
				t.Rows = append(t.Rows, []string{q.Name, q.Description, comps})
			}
			return t
		})
	}
	env, err := opts.Environment()
	if err != nil {
		return err
	}
	text, targets := opts.Query, opts.Groups
	if opts.Name != "" {
		q, _ := LookupQuery(opts.Name)
		text = strings.ReplaceAll(q.Query, "JOB_ID", opts.JobID)
		if len(targets) == 0 {
			targets = q.Components
		}
	}
	groups, _, err := resolveGroups(env, targets)
	if err != nil {
		return err
	}
	start, err := parseSince(opts.Since, opts.Now())
	if err != nil {
		return err
	}
	ctx, cancel := opts.Context(opts.Ctx)
	defer cancel()
	api, err := opts.Logs(ctx)
	if err != nil {
		return err
	}
	var bar interface{ Stop() }
	if opts.IO.IsStderrTTY() {
		bar = opts.IO.StartProgress("running Logs Insights query", -1, "")
	}
	res, err := awslogs.RunQuery(ctx, api, awslogs.QueryOptions{
		Groups: groups, Query: text, Start: start, End: opts.Now(), Limit: opts.Limit, PollInterval: opts.pollInterval,
		OnStatus: func(types.QueryStatus) {},
	})
	if bar != nil {
		bar.Stop()
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(opts.IO.ErrOut, "Interrupted: the query was stopped.")
		return cmdutil.CancelError
	}
	if err != nil {
		return describeGroupErr(err)
	}
	if err := p.Print(res, func() printer.Table {
		t := printer.Table{Headers: res.Fields}
		for _, row := range res.Rows {
			cells := make([]string, len(res.Fields))
			for i, f := range res.Fields {
				cells[i] = row[f]
			}
			t.Rows = append(t.Rows, cells)
		}
		return t
	}); err != nil {
		return err
	}
	if !p.IsStructured() && len(res.Rows) == 0 {
		fmt.Fprintln(opts.IO.ErrOut, "No rows.")
	}
	return nil
}
