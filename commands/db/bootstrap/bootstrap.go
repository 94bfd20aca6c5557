// Package bootstrap is `nexus db bootstrap`: create a whole Nexus data plane
// (the six tables and the two queues) in an account or emulator.
package bootstrap

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/dynamo"
	"github.com/nexus-compliance/nexus/aws/queue"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/commands/settings"
	"github.com/nexus-compliance/nexus/runbooks/audit"
)

// Options are the inputs of bootstrapRun.
type Options struct {
	IO          *iostreams.IOStreams
	Environment func() (*settings.Environment, error)
	DynamoDB    func(context.Context) (dynamo.AdminAPI, error)
	SQS         func(context.Context) (queue.API, error)
	Printer     func() (*printer.Printer, error)
	Audit       func(audit.Record) audit.Record

	DryRun     bool
	Yes        bool
	TablesOnly bool
	QueuesOnly bool
}

// Resource is one table or queue and what bootstrap did (or would do) to it.
type Resource struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Action string `json:"action"`
	Detail string `json:"detail,omitempty"`
	URL    string `json:"url,omitempty"`
}

// Report is the -o json form.
type Report struct {
	Environment string     `json:"environment"`
	DryRun      bool       `json:"dry_run"`
	Changed     int        `json:"changed"`
	Resources   []Resource `json:"resources"`
}

// NewCmd builds `nexus db bootstrap`.
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	o := &Options{
		IO:          f.IOStreams,
		Environment: f.Environment,
		DynamoDB: func(ctx context.Context) (dynamo.AdminAPI, error) {
			c, err := f.DynamoDB(ctx)
			if err != nil {
				return nil, err
			}
			return c, nil
		},
		SQS: func(ctx context.Context) (queue.API, error) {
			c, err := f.SQS(ctx)
			if err != nil {
				return nil, err
			}
			return c, nil
		},
		Printer: f.Printer,
		Audit:   f.Audit,
	}
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Create the Nexus tables, queue and DLQ (idempotent)",
		Long: `Create the six Nexus DynamoDB tables exactly as the architecture describes them
(keys, the GSIs MappingKeyIndex, StatusIndex, ControlStatusIndex and ControlKeyIndex, TTL on
MappingJobs.ttl, on-demand billing), then MappingRequestDLQ (14-day retention) and
MappingRequestQueue (60 s visibility, 7-day retention, redrive to the DLQ after 3 receives).

Names come from the environment (tables.*, queue_name/queue_url, dlq_name/dlq_url).
What exists is checked, not re-created: missing indexes and TTL are added and drifted queue
attributes set back; nothing is ever deleted. A second run changes nothing and says so.

The plan is computed first with read-only calls. --dry-run prints it and stops; otherwise,
when there is anything to change, nexus asks on a terminal and needs --yes off one.`,
		Example: `  # See what would be created in the local emulators
  nexus db bootstrap --dry-run --endpoint-url http://127.0.0.1:8000

  # Create everything in the staging account, unattended
  nexus --env staging db bootstrap --yes

  # Only the tables
  nexus db bootstrap --tables-only`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.TablesOnly && o.QueuesOnly {
				return cmdutil.FlagErrorf("--tables-only and --queues-only cannot be used together")
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			ctx, cancel := f.Context(cmd.Context())
			defer cancel()
			return Run(ctx, o)
		},
	}
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "print what would be created or changed; make no change")
	cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "do not ask for confirmation (required off a terminal)")
	cmd.Flags().BoolVar(&o.TablesOnly, "tables-only", false, "only the DynamoDB tables")
	cmd.Flags().BoolVar(&o.QueuesOnly, "queues-only", false, "only the SQS queue and DLQ")
	return cmd
}

