package scan

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/nexus-compliance/nexus/aws/dynamo"
	"github.com/nexus-compliance/nexus/aws/dynamo/dynamotest"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
	"github.com/nexus-compliance/nexus/commands/settings"
)

func TestNewCmdFlags(t *testing.T) {
	f, _ := cmdtest.Factory(t, nil)
	var got *Options
	cmd := NewCmd(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"jobs", "--where", "status=PENDING", "-w", "created_at<2024-01-01", "--filter", "#s = :s",
		"--names", "#s=status", "--values", `{":s":"RUNNING"}`, "--index", "StatusIndex", "--limit", "5",
		"--page-size", "25", "--starting-token", "tok", "--segments", "4", "--projection", "a,b", "--columns", "a",
		"--raw", "--consistent-read"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want := Options{Table: "jobs", Segments: 4}
	want.Where = []string{"status=PENDING", "created_at<2024-01-01"}
	want.Filter, want.Names, want.Values, want.Index, want.ConsistentRead = "#s = :s", []string{"#s=status"}, `{":s":"RUNNING"}`, "StatusIndex", true
	want.Limit, want.PageSize, want.StartingToken, want.Projection, want.Columns, want.Raw = 5, 25, "tok", []string{"a", "b"}, []string{"a"}, true
	if got.Table != want.Table || got.Segments != want.Segments || !slices.Equal(got.Where, want.Where) ||
		got.FilterFlags.Filter != want.Filter || !slices.Equal(got.Names, want.Names) || got.Values != want.Values ||
		got.Index != want.Index || !got.ConsistentRead || got.Limit != 5 || got.PageSize != 25 ||
		got.StartingToken != "tok" || !slices.Equal(got.Projection, want.Projection) || !slices.Equal(got.Columns, want.Columns) || !got.Raw {
		t.Fatalf("got %+v", got)
	}
	if got.Context == nil || got.DynamoDB == nil || got.Tables == nil || got.Printer == nil {
		t.Fatal("dependencies not set")
	}

	cmd = NewCmd(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"jobs"})
	if err := cmd.Execute(); err != nil || got.Limit != 100 || got.Segments != 1 {
		t.Fatalf("defaults: %+v %v", got, err)
	}

	cmd = NewCmd(f, func(*Options) error { return nil })
	cmd.SetArgs(nil)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.Execute(); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Fatalf("missing TABLE: %v", err)
	}
}

type env struct {
	tables settings.Tables
	vars   map[string]string
}

// setup creates the Nexus tables and n jobs job-000… with statuses in turn,
// one of them with a number more precise than a float64.
func setup(t *testing.T, n int) env {
	t.Helper()
	c, tables := dynamotest.Setup(t)
	statuses := []string{"PENDING", "RUNNING", "COMPLETED", "FAILED"}
	items := make([]map[string]any, n)
	for i := range items {
		items[i] = map[string]any{
			"job_id": fmt.Sprintf("job-%03d", i), "status": statuses[i%4],
			"control_key":          "AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED",
			"target_framework_key": "NIST-SP-800-53#R5",
			"created_at":           fmt.Sprintf("2024-01-15T10:%02d:00Z", i%60),
		}
	}
	dynamotest.Put(t, c, tables.Jobs, items...)
	dynamotest.Put(t, c, tables.Jobs, dynamo.Item{"job_id": dynamo.S("precise"), "ttl": dynamo.N("12345678901234567890.000000001")})
	return env{tables: tables, vars: dynamotest.Vars(tables)}
}

func run(t *testing.T, e env, tty bool, output string, args ...string) (string, string, error) {
	t.Helper()
	f, s := cmdtest.Factory(t, e.vars)
	f.IOStreams.SetStdoutTTY(tty)
	if output != "" {
		f.Flags.Output = output
	}
	cmd := NewCmd(f, nil)
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	return s.Out.String(), s.ErrOut.String(), err
}

func TestScanOutputs(t *testing.T) {
	t.Parallel()
	e := setup(t, 8)

	// Off a terminal: tab-separated rows, no header, keys first.
	out, _, err := run(t, e, false, "", "jobs", "--where", "status=FAILED", "--columns", "job_id,status,created_at")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	sort.Strings(lines)
	want := []string{"job-003\tFAILED\t2024-01-15T10:03:00Z", "job-007\tFAILED\t2024-01-15T10:07:00Z"}
	if !slices.Equal(lines, want) {
		t.Fatalf("got %q", lines)
	}

	// On a terminal: a header and aligned columns; default columns are the
	// key and the first item's scalars.
	out, _, err = run(t, e, true, "", e.tables.Jobs, "--where", "job_id=job-001")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^job_id\s+control_key\s+created_at\s+status\s+target_framework_key\n` +
		`job-001\s+AWS\.ControlCatalog#1\.0#API_GW_CACHE_ENABLED\s+2024-01-15T10:01:00Z\s+RUNNING\s+NIST-SP-800-53#R5\n$`).MatchString(out) {
		t.Fatalf("terminal table:\n%s", out)
	}

	// JSON: a valid array, numbers exact.
	out, _, err = run(t, e, false, "json", "jobs", "--where", "job_id=precise")
	if err != nil {
		t.Fatal(err)
	}
	var items []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &items); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(items) != 1 || string(items[0]["ttl"]) != "12345678901234567890.000000001" {
		t.Fatalf("json: %s", out)
	}
	// --raw: DynamoDB JSON lines.
	out, _, err = run(t, e, false, "jsonl", "jobs", "--where", "job_id=precise", "--raw")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != `{"job_id":{"S":"precise"},"ttl":{"N":"12345678901234567890.000000001"}}` {
		t.Fatalf("raw: %s", out)
	}
	// A raw filter with placeholders and --projection.
	out, _, err = run(t, e, false, "jsonl", "jobs", "--filter", "#s = :s AND begins_with(job_id, :p)",
		"--names", "#s=status", "--values", `{":s":"PENDING",":p":"job-00"}`, "--projection", "job_id")
	if err != nil {
		t.Fatal(err)
	}
	lines = strings.Split(strings.TrimSpace(out), "\n")
	sort.Strings(lines)
	if !slices.Equal(lines, []string{`{"job_id":"job-000"}`, `{"job_id":"job-004"}`}) {
		t.Fatalf("filter: %q", lines)
	}
	// Nothing matches: an empty JSON array.
	out, _, err = run(t, e, false, "json", "jobs", "--where", "status=NOPE")
	if err != nil || strings.TrimSpace(out) != "[]" {
		t.Fatalf("empty: %q %v", out, err)
	}
}

