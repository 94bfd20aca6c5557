package describe

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/nexus-compliance/nexus/aws/dynamo"
	"github.com/nexus-compliance/nexus/aws/dynamo/dynamotest"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
)

func TestNewCmdFlags(t *testing.T) {
	f, _ := cmdtest.Factory(t, nil)
	var got *Options
	cmd := NewCmd(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"mappings"})
	if err := cmd.Execute(); err != nil || got.Table != "mappings" {
		t.Fatalf("%+v %v", got, err)
	}
	cmd = NewCmd(f, func(*Options) error { return nil })
	cmd.SetArgs([]string{"a", "b"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.Execute(); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Fatalf("two tables: %v", err)
	}
}

func TestDescribeRun(t *testing.T) {
	t.Parallel()
	_, tables := dynamotest.Setup(t)
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
	out, err := run(false, "", "mappings")
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{
		`(?m)^Table\t` + tables.Mappings + `$`, `(?m)^Name\tmappings$`, `(?m)^Status\tACTIVE$`,
		`(?m)^Partition key\tcontrolKey \(S\)$`, `(?m)^Sort key\tmappedControlKey \(S\)$`,
		`(?m)^Billing\tPAY_PER_REQUEST$`, `(?m)^TTL\tDISABLED$`, `(?m)^Items\t0 \(approximate\)$`, `(?m)^ARN\tarn:aws:dynamodb:`,
		`(?m)^GSI ControlStatusIndex\tcontrolKey \(S\), status \(S\); projects ALL; ACTIVE; 0 items, 0 B$`,
		`(?m)^GSI MappingKeyIndex\tmappingKey \(S\); projects KEYS_ONLY; ACTIVE`,
		`(?m)^GSI StatusIndex\tstatus \(S\), controlKey \(S\); projects ALL`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("missing %s in\n%s", re, out)
		}
	}
	out, err = run(true, "", tables.Jobs)
	if err != nil || !strings.Contains(out, "Partition key:  job_id (S)\n") || !strings.Contains(out, "Indexes:        none\n") {
		t.Fatalf("terminal:\n%s %v", out, err)
	}
	out, err = run(false, "json", "controls")
	var tbl dynamo.Table
	if err != nil || json.Unmarshal([]byte(out), &tbl) != nil || len(tbl.Indexes) != 1 || tbl.Indexes[0].Projection != "KEYS_ONLY" || tbl.SortKey.Name != "controlKey" {
		t.Fatalf("json: %s %v", out, err)
	}
	_, err = run(false, "", "nexus-no-such-table")
	if cmdutil.ExitCode(err) != cmdutil.ExitNotFound {
		t.Fatalf("missing: %v", err)
	}
	vars["FRAMEWORKS_TABLE_NAME"] = "nexus-missing-frameworks"
	_, err = run(false, "", "frameworks")
	if cmdutil.ExitCode(err) != cmdutil.ExitNotFound || !strings.Contains(err.Error(), "nexus db bootstrap") {
		t.Fatalf("missing env table: %v", err)
	}
}
