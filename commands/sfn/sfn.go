// Package sfn is `nexus sfn`: the Step Functions executions of the mapping
// state machine — which failed and why, their path and history, and redrive.
package sfn

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/sfnx"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/commands/settings"
	"github.com/nexus-compliance/nexus/runbooks/audit"
)

// NewCmd builds `nexus sfn`.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sfn",
		Short: "Inspect and redrive the mapping state machine's executions",
		Long: `The SQS trigger starts one execution of the mapping state machine per job (ValidateControl,
CheckEnrichment, RunEnrichment, ScienceModel, the reasoning Map state, UpdateJob). These
commands find the failed ones, show where and why they failed, and redrive them.

The state machine is the environment's state_machine_arn (STATE_MACHINE_ARN).
EXEC is an execution ARN, an execution name, or a job id.`,
		Example: `  nexus sfn failed --since 6h
  nexus sfn show 550e8400-e29b-41d4-a716-446655440000
  nexus sfn history EXEC --failed-only
  nexus sfn redrive --all-failed --since 24h --dry-run`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdFailed(f, nil), NewCmdShow(f, nil), NewCmdHistory(f, nil), NewCmdRedrive(f, nil))
	return cmd
}

// Deps are what the sfn verbs take from the Factory, as functions so tests
// can replace them.
type Deps struct {
	IO          *iostreams.IOStreams
	Environment func() (*settings.Environment, error)
	SFN         func(context.Context) (sfnx.API, error)
	Printer     func() (*printer.Printer, error)
	Context     func(parent context.Context) (context.Context, context.CancelFunc)
	Audit       func(audit.Record) audit.Record
	Now         func() time.Time
}

// NewDeps takes the dependencies from f.
func NewDeps(f *cmdutil.Factory) Deps {
	return Deps{
		IO:          f.IOStreams,
		Environment: f.Environment,
		SFN: func(ctx context.Context) (sfnx.API, error) {
			c, err := f.SFN(ctx)
			if err != nil {
				return nil, err
			}
			return c, nil
		},
		Printer: f.Printer,
		Context: f.Context,
		Audit:   f.Audit,
		Now:     f.Now,
	}
}

// StateMachine is the environment's state machine ARN, or a usage error
// that says how to set it.
func StateMachine(env *settings.Environment) (string, error) {
	if env.StateMachineARN == "" {
		return "", cmdutil.FlagErrorf("no state machine configured for environment %q: run `nexus config set state_machine_arn ARN` or export STATE_MACHINE_ARN", env.Name)
	}
	return env.StateMachineARN, nil
}

// connect resolves the environment, its state machine and a client.
func (d Deps) connect(ctx context.Context) (*settings.Environment, string, sfnx.API, error) {
	env, err := d.Environment()
	if err != nil {
		return nil, "", nil, err
	}
	sm, err := StateMachine(env)
	if err != nil {
		return nil, "", nil, err
	}
	api, err := d.SFN(ctx)
	if err != nil {
		return nil, "", nil, err
	}
	return env, sm, api, nil
}

// Resolve finds the execution EXEC names: an execution ARN, an execution
// name of the state machine, or a job id (the execution named after it, else
// the one started since whose input carries that job_id).
func Resolve(ctx context.Context, api sfnx.API, stateMachine, ref string, since time.Time) (*sfnx.Execution, error) {
	ref = strings.TrimSpace(ref)
	if strings.HasPrefix(ref, "arn:") {
		if !strings.Contains(ref, ":execution:") {
			return nil, cmdutil.FlagErrorf("%q is not an execution ARN (arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME)", ref)
		}
		e, err := sfnx.Describe(ctx, api, ref)
		if sfnx.IsNotFound(err) {
			return nil, &cmdutil.NotFoundError{What: "execution", Name: ref}
		}
		return e, err
	}
	e, err := sfnx.FindByJobID(ctx, api, stateMachine, ref, since, sfnx.DefaultConcurrency)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return nil, &cmdutil.NotFoundError{What: "execution", Name: ref,
			Hint: fmt.Sprintf("No execution of %s is named %s, and none started since %s has job_id %s in its input; widen --since or pass the execution ARN.",
				stateMachine, ref, since.UTC().Format(time.RFC3339), ref)}
	}
	return e, nil
}

func parseSince(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(d, "%d", &n); err == nil && n > 0 && fmt.Sprint(n) == d {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, cmdutil.FlagErrorf("--since must be a positive duration such as 90m, 24h or 7d, not %q", s)
	}
	return d, nil
}

func fmtTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func redrivable(e *sfnx.Execution) string {
	if e == nil {
		return "-"
	}
	if e.Redrivable() {
		return "yes"
	}
	if e.RedriveStatusReason != "" {
		return "no: " + e.RedriveStatusReason
	}
	if e.RedriveStatus == "" {
		return "-"
	}
	return "no (" + e.RedriveStatus + ")"
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
