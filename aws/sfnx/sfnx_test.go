package sfnx_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nexus-compliance/nexus/aws/awsfake"
	"github.com/nexus-compliance/nexus/aws/sfnx"
)

const sm = "arn:aws:states:us-east-1:123456789012:stateMachine:NexusMapping"

var t0 = time.Date(2024, 1, 15, 10, 0, 0, 0, time.UTC)

func ev(typ string, sec int, prev int64, d map[string]any) awsfake.SFNEvent {
	return awsfake.SFNEvent{Type: typ, Time: t0.Add(time.Duration(sec) * time.Second), Previous: prev, Details: d}
}

const pyCause = `{"errorMessage": "Control AWS.EC2#1.0#PR.1 not found\nmore", "errorType": "ControlNotFoundError", "requestId": "r1", "stackTrace": ["  File \"/var/task/handler.py\", line 42, in handler\n    raise ControlNotFoundError(key)\n"]}`

func fixtures() map[string][]awsfake.SFNEvent {
	start := ev("ExecutionStarted", 0, 0, map[string]any{"input": `{}`})
	return map[string][]awsfake.SFNEvent{
		"lambda": {start,
			ev("TaskStateEntered", 1, 1, map[string]any{"name": "ValidateControl", "input": "{}"}),
			ev("LambdaFunctionScheduled", 1, 2, map[string]any{"resource": "arn:lambda"}),
			ev("LambdaFunctionStarted", 2, 3, nil),
			ev("LambdaFunctionFailed", 3, 4, map[string]any{"error": "ControlNotFoundError", "cause": pyCause}),
			ev("ExecutionFailed", 3, 5, map[string]any{"error": "ControlNotFoundError", "cause": pyCause}),
		},
		"timeout": {start,
			ev("TaskStateEntered", 1, 1, map[string]any{"name": "ScienceModel"}),
			ev("TaskScheduled", 1, 2, map[string]any{"resource": "invoke", "resourceType": "lambda"}),
			ev("TaskTimedOut", 301, 3, map[string]any{"error": "States.Timeout", "resourceType": "lambda", "resource": "invoke"}),
			ev("ExecutionFailed", 301, 4, map[string]any{"error": "States.Timeout"}),
		},
		"map": {start,
			ev("TaskStateEntered", 1, 1, map[string]any{"name": "ScienceModel"}),
			ev("TaskStateExited", 5, 2, map[string]any{"name": "ScienceModel"}),
			ev("MapStateEntered", 5, 3, map[string]any{"name": "GenerateReasoning"}),
			ev("MapStateStarted", 5, 4, map[string]any{"length": 2}),
			ev("MapIterationStarted", 5, 5, map[string]any{"name": "GenerateReasoning", "index": 0}),
			ev("MapIterationStarted", 5, 5, map[string]any{"name": "GenerateReasoning", "index": 1}),
			ev("TaskStateEntered", 6, 6, map[string]any{"name": "Reason"}), // 8: iteration 0
			ev("TaskStateEntered", 6, 7, map[string]any{"name": "Reason"}), // 9: iteration 1
			ev("TaskStateExited", 9, 8, map[string]any{"name": "Reason"}),  // 10
			ev("MapIterationSucceeded", 9, 10, map[string]any{"name": "GenerateReasoning", "index": 0}),
			ev("TaskFailed", 12, 9, map[string]any{"error": "Bedrock.ThrottlingException", "cause": "rate exceeded\ntrace", "resourceType": "lambda", "resource": "invoke"}), // 12
			ev("MapIterationFailed", 12, 12, map[string]any{"name": "GenerateReasoning", "index": 1}),
			ev("MapStateFailed", 12, 13, nil),
			ev("ExecutionFailed", 12, 14, map[string]any{"error": "Bedrock.ThrottlingException", "cause": "rate exceeded"}),
		},
		"maprun": {start,
			ev("MapStateEntered", 1, 1, map[string]any{"name": "GenerateReasoning"}),
			ev("MapStateStarted", 1, 2, nil),
			ev("MapRunStarted", 1, 3, map[string]any{"mapRunArn": "arn:maprun"}),
			ev("MapRunFailed", 9, 4, map[string]any{"error": "States.ExceedToleratedFailureThreshold", "cause": "too many failed"}),
			ev("MapStateFailed", 9, 5, nil),
			ev("ExecutionFailed", 9, 6, map[string]any{"error": "States.ExceedToleratedFailureThreshold"}),
		},
		"runtime": {start,
			ev("TaskStateEntered", 1, 1, map[string]any{"name": "ValidateControl"}),
			ev("TaskStateExited", 2, 2, map[string]any{"name": "ValidateControl"}),
			ev("ChoiceStateEntered", 2, 3, map[string]any{"name": "CheckEnrichment"}),
			ev("ExecutionFailed", 2, 4, map[string]any{"error": "States.Runtime", "cause": "An error occurred while executing the state 'CheckEnrichment'. Invalid path '$.enriched'"}),
		},
	}
}

