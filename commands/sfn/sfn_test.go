package sfn

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/awsfake"
	"github.com/nexus-compliance/nexus/aws/sfnx"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
)

const sm = "arn:aws:states:us-east-1:123456789012:stateMachine:NexusMapping"

var t0 = time.Date(2024, 1, 15, 10, 0, 0, 0, time.UTC)

func arn(name string) string { a, _ := sfnx.ExecutionARN(sm, name); return a }

func fake(t *testing.T) *awsfake.SFNServer {
	s := awsfake.NewSFNServer(t)
	s.PageSize = 2
	cause := `{"errorType":"ControlNotFoundError","errorMessage":"Control X not found","stackTrace":[]}`
	failedEvents := []awsfake.SFNEvent{
		{Type: "ExecutionStarted", Time: t0},
		{Type: "TaskStateEntered", Time: t0.Add(time.Second), Previous: 1, Details: map[string]any{"name": "ValidateControl"}},
		{Type: "LambdaFunctionFailed", Time: t0.Add(2 * time.Second), Previous: 2, Details: map[string]any{"error": "ControlNotFoundError", "cause": cause}},
		{Type: "ExecutionFailed", Time: t0.Add(2 * time.Second), Previous: 3, Details: map[string]any{"error": "ControlNotFoundError", "cause": cause}},
	}
	s.AddExecution(awsfake.SFNExecution{ARN: arn("exec-a"), Name: "exec-a", StateMachineARN: sm, Status: "FAILED", Start: t0, Stop: t0.Add(2 * time.Second),
		Input: `{"job_id":"job-a","control_key":"AWS.EC2#1.0#PR.1"}`, Events: failedEvents})
	s.AddExecution(awsfake.SFNExecution{ARN: arn("exec-b"), Name: "exec-b", StateMachineARN: sm, Status: "FAILED", Start: t0.Add(time.Minute), Stop: t0.Add(time.Minute + time.Second),
		Input: `{"job_id":"job-b"}`, RedriveStatus: "NOT_REDRIVABLE", RedriveStatusReason: "Execution history event limit exceeded", Events: failedEvents})
	s.AddExecution(awsfake.SFNExecution{ARN: arn("job-c"), Name: "job-c", StateMachineARN: sm, Status: "SUCCEEDED", Start: t0.Add(2 * time.Minute), Stop: t0.Add(3 * time.Minute),
		Input: `{"job_id":"job-c"}`, Output: `{"ok":true}`, Events: []awsfake.SFNEvent{{Type: "ExecutionStarted", Time: t0.Add(2 * time.Minute)}}})
	return s
}

func run(t *testing.T, s *awsfake.SFNServer, tty bool, stdin string, cmd func(*cmdutil.Factory) *cobra.Command, args ...string) (string, string, error) {
	t.Helper()
	vars := map[string]string{"STATE_MACHINE_ARN": sm}
	if s == nil {
		vars["STATE_MACHINE_ARN"] = ""
	}
	f, st := cmdtest.Factory(t, vars)
	f.Now = func() time.Time { return t0.Add(time.Hour) }
	f.IOStreams.SetStdoutTTY(tty)
	f.IOStreams.SetStdinTTY(tty)
	st.In.WriteString(stdin)
	c := cmd(f)
	c.SetArgs(args)
	c.SilenceErrors, c.SilenceUsage = true, true
	err := c.ExecuteContext(context.Background())
	return st.Out.String(), st.ErrOut.String(), err
}

func cmds(s *awsfake.SFNServer) (failed, show, history, redrive func(*cmdutil.Factory) *cobra.Command) {
	wire := func(d *Deps) {
		if s != nil {
			d.SFN = func(context.Context) (sfnx.API, error) { return s.SFNClient(), nil }
		}
	}
	failed = func(f *cmdutil.Factory) *cobra.Command {
		return NewCmdFailed(f, func(o *FailedOptions) error { wire(&o.Deps); return FailedRun(o) })
	}
	show = func(f *cmdutil.Factory) *cobra.Command {
		return NewCmdShow(f, func(o *ShowOptions) error { wire(&o.Deps); return ShowRun(o) })
	}
	history = func(f *cmdutil.Factory) *cobra.Command {
		return NewCmdHistory(f, func(o *ShowOptions) error { wire(&o.Deps); return HistoryRun(o) })
	}
	redrive = func(f *cmdutil.Factory) *cobra.Command {
		return NewCmdRedrive(f, func(o *RedriveOptions) error { wire(&o.Deps); return RedriveRun(o) })
	}
	return
}

func TestFailedOnFake(t *testing.T) {
	t.Parallel()
	s := fake(t)
	failed, _, _, _ := cmds(s)
	out, _, err := run(t, s, true, "", failed, "--since", "2h")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "ValidateControl") || !strings.Contains(out, "ControlNotFoundError: Control X not found") ||
		!strings.Contains(out, "job-a") || !strings.Contains(out, "no: Execution history") || strings.Contains(out, "job-c") {
		t.Errorf("tty output:\n%s", out)
	}
	if strings.Index(out, "exec-b") > strings.Index(out, "exec-a") {
		t.Errorf("not newest first:\n%s", out)
	}
	out, _, err = run(t, s, false, "", failed, "--since", "2h")
	if err != nil || !strings.Contains(out, arn("exec-a")) {
		t.Errorf("non-tty output shows ARNs: %v\n%s", err, out)
	}
	_, _, err = run(t, s, false, "", failed, "--since", "10m")
	if err != nil {
		t.Error(err)
	}
	_, _, err = run(t, s, false, "", failed, "--status", "BOGUS")
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Errorf("bad status: %v", err)
	}
	_, _, err = run(t, nil, false, "", failed)
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "nexus config set state_machine_arn") {
		t.Errorf("no state machine: %v", err)
	}
}

