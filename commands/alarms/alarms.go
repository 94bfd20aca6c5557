// Package alarms is `nexus alarms`: the CloudWatch alarms of the account,
// metric and composite, with their state and what they watch.
package alarms

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/cw"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/printer"
)

// Options are the inputs of `nexus alarms`.
type Options struct {
	IO         *iostreams.IOStreams
	CloudWatch func(context.Context) (cw.API, error)
	Printer    func() (*printer.Printer, error)
	Context    func(parent context.Context) (context.Context, context.CancelFunc)
	Now        func() time.Time

	Ctx    context.Context
	State  string
	Prefix string
}

// NewCmd builds `nexus alarms`.
func NewCmd(f *cmdutil.Factory) *cobra.Command { return NewCmdAlarms(f, nil) }

// NewCmdAlarms builds `nexus alarms`. runF replaces alarmsRun in tests.
func NewCmdAlarms(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{
		IO: f.IOStreams,
		CloudWatch: func(ctx context.Context) (cw.API, error) {
			c, err := f.CloudWatch(ctx)
			if err != nil {
				return nil, err
			}
			return c, nil
		},
		Printer: f.Printer,
		Context: f.Context,
		Now:     f.Now,
	}
	var state string
	cmd := &cobra.Command{
		Use:   "alarms",
		Short: "List CloudWatch alarms with their state, reason and condition",
		Long: `List the CloudWatch alarms of the environment's account and region, metric and
composite: name, state, the first line of the state reason, how long ago the state was
last updated, and what the alarm watches (statistic, metric, threshold; the rule of a
composite alarm).

The seed's alarms are DLQ Not Empty (ApproximateNumberOfMessagesVisible > 0 on
MappingRequestDLQ), Queue Backlog (> 100 on MappingRequestQueue) and Message Age
(ApproximateAgeOfOldestMessage > 3600 s). Reads only.`,
		Example: `  nexus alarms
  nexus alarms --state ALARM
  nexus alarms --prefix Nexus -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := cw.ParseState(state)
			if err != nil {
				return &cmdutil.FlagError{Err: err}
			}
			opts.State = s
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return alarmsRun(opts)
		},
	}
	cmd.Flags().StringVar(&state, "state", "", "only alarms in this state: ALARM, OK or INSUFFICIENT_DATA")
	cmd.Flags().StringVar(&opts.Prefix, "prefix", "", "only alarms whose name starts with this")
	_ = cmd.RegisterFlagCompletionFunc("state", cobra.FixedCompletions(cw.States, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func alarmsRun(opts *Options) error {
	ctx, cancel := opts.Context(opts.Ctx)
	defer cancel()
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	api, err := opts.CloudWatch(ctx)
	if err != nil {
		return err
	}
	list, err := cw.ListAlarms(ctx, api, cw.Filter{State: opts.State, Prefix: opts.Prefix})
	if err != nil {
		return err
	}
	now := opts.Now()
	if err := p.Print(list, func() printer.Table { return table(list, now) }); err != nil {
		return err
	}
	if len(list) == 0 && !p.IsStructured() && opts.IO.IsStderrTTY() {
		fmt.Fprintln(opts.IO.ErrOut, "No alarms match.")
	}
	return nil
}

func table(list []cw.Alarm, now time.Time) printer.Table {
	t := printer.Table{Headers: []string{"NAME", "STATE", "SINCE", "REASON", "CONDITION"}}
	for _, a := range list {
		t.Rows = append(t.Rows, []string{a.Name, a.State, Age(a.Since, now), a.Reason, a.Condition})
	}
	return t
}

// Age writes how long ago t was, coarsely: "45s", "12m", "3h", "2d".
func Age(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
