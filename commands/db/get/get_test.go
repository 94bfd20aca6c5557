package get

import (
	"encoding/json"
	"fmt"
	"slices"
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
	cmd.SetArgs([]string{"mappings", "--key", "controlKey=" + control, "-k", "mappedControlKey=NIST-SP-800-53#R5#AC-1", "--raw", "--consistent-read", "-p", "status"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Table != "mappings" || len(got.KeyValues) != 0 || !slices.Equal(got.Keys, []string{"controlKey=" + control, "mappedControlKey=NIST-SP-800-53#R5#AC-1"}) ||
		!got.Raw || !got.ConsistentRead || !slices.Equal(got.Projection, []string{"status"}) {
		t.Fatalf("got %+v", got)
	}
	cmd = NewCmd(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"jobs", "550e8400-e29b-41d4-a716-446655440000"})
	if err := cmd.Execute(); err != nil || !slices.Equal(got.KeyValues, []string{"550e8400-e29b-41d4-a716-446655440000"}) {
		t.Fatalf("positional: %+v %v", got, err)
	}
	for _, args := range [][]string{{"jobs"}, {"jobs", "a", "--key", "job_id=a"}, {"jobs", "a", "b", "c"}} {
		cmd = NewCmd(f, func(*Options) error { return nil })
		cmd.SetArgs(args)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		if err := cmd.Execute(); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
			t.Errorf("%v: %v", args, err)
		}
	}
}

func TestGetRun(t *testing.T) {
	t.Parallel()
	c, tables := dynamotest.Setup(t)
	dynamotest.Put(t, c, tables.Jobs, map[string]any{"job_id": "job-1", "status": "FAILED", "error_message": "Control not found in database", "ttl": 1705917600})
	dynamotest.Put(t, c, tables.Mappings, map[string]any{"controlKey": control, "mappedControlKey": "NIST-SP-800-53#R5#AC-1", "mappingKey": "k", "status": "APPROVED", "rerank_score": 0.92})
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

	out, err := run(false, "", "jobs", "job-1")
	if err != nil {
		t.Fatal(err)
	}
	if want := "job_id\tjob-1\nerror_message\tControl not found in database\nstatus\tFAILED\nttl\t1705917600\n"; out != want {
		t.Fatalf("off terminal:\n%q\nwant\n%q", out, want)
	}
	out, err = run(true, "", "jobs", "--key", "job_id=job-1")
	if err != nil || !strings.HasPrefix(out, "job_id:         job-1\nerror_message:  Control not found in database\n") {
		t.Fatalf("terminal:\n%s %v", out, err)
	}
	out, err = run(false, "json", "mappings", "--key", `{"controlKey":"`+control+`","mappedControlKey":"NIST-SP-800-53#R5#AC-1"}`)
	var m map[string]any
	if err != nil || json.Unmarshal([]byte(out), &m) != nil || m["rerank_score"] != 0.92 || m["status"] != "APPROVED" {
		t.Fatalf("json: %s %v", out, err)
	}
	out, err = run(false, "json", "mappings", control, "NIST-SP-800-53#R5#AC-1", "--raw", "-p", "status")
	if err != nil || strings.Join(strings.Fields(out), "") != `{"status":{"S":"APPROVED"}}` {
		t.Fatalf("raw projection: %s %v", out, err)
	}

	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"jobs", "nope"}, cmdutil.ExitNotFound, `item "job_id=nope" not found`},
		{[]string{"mappings", control}, cmdutil.ExitUsage, "missing key attribute mappedControlKey"},
		{[]string{"mappings", "--key", "controlKey"}, cmdutil.ExitUsage, "expected ATTR=VALUE"},
		{[]string{"mappings", "--key", "status=x"}, cmdutil.ExitUsage, "status is not a key attribute"},
		{[]string{"mappings", "--key", `{"controlKey":`}, cmdutil.ExitUsage, "invalid --key"},
		{[]string{"mappings", "--key", `{"controlKey":true}`}, cmdutil.ExitUsage, "is of type S"},
		{[]string{"nexus-no-such-table", "x"}, cmdutil.ExitNotFound, "table"},
	} {
		_, err := run(false, "", tt.args...)
		if cmdutil.ExitCode(err) != tt.code || !strings.Contains(fmt.Sprint(err), tt.msg) {
			t.Errorf("%v: exit %d, %v; want %d %q", tt.args, cmdutil.ExitCode(err), err, tt.code, tt.msg)
		}
	}
}
