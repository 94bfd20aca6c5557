package get

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nexus-compliance/nexus/aws/awsfake"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/store/local"
)

// TestJobGetShowsItsFailedExecution correlates a local job with the Step
// Functions execution named after it, served by the fake Step Functions
// endpoint (no emulator with redrive runs here), through the Factory's own
// client: --endpoint-url points the SDK at the fake.
func TestJobGetShowsItsFailedExecutionOnFake(t *testing.T) {
	const sm = "arn:aws:states:us-east-1:123456789012:stateMachine:NexusMapping"
	const id = "550e8400-e29b-41d4-a716-446655440000"
	t0 := time.Now().UTC().Add(-time.Hour)
	s := awsfake.NewSFNServer(t)
	cause := `{"errorMessage": "Control not found in database", "errorType": "ControlNotFoundError"}`
	s.AddExecution(awsfake.SFNExecution{ARN: strings.Replace(sm, ":stateMachine:", ":execution:", 1) + ":" + id, Name: id, StateMachineARN: sm,
		Status: "FAILED", Start: t0, Stop: t0.Add(2 * time.Second), Input: `{"job_id":"` + id + `"}`,
		Events: []awsfake.SFNEvent{
			{Type: "ExecutionStarted", Time: t0},
			{Type: "TaskStateEntered", Time: t0.Add(time.Second), Previous: 1, Details: map[string]any{"name": "ValidateControl"}},
			{Type: "LambdaFunctionFailed", Time: t0.Add(2 * time.Second), Previous: 2, Details: map[string]any{"error": "ControlNotFoundError", "cause": cause}},
			{Type: "ExecutionFailed", Time: t0.Add(2 * time.Second), Previous: 3, Details: map[string]any{"error": "ControlNotFoundError", "cause": cause}},
		}})

	path := filepath.Join(t.TempDir(), "nexus.db")
	st, err := local.Open(path, local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	job := pipeline.Job{JobID: id, Status: pipeline.JobFailed, ControlKey: "AWS.EC2#1.0#PR.1", TargetFrameworkKey: "NIST-SP-800-53#R5",
		CreatedAt: t0.Format(time.RFC3339), ErrorMessage: "Control not found in database"}
	if err := st.PutJob(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	_ = st.Close()

	// The SDK reads its credentials from the process environment.
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "nexus-test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "nexus-test")
	f, out := cmdtest.Factory(t, map[string]string{local.EnvPath: path, "STATE_MACHINE_ARN": sm})
	f.Flags.EndpointURL = s.URL
	cmd := NewCmd(f, nil)
	cmd.SetArgs([]string{id, "--store", "local"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err, out.ErrOut.String())
	}
	got := out.Out.String()
	for _, want := range []string{"Execution status\tFAILED", "Execution failure\t", "ControlNotFoundError", ":execution:NexusMapping:" + id} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}
