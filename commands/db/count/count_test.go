package count

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/nexus-compliance/nexus/aws/dynamo/dynamotest"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
)

func TestNewCmdFlags(t *testing.T) {
	f, _ := cmdtest.Factory(t, nil)
	var got *Options
	cmd := NewCmd(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"jobs", "--where", "status=PENDING", "--segments", "8", "--page-size", "50"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Table != "jobs" || got.Segments != 8 || got.PageSize != 50 || len(got.Where) != 1 {
		t.Fatalf("got %+v", got)
	}
	cmd = NewCmd(f, func(*Options) error { return nil })
	cmd.SetArgs([]string{"jobs", "--key", "job_id=x", "--segments", "2"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.Execute(); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Fatalf("--key with --segments: %v", err)
	}
}

func TestCountRun(t *testing.T) {
	t.Parallel()
	c, tables := dynamotest.Setup(t)
	statuses := []string{"PENDING", "RUNNING", "COMPLETED", "FAILED"}
	var jobs, maps []map[string]any
	for i := range 120 {
		jobs = append(jobs, map[string]any{"job_id": fmt.Sprintf("job-%03d", i), "status": statuses[i%4]})
	}
	for i := range 10 {
		status := "APPROVED"
		if i < 3 {
			status = "PENDING_REVIEW"
		}
		maps = append(maps, map[string]any{"controlKey": "AWS.EC2#1.0#PR.1", "mappedControlKey": fmt.Sprintf("NIST-SP-800-53#R5#AC-%d", i), "mappingKey": "k", "status": status})
	}
	dynamotest.Put(t, c, tables.Jobs, jobs...)
	dynamotest.Put(t, c, tables.Mappings, maps...)
	vars := dynamotest.Vars(tables)
	run := func(tty bool, output string, args ...string) (string, error) {
		f, s := cmdtest.Factory(t, vars)
		f.IOStreams.SetStdoutTTY(tty)
		if output != "" {
			f.Flags.Output = output
		}
		cmd := NewCmd(f, nil)
		cmd.SetArgs(args)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		err := cmd.Execute()
		return s.Out.String(), err
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"jobs"}, "120\n"},
		{[]string{"jobs", "--where", "status=PENDING"}, "30\n"},
		{[]string{"jobs", "--where", "status<>PENDING", "--segments", "3", "--page-size", "7"}, "90\n"},
		{[]string{"jobs", "--filter", "#s IN (:a, :b)", "--names", "#s=status", "--values", `{":a":"RUNNING",":b":"FAILED"}`}, "60\n"},
		{[]string{"mappings", "--index", "StatusIndex", "--key", "status=PENDING_REVIEW"}, "3\n"},
		{[]string{"mappings", "--key", "AWS.EC2#1.0#PR.1"}, "10\n"},
	} {
		out, err := run(false, "", tt.args...)
		if err != nil || out != tt.want {
			t.Errorf("%v: %q %v, want %q", tt.args, out, err, tt.want)
		}
	}
	out, err := run(true, "", "jobs")
	if err != nil || out != "COUNT\n120\n" {
		t.Fatalf("terminal: %q %v", out, err)
	}
	out, err = run(false, "json", "jobs", "--where", "status=FAILED")
	var res Result
	if err != nil || json.Unmarshal([]byte(out), &res) != nil || res.Count != 30 || res.Scanned != 120 || res.Table != tables.Jobs {
		t.Fatalf("json: %s %v", out, err)
	}
	if _, err := run(false, "", "jobs", "--where", "status"); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Fatalf("bad where: %v", err)
	}
	if _, err := run(false, "", "nexus-no-such-table"); cmdutil.ExitCode(err) != cmdutil.ExitNotFound || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("missing table: %v", err)
	}
}
