package list

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/nexus-compliance/nexus/aws/dynamo"
	"github.com/nexus-compliance/nexus/aws/dynamo/dynamotest"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
	"github.com/nexus-compliance/nexus/pipeline"
)

const (
	controlA = "AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED"
	controlB = "AWS.EC2#1.0#PR.1"
)

func TestNewCmdFlags(t *testing.T) {
	f, _ := cmdtest.Factory(t, nil)
	var got *Options
	cmd := NewCmd(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--control", controlA, "-s", "approved", "-n", "3", "--page-size", "10"})
	if err := cmd.Execute(); err != nil || got.Control != controlA || got.Status != "approved" || got.Limit != 3 || got.PageSize != 10 {
		t.Fatalf("%+v %v", got, err)
	}
}

func TestPlan(t *testing.T) {
	for _, tt := range []struct {
		control string
		status  pipeline.MappingStatus
		index   string
		cond    string
	}{
		{controlA, pipeline.MappingApproved, dynamo.ControlStatusIndex, "(#n0 = :v0) AND (#n1 = :v1)"},
		{controlA, "", "", "#n0 = :v0"},
		{"", pipeline.MappingPendingReview, dynamo.StatusIndex, "#n0 = :v0"},
		{"", "", "", ""},
	} {
		index, cond := Plan(dynamo.NewBuilder(), tt.control, tt.status)
		if index != tt.index || cond != tt.cond {
			t.Errorf("Plan(%q, %q) = %q, %q", tt.control, tt.status, index, cond)
		}
	}
}

func f64(v float64) *float64 { return &v }

func TestListRun(t *testing.T) {
	t.Parallel()
	c, tables := dynamotest.Setup(t)
	statuses := []pipeline.MappingStatus{pipeline.MappingApproved, pipeline.MappingPendingReview, pipeline.MappingRejected}
	var ms []pipeline.Mapping
	for i := range 60 {
		control := controlA
		if i%2 == 1 {
			control = controlB
		}
		target := fmt.Sprintf("NIST-SP-800-53#R5#AC-%02d", i)
		ms = append(ms, pipeline.Mapping{
			ControlKey: control, MappedControlKey: target, MappingKey: pipeline.MappingKey(control, target),
			ARN: pipeline.MappingARN(pipeline.MappingKey(control, target)), Status: statuses[i%3],
			SimilarityScore: f64(0.9), RerankScore: f64(0.85), Timestamp: "2024-01-15T10:00:00Z",
		})
	}
	dynamotest.Put(t, c, tables.Mappings, ms...)
	vars := dynamotest.Vars(tables)
	run := func(tty bool, output string, args ...string) (string, string, error) {
		f, s := cmdtest.Factory(t, vars)
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
	decode := func(out string) []pipeline.Mapping {
		var got []pipeline.Mapping
		for l := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
			if l == "" {
				continue
			}
			var m pipeline.Mapping
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatal(err)
			}
			got = append(got, m)
		}
		return got
	}
	for _, tt := range []struct {
		args  []string
		count int
		check func(pipeline.Mapping) bool
	}{
		{[]string{"--control", controlA, "--status", "APPROVED"}, 10, func(m pipeline.Mapping) bool { return m.ControlKey == controlA && m.Status == "APPROVED" }},
		{[]string{"--control", controlB}, 30, func(m pipeline.Mapping) bool { return m.ControlKey == controlB }},
		{[]string{"--status", "pending_review"}, 20, func(m pipeline.Mapping) bool { return m.Status == "PENDING_REVIEW" }},
		{nil, 60, nil},
		{[]string{"--status", "ARCHIVED"}, 0, nil},
	} {
		out, errOut, err := run(false, "jsonl", append(tt.args, "--limit", "0", "--page-size", "7")...)
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		got := decode(out)
		if len(got) != tt.count || errOut != "" {
			t.Errorf("%v: %d mappings, stderr %q; want %d", tt.args, len(got), errOut, tt.count)
		}
		for _, m := range got {
			if tt.check != nil && !tt.check(m) {
				t.Errorf("%v: unexpected %+v", tt.args, m)
			}
		}
	}

	// The query of one partition comes back in sort-key order, off a
	// terminal as tab-separated rows; --limit stops early.
	out, errOut, err := run(false, "", "--control", controlA, "--limit", "2", "--page-size", "25")
	if err != nil {
		t.Fatal(err)
	}
	want := controlA + "\tNIST-SP-800-53#R5#AC-00\tAPPROVED\t0.9\t0.85\t2024-01-15T10:00:00Z\n" +
		controlA + "\tNIST-SP-800-53#R5#AC-02\tREJECTED\t0.9\t0.85\t2024-01-15T10:00:00Z\n"
	if out != want || !strings.Contains(errOut, "Showing the first 2 mappings") {
		t.Fatalf("got %q, stderr %q", out, errOut)
	}
	out, _, err = run(true, "", "--status", "REJECTED", "--limit", "3")
	if err != nil || !regexp.MustCompile(`^CONTROL\s+MAPPED CONTROL\s+STATUS\s+SIMILARITY\s+RERANK\s+TIMESTAMP\n`).MatchString(out) || strings.Count(out, "\n") != 4 {
		t.Fatalf("terminal:\n%s %v", out, err)
	}
	out, _, err = run(false, "json", "--control", controlB, "--status", "APPROVED", "--limit", "1")
	var arr []map[string]any
	if err != nil || json.Unmarshal([]byte(out), &arr) != nil || len(arr) != 1 || arr[0]["mappedControlKey"] == nil || arr[0]["rerank_score"] != 0.85 {
		t.Fatalf("json: %s %v", out, err)
	}

	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--status", "DONE"}, cmdutil.ExitUsage, "APPROVED, PENDING_REVIEW, REJECTED, ARCHIVED"},
		{[]string{"--control", "NIST"}, cmdutil.ExitUsage, "e.g. AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED"},
	} {
		_, _, err := run(false, "", tt.args...)
		if cmdutil.ExitCode(err) != tt.code || !strings.Contains(fmt.Sprint(err), tt.msg) {
			t.Errorf("%v: exit %d %v", tt.args, cmdutil.ExitCode(err), err)
		}
	}
	vars["MAPPINGS_TABLE_NAME"] = "nexus-missing-mappings"
	if _, _, err := run(false, "", "--status", "APPROVED"); cmdutil.ExitCode(err) != cmdutil.ExitNotFound {
		t.Fatalf("missing table: %v", err)
	}
}
