package sfn

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/sfnx"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/printer"
)

// ShowOptions are the inputs of `nexus sfn show` and `nexus sfn history`.
type ShowOptions struct {
	Deps
	Ctx context.Context

	Exec       string
	Since      time.Duration
	FailedOnly bool
}

func newExecCmd(f *cmdutil.Factory, use, short, long, example string, run func(*ShowOptions) error, runF func(*ShowOptions) error) (*cobra.Command, *ShowOptions) {
	opts := &ShowOptions{Deps: NewDeps(f)}
	var since string
	cmd := &cobra.Command{
		Use: use, Short: short, Long: long, Example: example,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
				return cmdutil.FlagErrorf("expected one EXEC: an execution ARN, an execution name or a job id")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.Since, err = parseSince(since); err != nil {
				return err
			}
			opts.Exec, opts.Ctx = strings.TrimSpace(args[0]), cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return run(opts)
		},
	}
	cmd.Flags().StringVar(&since, "since", "7d", "when EXEC is a job id, look at executions started within this `duration`")
	return cmd, opts
}

const execHelp = `

EXEC is an execution ARN, an execution name, or a job id: nexus first tries the execution
named after it, then the executions started within --since (default 7d) whose input has
that job_id.`

// NewCmdShow builds `nexus sfn show`. runF replaces ShowRun in tests.
func NewCmdShow(f *cmdutil.Factory, runF func(*ShowOptions) error) *cobra.Command {
	cmd, _ := newExecCmd(f, "show EXEC", "Show an execution: input, output, failure and the path of states",
		`Show one execution: status, duration, redrive count and whether it can be redriven, its input
and output, why it failed, and the states it went through with when each was entered and
exited (the states inside a Map state's iterations are summarised on the Map state).`+execHelp,
		`  nexus sfn show 550e8400-e29b-41d4-a716-446655440000
  nexus sfn show arn:aws:states:us-east-1:123456789012:execution:NexusMapping:550e8400 -o json`,
		ShowRun, runF)
	return cmd
}

// NewCmdHistory builds `nexus sfn history`. runF replaces HistoryRun in tests.
func NewCmdHistory(f *cmdutil.Factory, runF func(*ShowOptions) error) *cobra.Command {
	cmd, opts := newExecCmd(f, "history EXEC", "List an execution's history events",
		`List the events of one execution, oldest first, with the state each belongs to and the error
and cause of failures. --failed-only keeps the failures, time-outs and aborts.`+execHelp,
		`  nexus sfn history 550e8400-e29b-41d4-a716-446655440000 --failed-only`,
		HistoryRun, runF)
	cmd.Flags().BoolVar(&opts.FailedOnly, "failed-only", false, "only failure, time-out and abort events")
	return cmd
}

// Detail is the output of `nexus sfn show`.
type Detail struct {
	*sfnx.Execution
	DurationNS time.Duration `json:"duration_ns"`
	Failure    *sfnx.Failure `json:"failure,omitempty"`
	Path       []sfnx.Step   `json:"path"`
}

func (o *ShowOptions) resolve(ctx context.Context) (*sfnx.Execution, sfnx.API, error) {
	_, sm, api, err := o.connect(ctx)
	if err != nil {
		return nil, nil, err
	}
	e, err := Resolve(ctx, api, sm, o.Exec, o.Now().Add(-o.Since))
	return e, api, err
}

// ShowRun runs `nexus sfn show`.
func ShowRun(o *ShowOptions) error {
	p, err := o.Printer()
	if err != nil {
		return err
	}
	ctx, cancel := o.Context(o.Ctx)
	defer cancel()
	e, api, err := o.resolve(ctx)
	if err != nil {
		return err
	}
	evs, err := sfnx.History(ctx, api, e.ARN, sfnx.HistoryOptions{})
	if err != nil {
		return err
	}
	now := o.Now()
	d := Detail{Execution: e, DurationNS: e.Duration(now), Failure: sfnx.FailureOf(evs)}
	failed := ""
	if d.Failure != nil {
		failed = d.Failure.State
	}
	d.Path = sfnx.Path(evs, failed, now)
	if err := p.Print(d, func() printer.Table { return detailTable(d) }); err != nil {
		return err
	}
	if p.IsStructured() || len(d.Path) == 0 {
		return nil
	}
	fmt.Fprintln(o.IO.Out)
	return p.Print(nil, func() printer.Table { return pathTable(d.Path, e.Start) })
}

