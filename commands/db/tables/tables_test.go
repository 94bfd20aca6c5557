package tables

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/nexus-compliance/nexus/aws/dynamo/dynamotest"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
)

func TestNewCmdFlags(t *testing.T) {
	f, _ := cmdtest.Factory(t, nil)
	var got *Options
	cmd := NewCmd(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--all"})
	if err := cmd.Execute(); err != nil || !got.All {
		t.Fatalf("%+v %v", got, err)
	}
}

func TestTablesRun(t *testing.T) {
	t.Parallel()
	c, tables := dynamotest.Setup(t)
	dynamotest.Put(t, c, tables.Frameworks, map[string]any{"frameworkKey": "NIST-SP-800-53#R5", "name": "NIST SP 800-53"})
	vars := dynamotest.Vars(tables)
	vars["ENRICHMENT_TABLE_NAME"] = "nexus-missing-enrichment"
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

	out, errOut, err := run(false, "")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 6 {
		t.Fatalf("want six rows:\n%s", out)
	}
	// dynalite reports TTL as DISABLED (it cannot enable it).
	wantRows := []string{
		`^jobs\t` + tables.Jobs + `\tACTIVE\t0\t0 B\t-\tPAY_PER_REQUEST\t(DISABLED|ttl \(ENABLED\))$`,
		`^mappings\t` + tables.Mappings + `\tACTIVE\t0\t0 B\tControlStatusIndex,MappingKeyIndex,StatusIndex\tPAY_PER_REQUEST\tDISABLED$`,
		`^enrichment\tnexus-missing-enrichment\tMISSING\t-\t-\t-\t-\t-$`,
		`^embedding_cache\t` + tables.EmbeddingCache + `\tACTIVE\t`,
		`^frameworks\t` + tables.Frameworks + `\tACTIVE\t\d+\t\d+ B\t-\t`,
		`^controls\t` + tables.Controls + `\tACTIVE\t0\t0 B\tControlKeyIndex\t`,
	}
	for i, re := range wantRows {
		if !regexp.MustCompile(re).MatchString(lines[i]) {
			t.Errorf("row %d = %q, want %s", i, lines[i], re)
		}
	}
	if !strings.Contains(errOut, "1 of the environment's tables are missing") || !strings.Contains(errOut, "nexus db bootstrap") {
		t.Errorf("stderr %q", errOut)
	}

	out, _, err = run(true, "")
	if err != nil || !regexp.MustCompile(`^NAME\s+TABLE\s+STATUS\s+ITEMS\s+SIZE\s+GSIS\s+BILLING\s+TTL\n`).MatchString(out) {
		t.Fatalf("terminal:\n%s %v", out, err)
	}

	out, _, err = run(false, "json")
	var sums []Summary
	if err != nil || json.Unmarshal([]byte(out), &sums) != nil || len(sums) != 6 || sums[1].Logical != "mappings" || len(sums[1].Indexes) != 3 || sums[2].Status != "MISSING" {
		t.Fatalf("json: %s %v", out, err)
	}

	out, _, err = run(false, "", "--all")
	if err != nil || !strings.Contains(out, "\t"+tables.Controls+"\t") || strings.Contains(out, "MISSING") {
		t.Fatalf("--all: %v\n%s", err, out)
	}
	for l := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if strings.Contains(l, tables.Controls) && !strings.HasPrefix(l, "controls\t") {
			t.Fatalf("--all loses logical names: %q", l)
		}
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 30: "5.0 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
