package query

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nexus-compliance/nexus/aws/dynamo/dynamotest"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
)

const control = "AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED"

func TestNewCmdFlags(t *testing.T) {
	f, _ := cmdtest.Factory(t, nil)
	var got *Options
	cmd := NewCmd(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"mappings", "--key", "controlKey=" + control, "--sort-key", "begins_with(mappedControlKey,NIST)",
		"--descending", "--index", "ControlStatusIndex", "--where", "rerank_score>=0.9", "-n", "7"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Table != "mappings" || got.Key != "controlKey="+control || got.SortKey != "begins_with(mappedControlKey,NIST)" ||
		!got.Descending || got.Index != "ControlStatusIndex" || len(got.Where) != 1 || got.Limit != 7 {
		t.Fatalf("got %+v", got)
	}
	cmd = NewCmd(f, func(*Options) error { return nil })
	cmd.SetArgs([]string{"mappings"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.Execute(); cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "--key is required") {
		t.Fatalf("missing --key: %v", err)
	}
}

func TestQueryRun(t *testing.T) {
	t.Parallel()
	c, tables := dynamotest.Setup(t)
	var rows []map[string]any
	for i := range 12 {
		status := "APPROVED"
		if i%3 == 0 {
			status = "PENDING_REVIEW"
		}
		rows = append(rows, map[string]any{"controlKey": control, "mappedControlKey": fmt.Sprintf("NIST-SP-800-53#R5#AC-%02d", i),
			"mappingKey": fmt.Sprintf("k%d", i), "status": status, "rerank_score": 0.5 + float64(i)/100})
	}
	rows = append(rows, map[string]any{"controlKey": "AWS.EC2#1.0#PR.1", "mappedControlKey": "NIST-SP-800-53#R5#AC-01", "mappingKey": "x", "status": "PENDING_REVIEW"})
	dynamotest.Put(t, c, tables.Mappings, rows...)
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

	// A bare partition value, a sort-key prefix, descending order, off a
	// terminal.
	out, _, err := run(false, "", "mappings", "--key", control, "--sort-key", "begins_with(mappedControlKey,NIST-SP-800-53#R5#AC-0)",
		"--descending", "--columns", "mappedControlKey,status", "--page-size", "3")
	if err != nil {
		t.Fatal(err)
	}
	want := "NIST-SP-800-53#R5#AC-09\tPENDING_REVIEW\nNIST-SP-800-53#R5#AC-08\tAPPROVED\nNIST-SP-800-53#R5#AC-07\tAPPROVED\n" +
		"NIST-SP-800-53#R5#AC-06\tPENDING_REVIEW\nNIST-SP-800-53#R5#AC-05\tAPPROVED\nNIST-SP-800-53#R5#AC-04\tAPPROVED\n" +
		"NIST-SP-800-53#R5#AC-03\tPENDING_REVIEW\nNIST-SP-800-53#R5#AC-02\tAPPROVED\nNIST-SP-800-53#R5#AC-01\tAPPROVED\n" +
		"NIST-SP-800-53#R5#AC-00\tPENDING_REVIEW\n"
	if out != want {
		t.Fatalf("got\n%s", out)
	}

	// Through the StatusIndex GSI, with a filter, on a terminal.
	out, _, err = run(true, "", "mappings", "--index", "StatusIndex", "--key", "status=PENDING_REVIEW", "--where", "rerank_score>=0.55",
		"--columns", "status,controlKey,mappedControlKey")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "status ") || strings.Count(out, "\n") != 3 || !strings.Contains(out, "AC-09") || strings.Contains(out, "AC-00") {
		t.Fatalf("index query:\n%s", out)
	}

	// The limit stops early with a resumable token.
	out, errOut, err := run(false, "jsonl", "mappings", "--key", control, "--limit", "5", "--page-size", "4")
	if err != nil || strings.Count(out, "\n") != 5 || !strings.Contains(errOut, "--starting-token") {
		t.Fatalf("limit: %q %q %v", out, errOut, err)
	}

	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"mappings", "--key", "status=APPROVED"}, cmdutil.ExitUsage, "the key attribute is controlKey, not status"},
		{[]string{"mappings", "--key", control, "--sort-key", "begins_with(status,A)"}, cmdutil.ExitUsage, "the sort key of table"},
		{[]string{"mappings", "--key", control, "--sort-key", "mappedControlKey<>x"}, cmdutil.ExitUsage, "may use =, <"},
		{[]string{"mappings", "--key", control, "--sort-key", "mappedControlKey"}, cmdutil.ExitUsage, "Example: --sort-key"},
		{[]string{"mappings", "--index", "MappingKeyIndex", "--key", "x", "--sort-key", "a=b"}, cmdutil.ExitUsage, "has no sort key"},
		{[]string{"nexus-no-such-table", "--key", "x"}, cmdutil.ExitNotFound, "not found"},
	} {
		_, _, err := run(false, "", tt.args...)
		if cmdutil.ExitCode(err) != tt.code || !strings.Contains(fmt.Sprint(err), tt.msg) {
			t.Errorf("%v: exit %d, %v; want %d %q", tt.args, cmdutil.ExitCode(err), err, tt.code, tt.msg)
		}
	}
}