// Run plans, confirms, applies and reports.
func Run(ctx context.Context, o *Options) error {
	env, err := o.Environment()
	if err != nil {
		return err
	}
	p, err := o.Printer()
	if err != nil {
		return err
	}
	plan, err := apply(ctx, o, env, true)
	if err != nil {
		return err
	}
	if o.DryRun || changes(plan) == 0 {
		// With nothing to change, the read-only plan is the whole result.
		rep := Report{Environment: env.Name, DryRun: o.DryRun, Changed: changes(plan), Resources: plan}
		if err := print(p, rep); err != nil {
			return err
		}
		if rep.Changed == 0 {
			fmt.Fprintf(o.IO.ErrOut, "Nothing to change: every table and queue of %q is as Nexus expects.\n", env.Name)
		} else {
			fmt.Fprintf(o.IO.ErrOut, "Dry run: %d of %d resources would change; nothing was changed.\n", rep.Changed, len(plan))
		}
		return nil
	}
	if err := confirm(o, env, plan); err != nil {
		return err
	}
	done, applyErr := apply(ctx, o, env, false)
	rep := Report{Environment: env.Name, Changed: changes(done), Resources: done}
	result := "ok"
	if applyErr != nil {
		result = "failed"
	}
	o.Audit(audit.Record{
		Environment: env.Name, Action: "db.bootstrap", Result: result,
		Params:  map[string]any{"tables_only": o.TablesOnly, "queues_only": o.QueuesOnly},
		Details: map[string]any{"changed": rep.Changed, "resources": len(done)},
	})
	if err := print(p, rep); err != nil {
		return err
	}
	if applyErr != nil {
		return applyErr
	}
	fmt.Fprintf(o.IO.ErrOut, "%d of %d resources changed in %q.\n", rep.Changed, len(done), env.Name)
	return nil
}

// apply runs the tables and then the queues, planning only when plan is set.
func apply(ctx context.Context, o *Options, env *settings.Environment, plan bool) ([]Resource, error) {
	var out []Resource
	if !o.QueuesOnly {
		api, err := o.DynamoDB(ctx)
		if err != nil {
			return nil, err
		}
		ensure := dynamo.EnsureTables
		if plan {
			ensure = dynamo.PlanTables
		}
		tables, err := ensure(ctx, api, env.Tables)
		for _, t := range tables {
			out = append(out, Resource{Kind: "dynamodb-table", Name: t.Name, Action: string(t.Action), Detail: t.Detail})
		}
		if err != nil {
			return out, err
		}
	}
	if !o.TablesOnly {
		api, err := o.SQS(ctx)
		if err != nil {
			return out, err
		}
		ensure := queue.EnsureQueues
		if plan {
			ensure = queue.PlanQueues
		}
		queues, err := ensure(ctx, api, queueName(env.QueueURL, env.QueueName), queueName(env.DLQURL, env.DLQName))
		for _, q := range queues {
			out = append(out, Resource{Kind: q.Kind, Name: q.Name, Action: q.Action, Detail: q.Detail, URL: q.URL})
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// queueName prefers the name in a configured URL, so bootstrap creates the
// queue the rest of nexus will look for.
func queueName(url, name string) string {
	if url != "" {
		return queue.NameFromURL(url)
	}
	return name
}

func changes(rs []Resource) int {
	n := 0
	for _, r := range rs {
		if r.Action != string(dynamo.Unchanged) {
			n++
		}
	}
	return n
}

func confirm(o *Options, env *settings.Environment, plan []Resource) error {
	var what []string
	for _, r := range plan {
		if r.Action != string(dynamo.Unchanged) {
			what = append(what, fmt.Sprintf("  %s %s %s", r.Action, r.Kind, r.Name))
		}
	}
	if o.Yes {
		return nil
	}
	if !o.IO.CanPrompt() {
		return cmdutil.FlagErrorf("bootstrap would change %d resources in %q; pass --yes to do it without a terminal (or --dry-run to look first):\n%s",
			len(what), env.Name, strings.Join(what, "\n"))
	}
	fmt.Fprintf(o.IO.ErrOut, "In environment %q:\n%s\n", env.Name, strings.Join(what, "\n"))
	ok, err := o.IO.Confirm("Apply these changes?")
	if err != nil {
		return err
	}
	if !ok {
		return cmdutil.CancelError
	}
	return nil
}

func print(p *printer.Printer, rep Report) error {
	return p.Print(rep, func() printer.Table {
		t := printer.Table{Headers: []string{"KIND", "NAME", "ACTION", "DETAIL"}}
		for _, r := range rep.Resources {
			t.Rows = append(t.Rows, []string{r.Kind, r.Name, r.Action, r.Detail})
		}
		return t
	})
}