func setup(t *testing.T, page int) (*awsfake.SFNServer, sfnx.API) {
	s := awsfake.NewSFNServer(t)
	s.PageSize = page
	i := 0
	for name, evs := range fixtures() {
		i++
		s.AddExecution(awsfake.SFNExecution{ARN: sm[:strings.Index(sm, ":stateMachine:")] + ":execution:NexusMapping:" + name, Name: name,
			StateMachineARN: sm, Status: "FAILED", Start: t0.Add(time.Duration(i) * time.Minute), Stop: t0.Add(time.Duration(i)*time.Minute + time.Second),
			Input: fmt.Sprintf(`{"job_id":"job-%s","control_key":"AWS.EC2#1.0#PR.1","target_framework_key":"NIST"}`, name), Events: evs})
	}
	return s, s.SFNClient()
}

func TestFindFailureKindsOnFake(t *testing.T) {
	t.Parallel()
	s, api := setup(t, 2) // two events a page: the reverse read spans pages
	for _, tc := range []struct{ name, kind, state, err, summary string }{
		{"lambda", sfnx.KindLambda, "ValidateControl", "ControlNotFoundError", "ControlNotFoundError: Control AWS.EC2#1.0#PR.1 not found"},
		{"timeout", sfnx.KindTimeout, "ScienceModel", "States.Timeout", "States.Timeout"},
		{"map", sfnx.KindMapIteration, "Reason", "Bedrock.ThrottlingException", "Bedrock.ThrottlingException: rate exceeded"},
		{"maprun", sfnx.KindMapRun, "GenerateReasoning", "States.ExceedToleratedFailureThreshold", "States.ExceedToleratedFailureThreshold: too many failed"},
		{"runtime", sfnx.KindRuntime, "CheckEnrichment", "States.Runtime", "States.Runtime: An error occurred while executing the state 'CheckEnrichment'. Invalid path '$.enriched'"},
	} {
		arn, _ := sfnx.ExecutionARN(sm, tc.name)
		f, err := sfnx.FindFailure(context.Background(), api, arn)
		if err != nil || f == nil {
			t.Fatalf("%s: %v %v", tc.name, f, err)
		}
		if f.Kind != tc.kind || f.State != tc.state || f.Error != tc.err || f.Summary() != tc.summary {
			t.Errorf("%s: got kind=%s state=%s err=%s summary=%q", tc.name, f.Kind, f.State, f.Error, f.Summary())
		}
		// the same answer from the forward history
		evs, _ := sfnx.History(context.Background(), api, arn, sfnx.HistoryOptions{})
		if g := sfnx.FailureOf(evs); g == nil || g.State != f.State || g.Kind != f.Kind {
			t.Errorf("%s: FailureOf = %+v", tc.name, g)
		}
	}
	arn, _ := sfnx.ExecutionARN(sm, "map")
	f, _ := sfnx.FindFailure(context.Background(), api, arn)
	if f.MapState != "GenerateReasoning" || f.MapIndex == nil || *f.MapIndex != 1 {
		t.Errorf("map iteration = %s %v", f.MapState, f.MapIndex)
	}
	arn, _ = sfnx.ExecutionARN(sm, "lambda")
	f, _ = sfnx.FindFailure(context.Background(), api, arn)
	if len(f.Trace) != 2 || !strings.Contains(f.Trace[0], "handler.py") {
		t.Errorf("trace = %q", f.Trace)
	}
	if s.Calls("GetExecutionHistory") < 10 {
		t.Errorf("history read in %d calls; pages of two should need more", s.Calls("GetExecutionHistory"))
	}
}