func TestScanPagingLimitAndResume(t *testing.T) {
	t.Parallel()
	e := setup(t, 120)
	keys := func(out string) []string {
		var ks []string
		for l := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
			if l != "" {
				ks = append(ks, strings.Split(l, "\t")[0])
			}
		}
		return ks
	}
	out, errOut, err := run(t, e, false, "", "jobs", "--page-size", "25", "--limit", "30", "--columns", "job_id")
	if err != nil {
		t.Fatal(err)
	}
	first := keys(out)
	m := regexp.MustCompile(`--starting-token (\S+)`).FindStringSubmatch(errOut)
	if len(first) != 30 || m == nil || !strings.Contains(errOut, "Stopped after 30 items (--limit 30)") {
		t.Fatalf("first page: %d items, stderr %q", len(first), errOut)
	}
	out, errOut, err = run(t, e, false, "", "jobs", "--page-size", "25", "--limit", "0", "--columns", "job_id", "--starting-token", m[1])
	if err != nil {
		t.Fatal(err)
	}
	rest := keys(out)
	if len(rest) != 91 || errOut != "" {
		t.Fatalf("rest: %d items, stderr %q", len(rest), errOut)
	}
	all := append(first, rest...)
	sort.Strings(all)
	if len(slices.Compact(all)) != 121 {
		t.Fatalf("first+rest has %d distinct items", len(slices.Compact(all)))
	}

	// Parallel segments give the same set as a serial scan, and a parallel
	// limit is exact.
	out, _, err = run(t, e, false, "", "jobs", "--segments", "4", "--page-size", "10", "--limit", "0", "--columns", "job_id")
	if err != nil {
		t.Fatal(err)
	}
	par := keys(out)
	sort.Strings(par)
	if !slices.Equal(par, all) {
		t.Fatalf("parallel scan: %d items", len(par))
	}
	out, errOut, err = run(t, e, false, "jsonl", "jobs", "--segments", "4", "--page-size", "10", "--limit", "33")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "\n"); n != 33 || !strings.Contains(errOut, "--starting-token") {
		t.Fatalf("parallel limit: %d lines, %q", n, errOut)
	}
}

func TestScanErrors(t *testing.T) {
	t.Parallel()
	e := setup(t, 1)
	tests := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"jobs", "--where", "status"}, cmdutil.ExitUsage, `invalid --where "status": has no operator`},
		{[]string{"jobs", "--where", "begins_with(status)"}, cmdutil.ExitUsage, "Example: --where status=PENDING"},
		{[]string{"jobs", "--filter", "#s = :s", "--names", "#s=status", "--values", `{":s":`}, cmdutil.ExitUsage, `invalid --values`},
		{[]string{"jobs", "--filter", "#s = :s", "--names", "status", "--values", `{":s":"X"}`}, cmdutil.ExitUsage, "expected #PLACEHOLDER=ATTRIBUTE"},
		{[]string{"jobs", "--values", `{":s":"X"}`}, cmdutil.ExitUsage, "only serve --filter"},
		{[]string{"jobs", "--filter", "#s = :s"}, cmdutil.ExitUsage, "DynamoDB rejected the request"},
		{[]string{"jobs", "--index", "Nope"}, cmdutil.ExitUsage, "has no index \"Nope\""},
		{[]string{"jobs", "--starting-token", "garbage"}, cmdutil.ExitUsage, "invalid --starting-token"},
		{[]string{"jobs", "--limit", "-1"}, cmdutil.ExitUsage, "invalid --limit"},
		{[]string{"nexus-no-such-table"}, cmdutil.ExitNotFound, `table "nexus-no-such-table" not found`},
	}
	for _, tt := range tests {
		_, _, err := run(t, e, false, "", tt.args...)
		if cmdutil.ExitCode(err) != tt.code || err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%v: exit %d, err %v; want %d and %q", tt.args, cmdutil.ExitCode(err), err, tt.code, tt.msg)
		}
	}
	// A missing environment table points at bootstrap.
	e.vars["JOB_TABLE_NAME"] = "nexus-missing-jobs"
	_, _, err := run(t, e, false, "", "jobs")
	if cmdutil.ExitCode(err) != cmdutil.ExitNotFound || !strings.Contains(err.Error(), "nexus db bootstrap") {
		t.Fatalf("missing env table: %v", err)
	}
}
