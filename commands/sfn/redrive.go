package sfn

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/sfnx"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/runbooks/audit"
)

// RedriveOptions are the inputs of `nexus sfn redrive`.
type RedriveOptions struct {
	Deps
	Ctx context.Context

	Execs     []string
	AllFailed bool
	Since     time.Duration
	DryRun    bool
	Yes       bool
}

// NewCmdRedrive builds `nexus sfn redrive`. runF replaces RedriveRun in tests.
func NewCmdRedrive(f *cmdutil.Factory, runF func(*RedriveOptions) error) *cobra.Command {
	opts := &RedriveOptions{Deps: NewDeps(f)}
	var since string
	cmd := &cobra.Command{
		Use:   "redrive [EXEC...]",
		Short: "Redrive failed executions from the state that failed",
		Long: `Redrive executions: Step Functions restarts each from its failed state, keeping the results of
the states that succeeded. EXEC is an execution ARN, an execution name or a job id; with
--all-failed every FAILED, TIMED_OUT or ABORTED execution stopped within --since is taken.

Each execution is described first; one whose redriveStatus is not REDRIVABLE is refused
with the reason Step Functions gives. Each RedriveExecution carries a client token made of
the execution and its current redrive count, so running the same command again (after a
time-out, say) cannot redrive an execution twice.

--dry-run describes and reports, and makes no RedriveExecution call. On a terminal nexus
asks before redriving; elsewhere it needs --yes. The run is written to the audit log.
Exits 3 when any execution was refused or failed to redrive.`,
		Example: `  nexus sfn redrive 550e8400-e29b-41d4-a716-446655440000
  nexus sfn redrive --all-failed --since 6h --dry-run
  nexus sfn redrive --all-failed --since 6h --yes`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.Since, err = parseSince(since); err != nil {
				return err
			}
			opts.Execs = args
			switch {
			case opts.AllFailed && len(args) > 0:
				return cmdutil.FlagErrorf("give EXEC arguments or --all-failed, not both")
			case !opts.AllFailed && len(args) == 0:
				return cmdutil.FlagErrorf("expected EXEC arguments (execution ARNs, names or job ids), or --all-failed --since DURATION")
			case opts.AllFailed && !cmd.Flags().Changed("since"):
				return cmdutil.FlagErrorf("--all-failed needs --since, e.g. --all-failed --since 24h")
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return RedriveRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.AllFailed, "all-failed", false, "redrive every failed execution stopped within --since")
	fl.StringVar(&since, "since", "7d", "with --all-failed: executions stopped within this `duration`; for job ids: started within it")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "report what would be redriven; make no change")
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation (required when not on a terminal)")
	return cmd
}

// Outcomes of a redrive.
const (
	OutcomeRedriven    = "redriven"
	OutcomeWould       = "would redrive"
	OutcomeRefused     = "refused"
	OutcomeFailed      = "failed"
	OutcomeNotResolved = "not found"
)

// RedriveResult is one execution's outcome.
type RedriveResult struct {
	Ref          string     `json:"ref"`
	ARN          string     `json:"execution_arn,omitempty"`
	Status       string     `json:"status,omitempty"`
	Outcome      string     `json:"outcome"`
	Reason       string     `json:"reason,omitempty"`
	RedriveCount int        `json:"redrive_count"`
	ClientToken  string     `json:"client_token,omitempty"`
	RedriveDate  *time.Time `json:"redrive_date,omitempty"`
}

// RedriveSummary is the output of `nexus sfn redrive`.
type RedriveSummary struct {
	Environment string          `json:"environment"`
	DryRun      bool            `json:"dry_run"`
	Redriven    int             `json:"redriven"`
	Refused     int             `json:"refused"`
	Failed      int             `json:"failed"`
	Results     []RedriveResult `json:"results"`
}