func TestFindFailureStopsEarlyOnFake(t *testing.T) {
	t.Parallel()
	s, api := setup(t, 2)
	arn, _ := sfnx.ExecutionARN(sm, "lambda") // 6 events: failure and its state are in the newest 5
	if _, err := sfnx.FindFailure(context.Background(), api, arn); err != nil {
		t.Fatal(err)
	}
	if n := s.Calls("GetExecutionHistory"); n != 3 {
		t.Errorf("GetExecutionHistory calls = %d, want 3 (stops once the state is known)", n)
	}
}

func TestPathSummarisesMapOnFake(t *testing.T) {
	t.Parallel()
	_, api := setup(t, 0)
	arn, _ := sfnx.ExecutionARN(sm, "map")
	evs, err := sfnx.History(context.Background(), api, arn, sfnx.HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := sfnx.Path(evs, "GenerateReasoning", t0.Add(time.Hour))
	if len(p) != 2 || p[0].Name != "ScienceModel" || p[0].Status != "succeeded" || p[0].Elapsed != 4*time.Second {
		t.Fatalf("path = %+v", p)
	}
	it := p[1].Iterations
	if p[1].Status != "failed" || it == nil || it.Started != 2 || it.Succeeded != 1 || it.Failed != 1 || it.Longest != 7*time.Second {
		t.Errorf("map step = %+v %+v", p[1], it)
	}
	es := sfnx.Events(evs)
	if es[11].Type != "TaskFailed" || es[11].State != "Reason" || !es[11].Failure {
		t.Errorf("event 12 = %+v", es[11])
	}
}

func TestListPagesAndSinceOnFake(t *testing.T) {
	t.Parallel()
	s, api := setup(t, 2)
	got, err := sfnx.List(context.Background(), api, sfnx.ListOptions{StateMachineARN: sm, Statuses: sfnx.FailedStatuses})
	if err != nil || len(got) != 5 {
		t.Fatalf("%d %v", len(got), err)
	}
	for i := 1; i < len(got); i++ {
		if got[i].When().After(got[i-1].When()) {
			t.Errorf("not newest first: %v", got)
		}
	}
	calls := s.Calls("ListExecutions")
	got, err = sfnx.List(context.Background(), api, sfnx.ListOptions{StateMachineARN: sm, Statuses: sfnx.FailedStatuses[:1], Since: t0.Add(4*time.Minute + 30*time.Second)})
	if err != nil || len(got) != 1 {
		t.Fatalf("since: %d %v", len(got), err)
	}
	if n := s.Calls("ListExecutions") - calls; n != 1 {
		t.Errorf("paged %d times past --since", n)
	}
}

func TestThrottlingIsRetriedOnFake(t *testing.T) {
	t.Parallel()
	s, api := setup(t, 0)
	s.Throttle("DescribeExecution", 2)
	arn, _ := sfnx.ExecutionARN(sm, "lambda")
	e, err := sfnx.Describe(context.Background(), api, arn)
	if err != nil {
		t.Fatal(err)
	}
	if e.JobID != "job-lambda" || e.ControlKey != "AWS.EC2#1.0#PR.1" || !e.Redrivable() {
		t.Errorf("%+v", e)
	}
	if n := s.Calls("DescribeExecution"); n != 3 {
		t.Errorf("calls = %d, want 3 (two throttled, then success)", n)
	}
}

func TestRedriveIdempotentAndRefusedOnFake(t *testing.T) {
	t.Parallel()
	s, api := setup(t, 0)
	ctx := context.Background()
	arn, _ := sfnx.ExecutionARN(sm, "lambda")
	d1, err := sfnx.Redrive(ctx, api, arn, 0)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := sfnx.Redrive(ctx, api, arn, 0) // a retried command: same token
	if err != nil || !d1.Equal(d2) {
		t.Fatalf("retry: %v %v %v", d1, d2, err)
	}
	if e, _ := s.Execution(arn); e.RedriveCount != 1 || e.Status != "RUNNING" {
		t.Errorf("redriven twice? %+v", e)
	}
	_, err = sfnx.Redrive(ctx, api, arn, 1) // new token, now running
	if !sfnx.IsNotRedrivable(err) || !strings.Contains(err.Error(), "RUNNING") {
		t.Errorf("err = %v", err)
	}
	if sfnx.ClientToken(arn, 0) == sfnx.ClientToken(arn, 1) || len(sfnx.ClientToken(arn, 0)) > 64 {
		t.Error("client tokens")
	}
	_, err = sfnx.Describe(ctx, api, arn+"x")
	if !sfnx.IsNotFound(err) {
		t.Errorf("not found: %v", err)
	}
}