func detailTable(d Detail) printer.Table {
	e := d.Execution
	rows := [][]string{{"Execution", e.ARN}, {"Status", e.Status}}
	if e.JobID != "" {
		rows = append(rows, []string{"Job", e.JobID})
	}
	if e.ControlKey != "" {
		rows = append(rows, []string{"Control", e.ControlKey})
	}
	if e.TargetFrameworkKey != "" {
		rows = append(rows, []string{"Framework", e.TargetFrameworkKey})
	}
	rows = append(rows, []string{"Started", fmtTime(&e.Start)}, []string{"Stopped", fmtTime(e.Stop)},
		[]string{"Duration", fmtDur(d.DurationNS)}, []string{"Redrives", strconv.Itoa(e.RedriveCount)},
		[]string{"Redrivable", redrivable(e)})
	if f := d.Failure; f != nil {
		state := f.State
		if f.MapState != "" && f.MapIndex != nil && f.MapState != f.State {
			state = fmt.Sprintf("%s (iteration %d of %s)", f.State, *f.MapIndex, f.MapState)
		}
		rows = append(rows, []string{"Failed state", dash(state)}, []string{"Failure", f.Kind}, []string{"Error", dash(f.Error)})
		if f.ErrorType != "" || f.ErrorMessage != "" {
			rows = append(rows, []string{"Lambda error", f.Summary()})
			if n := len(f.Trace); n > 0 {
				rows = append(rows, []string{"At", strings.TrimSpace(f.Trace[max(n-2, 0)])})
			}
		} else if f.Cause != "" {
			rows = append(rows, []string{"Cause", sfnx.FirstLine(f.Cause)})
		}
	} else if e.Error != "" || e.Cause != "" {
		rows = append(rows, []string{"Error", strings.TrimPrefix(e.Error+": "+sfnx.FirstLine(e.Cause), ": ")})
	}
	rows = append(rows, []string{"Input", dash(e.Input)})
	if e.Output != "" {
		rows = append(rows, []string{"Output", e.Output})
	}
	return printer.Table{Detail: true, Rows: rows}
}

func pathTable(path []sfnx.Step, start time.Time) printer.Table {
	t := printer.Table{Headers: []string{"STATE", "TYPE", "ENTERED", "EXITED", "TOOK", "STATUS", "ITERATIONS"}}
	for _, s := range path {
		exited := "-"
		if s.Exited != nil {
			exited = "+" + fmtDur(s.Exited.Sub(start))
		}
		it := "-"
		if s.Iterations != nil {
			i := s.Iterations
			it = fmt.Sprintf("%d started, %d ok, %d failed, %d aborted; longest %s", i.Started, i.Succeeded, i.Failed, i.Aborted, fmtDur(i.Longest))
		}
		t.Rows = append(t.Rows, []string{s.Name, s.Type, "+" + fmtDur(s.Entered.Sub(start)), exited, fmtDur(s.Elapsed), s.Status, it})
	}
	return t
}

// HistoryRun runs `nexus sfn history`.
func HistoryRun(o *ShowOptions) error {
	p, err := o.Printer()
	if err != nil {
		return err
	}
	ctx, cancel := o.Context(o.Ctx)
	defer cancel()
	e, api, err := o.resolve(ctx)
	if err != nil {
		return err
	}
	raw, err := sfnx.History(ctx, api, e.ARN, sfnx.HistoryOptions{})
	if err != nil {
		return err
	}
	evs := sfnx.Events(raw)
	if o.FailedOnly {
		kept := evs[:0]
		for _, ev := range evs {
			if ev.Failure {
				kept = append(kept, ev)
			}
		}
		evs = kept
	}
	tty := o.IO.IsStdoutTTY()
	return p.Print(evs, func() printer.Table {
		t := printer.Table{Headers: []string{"ID", "ELAPSED", "TYPE", "STATE", "ERROR"}}
		for _, ev := range evs {
			msg := strings.TrimPrefix(ev.Error+": "+sfnx.FirstLine(ev.Cause), ": ")
			if le, ok := sfnx.ParseCause(ev.Cause); ok {
				msg = strings.TrimPrefix(ev.Error+": "+le.ErrorType+": "+sfnx.FirstLine(le.ErrorMessage), ": ")
			}
			if tty {
				msg = truncate(msg, 80)
			}
			t.Rows = append(t.Rows, []string{strconv.FormatInt(ev.ID, 10), "+" + fmtDur(ev.Elapsed), ev.Type, dash(ev.State), dash(msg)})
		}
		return t
	})
}
