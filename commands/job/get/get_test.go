package get

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nexus-compliance/nexus/aws/dynamo/dynamotest"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
	"github.com/nexus-compliance/nexus/pipeline"
)

var now = time.Date(2024, 1, 15, 12, 0, 0, 0, time.UTC)

func TestNewCmdFlags(t *testing.T) {
	f, _ := cmdtest.Factory(t, nil)
	var got *Options
	cmd := NewCmd(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"550e8400-e29b-41d4-a716-446655440000"})
	if err := cmd.Execute(); err != nil || got.JobID != "550e8400-e29b-41d4-a716-446655440000" || got.Now == nil {
		t.Fatalf("%+v %v", got, err)
	}
	for _, args := range [][]string{nil, {""}, {"a", "b"}} {
		cmd = NewCmd(f, func(*Options) error { return nil })
		cmd.SetArgs(args)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		if err := cmd.Execute(); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
			t.Errorf("%q: %v", args, err)
		}
	}
}

func TestGetRun(t *testing.T) {
	t.Parallel()
	c, tables := dynamotest.Setup(t)
	dynamotest.Put(t, c, tables.Jobs,
		pipeline.Job{
			JobID: "done", Status: pipeline.JobCompleted, ControlKey: "AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED",
			TargetFrameworkKey: "NIST-SP-800-53#R5", TargetControlIDs: []string{"AC-1", "AC-2"},
			CreatedAt: "2024-01-15T10:00:00Z", UpdatedAt: "2024-01-15T10:05:00Z", CompletedAt: "2024-01-15T10:05:00Z",
			TTL: now.Add(5 * 24 * time.Hour).Unix(),
			Mappings: []map[string]any{
				{"targetControlKey": "NIST-SP-800-53#R5#AC-1", "similarityScore": 0.95, "rerankScore": 0.92, "reasoning": "Strong alignment due to caching of API responses"},
				{"target_control_key": "NIST-SP-800-53#R5#AC-2", "similarity_score": 0.81, "rerank_score": 0.7, "reasoning": "Partial"},
			},
		},
		pipeline.Job{
			JobID: "failed", Status: "IN_PROGRESS", ControlKey: "AWS.EC2#1.0#PR.1", TargetFrameworkKey: "NIST-SP-800-53#R5",
			CreatedAt: "2024-01-15T11:00:00.123456", Error: map[string]any{"Error": "ControlNotFoundError", "Cause": "Control not found in database"},
		},
	)
	vars := dynamotest.Vars(tables)
	run := func(tty bool, output string, args ...string) (string, error) {
		f, s := cmdtest.Factory(t, vars)
		f.Now = func() time.Time { return now }
		f.IOStreams.SetStdoutTTY(tty)
		if output != "" {
			f.Flags.Output = output
		}
		cmd := NewCmd(f, nil)
		cmd.SetArgs(append(args, "--store", "dynamodb"))
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		err := cmd.Execute()
		return s.Out.String(), err
	}

	out, err := run(false, "", "done")
	if err != nil {
		t.Fatal(err)
	}
	want := "Job ID\tdone\nStatus\tCOMPLETED\nControl\tAWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED\nFramework\tNIST-SP-800-53#R5\n" +
		"Target controls\tAC-1, AC-2\nCreated\t2024-01-15T10:00:00Z (2h ago)\nUpdated\t2024-01-15T10:05:00Z (115m ago)\n" +
		"Completed\t2024-01-15T10:05:00Z (115m ago)\nExpires\t2024-01-20T12:00:00Z (in 5d)\nMappings\t2\n" +
		"mapping\tNIST-SP-800-53#R5#AC-1\t0.95\t0.92\tStrong alignment due to caching of API responses\n" +
		"mapping\tNIST-SP-800-53#R5#AC-2\t0.81\t0.7\tPartial\n"
	if out != want {
		t.Fatalf("off terminal:\n%s\nwant\n%s", out, want)
	}

	out, err = run(true, "", "failed")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Status:     RUNNING\n", "Created:    2024-01-15T11:00:00.123456 (59m ago)\n", "Error:      ControlNotFoundError: Control not found in database\n"} {
		if !strings.Contains(out, s) {
			t.Errorf("terminal lacks %q:\n%s", s, out)
		}
	}
	out, err = run(true, "", "done")
	if err != nil || !strings.Contains(out, "\nTARGET                   SIMILARITY   RERANK   REASONING\n") {
		t.Fatalf("terminal mappings:\n%s %v", out, err)
	}

	out, err = run(false, "json", "done")
	var j pipeline.Job
	if err != nil || json.Unmarshal([]byte(out), &j) != nil || j.JobID != "done" || len(j.Mappings) != 2 || j.Mappings[0]["rerankScore"] != 0.92 {
		t.Fatalf("json: %s %v", out, err)
	}

	_, err = run(false, "", "550e8400-e29b-41d4-a716-446655440000")
	if cmdutil.ExitCode(err) != cmdutil.ExitNotFound || !strings.Contains(err.Error(), `job "550e8400-e29b-41d4-a716-446655440000" not found`) {
		t.Fatalf("missing job: %v", err)
	}
	vars["JOB_TABLE_NAME"] = "nexus-missing-jobs"
	_, err = run(false, "", "done")
	if cmdutil.ExitCode(err) != cmdutil.ExitNotFound || !strings.Contains(err.Error(), `table "nexus-missing-jobs" not found`) {
		t.Fatalf("missing table: %v", err)
	}
}