func TestShowAndHistoryOnFake(t *testing.T) {
	t.Parallel()
	s := fake(t)
	_, show, history, _ := cmds(s)
	out, _, err := run(t, s, false, "", show, "job-a") // found by scanning inputs
	if err != nil || !strings.Contains(out, arn("exec-a")) || !strings.Contains(out, "ValidateControl") || !strings.Contains(out, "lambda") {
		t.Errorf("%v\n%s", err, out)
	}
	out, _, err = run(t, s, false, "", show, "job-c") // execution named after the job
	if err != nil || !strings.Contains(out, `{"ok":true}`) {
		t.Errorf("%v\n%s", err, out)
	}
	_, _, err = run(t, s, false, "", show, "nope")
	if cmdutil.ExitCode(err) != cmdutil.ExitNotFound {
		t.Errorf("missing: %v", err)
	}
	out, _, err = run(t, s, false, "", history, arn("exec-a"), "--failed-only")
	if err != nil || strings.Contains(out, "TaskStateEntered") || !strings.Contains(out, "LambdaFunctionFailed") || !strings.Contains(out, "ControlNotFoundError: Control X not found") {
		t.Errorf("%v\n%s", err, out)
	}
}

func TestRedriveOnFake(t *testing.T) {
	t.Parallel()
	t.Run("dry run makes no mutating call", func(t *testing.T) {
		s := fake(t)
		_, _, _, redrive := cmds(s)
		out, errOut, err := run(t, s, false, "", redrive, "--all-failed", "--since", "2h", "--dry-run")
		if s.MutatingCalls() != 0 || s.Calls("RedriveExecution") != 0 {
			t.Errorf("mutating calls: %d", s.MutatingCalls())
		}
		if cmdutil.ExitCode(err) != cmdutil.ExitProblems || !strings.Contains(out, "would redrive") || !strings.Contains(out, "refused") ||
			!strings.Contains(errOut, "1 would be redriven, 1 refused, 0 failed") {
			t.Errorf("%v\n%s\n%s", err, out, errOut)
		}
	})
	t.Run("needs --yes off a terminal", func(t *testing.T) {
		s := fake(t)
		_, _, _, redrive := cmds(s)
		_, _, err := run(t, s, false, "", redrive, "exec-a")
		if cmdutil.ExitCode(err) != cmdutil.ExitUsage || s.Calls("DescribeExecution") != 0 {
			t.Errorf("%v", err)
		}
	})
	t.Run("asks on a terminal", func(t *testing.T) {
		s := fake(t)
		_, _, _, redrive := cmds(s)
		_, _, err := run(t, s, true, "n\n", redrive, "exec-a")
		if err != cmdutil.CancelError || s.MutatingCalls() != 0 {
			t.Errorf("declined: %v %d", err, s.MutatingCalls())
		}
		_, errOut, err := run(t, s, true, "y\n", redrive, "exec-a")
		if err != nil || !strings.Contains(errOut, "1 redriven, 0 refused, 0 failed") || !strings.Contains(errOut, "sfn.redrive") {
			t.Errorf("%v\n%s", err, errOut)
		}
		if e, _ := s.Execution(arn("exec-a")); e.RedriveCount != 1 {
			t.Errorf("redrive count %d", e.RedriveCount)
		}
	})
	t.Run("refused and accepted, exit 3", func(t *testing.T) {
		s := fake(t)
		_, _, _, redrive := cmds(s)
		s.Throttle("RedriveExecution", 1)
		out, _, err := run(t, s, false, "", redrive, "--yes", "exec-a", "exec-b", "missing")
		if cmdutil.ExitCode(err) != cmdutil.ExitProblems {
			t.Errorf("exit %d: %v", cmdutil.ExitCode(err), err)
		}
		if !strings.Contains(out, "redriven") || !strings.Contains(out, "Execution history event limit exceeded") || !strings.Contains(out, "not found") {
			t.Errorf("%s", out)
		}
		if n := s.Calls("RedriveExecution"); n != 2 {
			t.Errorf("RedriveExecution calls = %d, want 2 (one throttled, retried)", n)
		}
		// A retried command with the same redrive count reuses the token.
		e, _ := s.Execution(arn("exec-a"))
		if _, err := sfnx.Redrive(context.Background(), s.SFNClient(), arn("exec-a"), 0); err != nil || e.RedriveCount != 1 {
			t.Errorf("idempotent retry: %v", err)
		}
		if e2, _ := s.Execution(arn("exec-a")); e2.RedriveCount != 1 {
			t.Errorf("redriven twice")
		}
	})
	t.Run("flags", func(t *testing.T) {
		_, _, _, redrive := cmds(nil)
		for _, args := range [][]string{{}, {"--all-failed"}, {"--all-failed", "--since", "1h", "x"}, {"x", "--since", "bogus"}} {
			_, _, err := run(t, nil, false, "", redrive, args...)
			if cmdutil.ExitCode(err) != cmdutil.ExitUsage {
				t.Errorf("%q: %v", args, err)
			}
		}
	})
}
