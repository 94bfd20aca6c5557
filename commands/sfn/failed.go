package sfn

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/sfnx"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/printer"
)

// FailedOptions are the inputs of `nexus sfn failed`.
type FailedOptions struct {
	Deps
	Ctx context.Context

	Since       time.Duration
	Statuses    []types.ExecutionStatus
	Limit       int
	Concurrency int
}

// NewCmdFailed builds `nexus sfn failed`. runF replaces FailedRun in tests.
func NewCmdFailed(f *cmdutil.Factory, runF func(*FailedOptions) error) *cobra.Command {
	opts := &FailedOptions{Deps: NewDeps(f)}
	var since, status string
	cmd := &cobra.Command{
		Use:   "failed",
		Short: "List failed executions with the failing state and error",
		Long: `List the executions of the state machine that ended FAILED, TIMED_OUT or ABORTED within --since,
the most recent first: the state that failed, the error and the first line of its cause (a
Python Lambda's errorType and errorMessage when the cause is one), the job_id and
control_key of the job message, when it stopped, and whether it can be redriven.

Each execution costs one DescribeExecution and one or two pages of history (read newest
first, without execution data); --concurrency of them run at once.`,
		Example: `  nexus sfn failed
  nexus sfn failed --since 7d --status TIMED_OUT
  nexus sfn failed -o json | jq '.[] | select(.redrivable)'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.Since, err = parseSince(since); err != nil {
				return err
			}
			if opts.Statuses, err = sfnx.ParseStatuses(status); err != nil {
				return cmdutil.FlagErrorf("--status: %v", err)
			}
			if opts.Limit < 0 {
				return cmdutil.FlagErrorf("--limit must be 0 (no limit) or positive, not %d", opts.Limit)
			}
			if opts.Concurrency < 1 || opts.Concurrency > 32 {
				return cmdutil.FlagErrorf("--concurrency must be between 1 and 32, not %d", opts.Concurrency)
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return FailedRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&since, "since", "24h", "only executions that stopped within this `duration` (90m, 24h, 7d)")
	fl.StringVar(&status, "status", "FAILED,TIMED_OUT,ABORTED", "comma-separated execution `statuses`")
	fl.IntVar(&opts.Limit, "limit", 50, "show at most `N` executions (0: all)")
	fl.IntVar(&opts.Concurrency, "concurrency", sfnx.DefaultConcurrency, "executions read at once")
	return cmd
}

// FailedExecution is one row of `nexus sfn failed`.
type FailedExecution struct {
	sfnx.Summary
	JobID               string        `json:"job_id,omitempty"`
	ControlKey          string        `json:"control_key,omitempty"`
	Redrivable          bool          `json:"redrivable"`
	RedriveStatus       string        `json:"redrive_status,omitempty"`
	RedriveStatusReason string        `json:"redrive_status_reason,omitempty"`
	Failure             *sfnx.Failure `json:"failure,omitempty"`
	Warning             string        `json:"warning,omitempty"`
}

// Failed lists and explains the failed executions.
func Failed(ctx context.Context, api sfnx.API, stateMachine string, since time.Time, statuses []types.ExecutionStatus, limit, concurrency int) ([]FailedExecution, error) {
	list, err := sfnx.List(ctx, api, sfnx.ListOptions{StateMachineARN: stateMachine, Statuses: statuses, Since: since, Limit: limit})
	if err != nil {
		return nil, err
	}
	rows := make([]FailedExecution, len(list))
	sfnx.ForEach(ctx, len(list), concurrency, func(i int) {
		r := FailedExecution{Summary: list[i]}
		e, err := sfnx.Describe(ctx, api, r.ARN)
		if err != nil {
			r.Warning = "describe: " + cmdutil.Describe(err)
		} else {
			r.JobID, r.ControlKey = e.JobID, e.ControlKey
			r.Redrivable, r.RedriveStatus, r.RedriveStatusReason = e.Redrivable(), e.RedriveStatus, e.RedriveStatusReason
		}
		if r.Failure, err = sfnx.FindFailure(ctx, api, r.ARN); err != nil {
			r.Warning = strings.TrimPrefix(r.Warning+"; history: "+cmdutil.Describe(err), "; ")
		}
		if r.Failure == nil && e != nil && (e.Error != "" || e.Cause != "") {
			r.Failure = &sfnx.Failure{Kind: sfnx.KindExecution, Error: e.Error, Cause: e.Cause}
		}
		rows[i] = r
	})
	return rows, ctx.Err()
}

// FailedRun runs `nexus sfn failed`.
func FailedRun(opts *FailedOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	ctx, cancel := opts.Context(opts.Ctx)
	defer cancel()
	_, sm, api, err := opts.connect(ctx)
	if err != nil {
		return err
	}
	rows, err := Failed(ctx, api, sm, opts.Now().Add(-opts.Since), opts.Statuses, opts.Limit, opts.Concurrency)
	if err != nil {
		return err
	}
	if len(rows) == 0 && !p.IsStructured() {
		fmt.Fprintf(opts.IO.ErrOut, "No %s executions in the last %s.\n", joinStatus(opts.Statuses), fmtDur(opts.Since))
		return nil
	}
	tty := opts.IO.IsStdoutTTY()
	return p.Print(rows, func() printer.Table { return failedTable(rows, tty) })
}

func joinStatus(ss []types.ExecutionStatus) string {
	var b []string
	for _, s := range ss {
		b = append(b, string(s))
	}
	return strings.Join(b, "/")
}

func failedTable(rows []FailedExecution, tty bool) printer.Table {
	t := printer.Table{Headers: []string{"STOPPED", "STATUS", "STATE", "ERROR", "JOB", "CONTROL", "REDRIVABLE", "EXECUTION"}}
	for _, r := range rows {
		state, errText := "-", "-"
		if r.Failure != nil {
			if r.Failure.State != "" {
				state = r.Failure.State
			}
			if r.Failure.MapState != "" && r.Failure.MapIndex != nil && r.Failure.MapState != state {
				state = fmt.Sprintf("%s[%d] %s", r.Failure.MapState, *r.Failure.MapIndex, state)
			}
			errText = r.Failure.Summary()
		}
		if r.Warning != "" && errText == "-" {
			errText = "warning: " + r.Warning
		}
		red := "no"
		switch {
		case r.Redrivable:
			red = "yes"
		case r.RedriveStatusReason != "":
			red = "no: " + r.RedriveStatusReason
		case r.RedriveStatus == "":
			red = "-"
		}
		name, ctl := r.Name, r.ControlKey
		if tty {
			errText, ctl, red = truncate(errText, 60), truncate(ctl, 40), truncate(red, 30)
		} else {
			name = r.ARN
		}
		t.Rows = append(t.Rows, []string{fmtTime(r.Stop), r.Status, state, errText, dash(r.JobID), dash(ctl), red, name})
	}
	return t
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
