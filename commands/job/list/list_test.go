package list

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nexus-compliance/nexus/aws/dynamo/dynamotest"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
	"github.com/nexus-compliance/nexus/pipeline"
)

var now = time.Date(2024, 1, 15, 12, 0, 0, 0, time.UTC)

const (
	controlA = "AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED"
	controlB = "AWS.EC2#1.0#PR.1"
)

func TestNewCmdFlags(t *testing.T) {
	f, _ := cmdtest.Factory(t, nil)
	var got *Options
	cmd := NewCmd(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--status", "pending", "--older-than", "30m", "--control", controlA, "--framework", "NIST-SP-800-53#R5", "-n", "7", "--page-size", "25"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Status != "pending" || got.OlderThan != 30*time.Minute || got.Control != controlA || got.Framework != "NIST-SP-800-53#R5" || got.Limit != 7 || got.PageSize != 25 || got.Now == nil {
		t.Fatalf("got %+v", got)
	}
	cmd = NewCmd(f, func(*Options) error { return nil })
	cmd.SetArgs([]string{"--older-than", "soon"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.Execute(); err == nil {
		t.Fatal("bad duration accepted")
	}
}

// seed writes 120 jobs: job-i was created i minutes before now, with status
// PENDING, RUNNING, COMPLETED, FAILED in turn (every 8th RUNNING one stored
// as the legacy IN_PROGRESS), control A for even i and B for odd, framework
// NIST for i < 60 and SOC2 after.
func seed(t *testing.T) map[string]string {
	t.Helper()
	c, tables := dynamotest.Setup(t)
	statuses := []string{"PENDING", "RUNNING", "COMPLETED", "FAILED"}
	jobs := make([]pipeline.Job, 120)
	for i := range jobs {
		st := statuses[i%4]
		if i%8 == 1 {
			st = "IN_PROGRESS"
		}
		control, fw := controlA, "NIST-SP-800-53#R5"
		if i%2 == 1 {
			control = controlB
		}
		if i >= 60 {
			fw = "SOC2#2017"
		}
		jobs[i] = pipeline.Job{
			JobID: fmt.Sprintf("job-%03d", i), Status: pipeline.JobStatus(st), ControlKey: control, TargetFrameworkKey: fw,
			CreatedAt: now.Add(-time.Duration(i) * time.Minute).Format(time.RFC3339), TTL: now.Add(7 * 24 * time.Hour).Unix(),
		}
	}
	dynamotest.Put(t, c, tables.Jobs, jobs...)
	return dynamotest.Vars(tables)
}

func run(t *testing.T, vars map[string]string, tty bool, output string, args ...string) (string, string, error) {
	t.Helper()
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
	return s.Out.String(), s.ErrOut.String(), err
}

func jobs(t *testing.T, out string) []pipeline.Job {
	t.Helper()
	var js []pipeline.Job
	for l := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var j pipeline.Job
		if err := json.Unmarshal([]byte(l), &j); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		js = append(js, j)
	}
	return js
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	vars := seed(t)
	tests := []struct {
		args  []string
		count int
		check func(pipeline.Job) bool
	}{
		{nil, 120, nil},
		{[]string{"--status", "PENDING"}, 30, func(j pipeline.Job) bool { return j.Status == "PENDING" }},
		{[]string{"--status", "running"}, 30, func(j pipeline.Job) bool { return j.Status == "RUNNING" }},
		{[]string{"--older-than", "30m"}, 89, func(j pipeline.Job) bool { return j.CreatedAt < "2024-01-15T11:30:00Z" }},
		{[]string{"--status", "PENDING", "--older-than", "1h"}, 14, func(j pipeline.Job) bool { return j.Status == "PENDING" && j.JobID > "job-060" }},
		{[]string{"--control", controlB}, 60, func(j pipeline.Job) bool { return j.ControlKey == controlB }},
		{[]string{"--framework", "SOC2#2017", "--status", "FAILED"}, 15, func(j pipeline.Job) bool { return j.TargetFrameworkKey == "SOC2#2017" && j.Status == "FAILED" }},
		{[]string{"--control", controlA, "--framework", "NIST-SP-800-53#R5", "--status", "COMPLETED"}, 15, nil},
	}
	for _, tt := range tests {
		out, errOut, err := run(t, vars, false, "jsonl", append(tt.args, "--limit", "0")...)
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		js := jobs(t, out)
		if len(js) != tt.count || errOut != "" {
			t.Errorf("%v: %d jobs, stderr %q; want %d", tt.args, len(js), errOut, tt.count)
		}
		for _, j := range js {
			if tt.check != nil && !tt.check(j) {
				t.Errorf("%v: unexpected %+v", tt.args, j)
			}
		}
	}
}

func TestListPagingAndOutput(t *testing.T) {
	t.Parallel()
	vars := seed(t)

	// More than one page, stopped early by --limit.
	out, errOut, err := run(t, vars, false, "", "--page-size", "25", "--limit", "40")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "\n"); n != 40 || !strings.Contains(errOut, "Showing the first 40 jobs; more may match") {
		t.Fatalf("%d rows, stderr %q", n, errOut)
	}
	out, _, err = run(t, vars, false, "jsonl", "--page-size", "25", "--status", "FAILED", "--limit", "0")
	if err != nil || strings.Count(out, "\n") != 30 {
		t.Fatalf("filtered across pages: %d %v", strings.Count(out, "\n"), err)
	}

	// Off a terminal: tab-separated, no header.
	out, _, err = run(t, vars, false, "", "--status", "FAILED", "--older-than", "118m")
	if err != nil {
		t.Fatal(err)
	}
	if want := "job-119\tFAILED\t" + controlB + "\tSOC2#2017\t119m\t2024-01-15T10:01:00Z\n"; out != want {
		t.Fatalf("got  %q\nwant %q", out, want)
	}

	// On a terminal: header and AGE column.
	out, _, err = run(t, vars, true, "", "--status", "FAILED", "--older-than", "110m")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^JOB ID\s+STATUS\s+CONTROL\s+FRAMEWORK\s+AGE\s+CREATED\n`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^job-111\s+FAILED\s+AWS\.EC2#1\.0#PR\.1\s+SOC2#2017\s+111m\s+2024-01-15T10:09:00Z$`).MatchString(out) ||
		strings.Count(out, "\n") != 4 {
		t.Fatalf("terminal:\n%s", out)
	}

	// JSON: the pipeline's field names.
	out, _, err = run(t, vars, false, "json", "--status", "FAILED", "--older-than", "118m")
	var js []map[string]any
	if err != nil || json.Unmarshal([]byte(out), &js) != nil || len(js) != 1 {
		t.Fatalf("json: %s %v", out, err)
	}
	for _, k := range []string{"job_id", "status", "control_key", "target_framework_key", "created_at", "ttl"} {
		if _, ok := js[0][k]; !ok {
			t.Errorf("json lacks %s: %v", k, js[0])
		}
	}
}