// RedriveRun runs `nexus sfn redrive`.
func RedriveRun(opts *RedriveOptions) error {
	if !opts.DryRun && !opts.Yes && !opts.IO.CanPrompt() {
		return cmdutil.FlagErrorf("refusing to redrive without --yes: not on a terminal, so nexus cannot ask.\n" +
			"Preview with --dry-run, then run again with --yes.")
	}
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	ctx, cancel := opts.Context(opts.Ctx)
	defer cancel()
	env, sm, api, err := opts.connect(ctx)
	if err != nil {
		return err
	}
	since := opts.Now().Add(-opts.Since)

	// Plan: resolve and describe every target.
	var results []RedriveResult
	var execs []*sfnx.Execution
	if opts.AllFailed {
		list, err := sfnx.List(ctx, api, sfnx.ListOptions{StateMachineARN: sm, Statuses: sfnx.FailedStatuses, Since: since})
		if err != nil {
			return err
		}
		arns := make([]string, len(list))
		for i, s := range list {
			arns[i] = s.ARN
		}
		described, errs := sfnx.DescribeAll(ctx, api, arns, sfnx.DefaultConcurrency)
		for i := range arns {
			if errs[i] != nil {
				results = append(results, RedriveResult{Ref: arns[i], ARN: arns[i], Outcome: OutcomeFailed, Reason: cmdutil.Describe(errs[i])})
				execs = append(execs, nil)
				continue
			}
			results = append(results, RedriveResult{Ref: arns[i]})
			execs = append(execs, described[i])
		}
	} else {
		for _, ref := range opts.Execs {
			e, err := Resolve(ctx, api, sm, ref, since)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				out := OutcomeFailed
				if cmdutil.ExitCode(err) == cmdutil.ExitNotFound {
					out = OutcomeNotResolved
				}
				results = append(results, RedriveResult{Ref: ref, Outcome: out, Reason: cmdutil.Describe(err)})
				execs = append(execs, nil)
				continue
			}
			results = append(results, RedriveResult{Ref: ref})
			execs = append(execs, e)
		}
	}
	todo := 0
	for i, e := range execs {
		if e == nil {
			continue
		}
		r := &results[i]
		r.ARN, r.Status, r.RedriveCount = e.ARN, e.Status, e.RedriveCount
		if !e.Redrivable() {
			r.Outcome, r.Reason = OutcomeRefused, refusal(e)
			continue
		}
		r.ClientToken = sfnx.ClientToken(e.ARN, e.RedriveCount)
		r.Outcome = OutcomeWould
		todo++
	}

	if !opts.DryRun && todo > 0 && !opts.Yes {
		if !p.IsStructured() {
			for _, r := range results {
				fmt.Fprintf(opts.IO.ErrOut, "  %-13s %s %s\n", r.Outcome, r.ARN, r.Reason)
			}
		}
		ok, err := opts.IO.Confirm(fmt.Sprintf("Redrive %d execution(s) of %s in environment %q?", todo, sm, env.Name))
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintln(opts.IO.ErrOut, "Nothing redriven.")
			return cmdutil.CancelError
		}
	}
	if !opts.DryRun {
		for i := range results {
			r := &results[i]
			if r.Outcome != OutcomeWould {
				continue
			}
			if ctx.Err() != nil {
				r.Outcome, r.Reason = OutcomeFailed, "interrupted before redrive"
				continue
			}
			when, err := sfnx.Redrive(ctx, api, r.ARN, r.RedriveCount)
			switch {
			case sfnx.IsNotRedrivable(err):
				r.Outcome, r.Reason = OutcomeRefused, cmdutil.Describe(err)
			case err != nil:
				r.Outcome, r.Reason = OutcomeFailed, cmdutil.Describe(err)
			default:
				r.Outcome, r.RedriveDate = OutcomeRedriven, &when
			}
		}
	}
	s := RedriveSummary{Environment: env.Name, DryRun: opts.DryRun, Results: results}
	for _, r := range results {
		switch r.Outcome {
		case OutcomeRedriven:
			s.Redriven++
		case OutcomeRefused:
			s.Refused++
		case OutcomeFailed, OutcomeNotResolved:
			s.Failed++
		}
	}
	opts.Audit(redriveRecord(opts, sm, s))
	tty := opts.IO.IsStdoutTTY()
	if err := p.Print(s, func() printer.Table { return redriveTable(s, tty) }); err != nil {
		return err
	}
	if !p.IsStructured() {
		verb := "redriven"
		if opts.DryRun {
			verb = "would be redriven"
		}
		n := s.Redriven
		if opts.DryRun {
			n = todo
		}
		fmt.Fprintf(opts.IO.ErrOut, "%d %s, %d refused, %d failed.\n", n, verb, s.Refused, s.Failed)
	}
	if ctx.Err() != nil {
		return cmdutil.CancelError
	}
	if s.Refused > 0 || s.Failed > 0 {
		return &cmdutil.ProblemsError{Msg: fmt.Sprintf("%d refused, %d failed", s.Refused, s.Failed)}
	}
	return nil
}

func refusal(e *sfnx.Execution) string {
	reason := e.RedriveStatusReason
	if reason == "" {
		reason = "redrive status " + dash(e.RedriveStatus)
	}
	if e.RedriveStatus == "REDRIVABLE_BY_MAP_RUN" {
		reason += " (a Map Run child: redrive its parent execution)"
	}
	return reason
}

func redriveRecord(opts *RedriveOptions, sm string, s RedriveSummary) audit.Record {
	params := map[string]any{"state_machine": sm}
	if opts.AllFailed {
		params["all_failed"], params["since"] = true, opts.Since.String()
	} else {
		params["executions"] = opts.Execs
	}
	details := map[string]any{"redriven": s.Redriven, "refused": s.Refused, "failed": s.Failed}
	byOutcome := map[string][]string{}
	for _, r := range s.Results {
		id := r.ARN
		if id == "" {
			id = r.Ref
		}
		byOutcome[r.Outcome] = append(byOutcome[r.Outcome], id)
	}
	for k, v := range byOutcome {
		details[k] = v
	}
	result := "ok"
	switch {
	case (s.Refused > 0 || s.Failed > 0) && s.Redriven > 0:
		result = "partial"
	case s.Refused > 0 || s.Failed > 0:
		result = "error"
	}
	return audit.Record{Action: "sfn.redrive", Params: params, DryRun: opts.DryRun, Result: result, Details: details}
}

func redriveTable(s RedriveSummary, tty bool) printer.Table {
	t := printer.Table{Headers: []string{"OUTCOME", "STATUS", "REDRIVES", "EXECUTION", "REASON"}}
	for _, r := range s.Results {
		id := r.ARN
		if id == "" {
			id = r.Ref
		}
		reason := r.Reason
		if tty {
			reason = truncate(reason, 70)
		}
		t.Rows = append(t.Rows, []string{r.Outcome, dash(r.Status), strconv.Itoa(r.RedriveCount), id, dash(reason)})
	}
	return t
}