func TestListErrors(t *testing.T) {
	t.Parallel()
	vars := seed(t)
	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--status", "DONE"}, cmdutil.ExitUsage, "use one of PENDING, RUNNING, COMPLETED, FAILED"},
		{[]string{"--control", "API_GW_CACHE_ENABLED"}, cmdutil.ExitUsage, "{framework}#{version}#{controlId} (e.g. AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED)"},
		{[]string{"--framework", "NIST"}, cmdutil.ExitUsage, "{name}#{version} (e.g. NIST-SP-800-53#R5)"},
		{[]string{"--older-than", "-5m"}, cmdutil.ExitUsage, "positive duration"},
	} {
		_, _, err := run(t, vars, false, "", tt.args...)
		if cmdutil.ExitCode(err) != tt.code || !strings.Contains(fmt.Sprint(err), tt.msg) {
			t.Errorf("%v: exit %d %v; want %d %q", tt.args, cmdutil.ExitCode(err), err, tt.code, tt.msg)
		}
	}
	vars["JOB_TABLE_NAME"] = "nexus-missing-jobs"
	_, _, err := run(t, vars, false, "")
	if cmdutil.ExitCode(err) != cmdutil.ExitNotFound || !strings.Contains(err.Error(), "nexus db bootstrap") {
		t.Fatalf("missing table: %v", err)
	}
}
