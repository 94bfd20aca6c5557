package eval

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
	"github.com/nexus-compliance/nexus/pipeline/catalog/catalogtest"
)

func TestNewCmdFlags(t *testing.T) {
	f, _ := cmdtest.Factory(t, nil)
	var got *Options
	cmd := newCmd(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--queries", "q.jsonl", "--approved", "a.jsonl", "--catalog", "c.json", "--framework", "NIST-SP-800-53#R5",
		"--source-framework", "AWS.SecurityHub#1.0", "--k", "10,20", "--folds", "5"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Queries != "q.jsonl" || got.Approved != "a.jsonl" || got.Catalog != "c.json" || got.Framework != "NIST-SP-800-53#R5" ||
		got.SourceFramework != "AWS.SecurityHub#1.0" || !slices.Equal(got.Ks, []int{10, 20}) || got.Folds != 5 {
		t.Fatalf("got %+v", got)
	}
	if got.Context == nil || got.Printer == nil || got.IO == nil {
		t.Fatal("dependencies not set")
	}

	cmd = newCmd(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--queries", "q", "--catalog", "c", "--framework", "A#1"})
	if err := cmd.Execute(); err != nil || !slices.Equal(got.Ks, []int{5, 10, 20, 50}) || got.SourceFramework != DefaultSourceFramework || got.Folds != 0 || got.Approved != "" {
		t.Fatalf("defaults: %+v %v", got, err)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--catalog", "c", "--framework", "A#1"}, "--queries is required"},
		{[]string{"--queries", "q", "--catalog", "c"}, "--framework is required"},
		{[]string{"--queries", "q", "--catalog", "c", "--framework", "NIST"}, "invalid framework key"},
		{[]string{"--queries", "q", "--catalog", "c", "--framework", "A#1", "--k", "0,5"}, "cut-offs are positive"},
		{[]string{"--queries", "q", "--catalog", "c", "--framework", "A#1", "--folds", "-1"}, "invalid --folds"},
		{[]string{"--queries", "q", "--catalog", "c", "--framework", "A#1", "extra"}, "unknown command"},
	} {
		cmd := newCmd(f, func(*Options) error { t.Fatal("ran"); return nil })
		cmd.SetArgs(tc.args)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
		if !strings.Contains(tc.want, "unknown") && cmdutil.ExitCode(err) != cmdutil.ExitUsage {
			t.Errorf("%v: exit %d, want usage", tc.args, cmdutil.ExitCode(err))
		}
	}
}

func run(t *testing.T, tty bool, output string, args ...string) (string, string, error) {
	t.Helper()
	f, s := cmdtest.Factory(t, nil)
	f.IOStreams.SetStdoutTTY(tty)
	if output != "" {
		f.Flags.Output = output
	}
	cmd := NewCmd(f)
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	return s.Out.String(), s.ErrOut.String(), err
}

func realArgs(t *testing.T, extra ...string) []string {
	return append([]string{"--queries", catalogtest.Path(t, catalogtest.MappingFile), "--catalog", catalogtest.Path(t, catalogtest.CatalogFile),
		"--framework", catalogtest.Framework}, extra...)
}

func keys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestEvalJSON(t *testing.T) {
	out, errOut, err := run(t, false, "json", realArgs(t)...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "note: 24 relevant target(s) are withdrawn") {
		t.Fatalf("stderr: %q", errOut)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &top); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if !slices.Equal(keys(top), []string{"baselines", "queries", "system"}) || string(top["queries"]) != "122" {
		t.Fatalf("top level: %s", out)
	}
	var baselines map[string]json.RawMessage
	_ = json.Unmarshal(top["baselines"], &baselines)
	if !slices.Equal(keys(baselines), []string{"bm25", "popularity"}) {
		t.Fatalf("baselines: %s", top["baselines"])
	}
	metricKeys := []string{"mrr", "ndcg@20", "recall@10", "recall@20", "recall@5", "recall@50"}
	for _, raw := range []json.RawMessage{top["system"], baselines["popularity"], baselines["bm25"]} {
		var m map[string]float64
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		if !slices.Equal(ks, metricKeys) {
			t.Fatalf("metric keys %v", ks)
		}
	}
	var sys map[string]float64
	_ = json.Unmarshal(top["system"], &sys)
	if sys["recall@20"] < 0.70 || sys["mrr"] < 0.75 {
		t.Fatalf("system below the bars: %v", sys)
	}
	// Keys in report order.
	if !regexp.MustCompile(`(?s)"recall@5".*"recall@10".*"recall@20".*"recall@50".*"mrr".*"ndcg@20"`).MatchString(string(top["system"])) {
		t.Fatalf("order: %s", top["system"])
	}
}

// A small world for the table views: three controls, three rules.
const (
	tinyCatalog = `{"catalog": {"metadata": {"title": "Tiny", "version": "1"}, "groups": [{"title": "Family", "controls": [
 {"id": "cp-9", "title": "System Backup", "props": [{"name": "label", "value": "CP-9"}], "parts": [{"name": "statement", "prose": "Back up system information."}]},
 {"id": "sc-28", "title": "Protection of Information at Rest", "props": [{"name": "label", "value": "SC-28"}], "parts": [{"name": "statement", "prose": "Protect information at rest."}]},
 {"id": "ac-2", "title": "Account Management", "props": [{"name": "label", "value": "AC-2"}], "parts": [{"name": "statement", "prose": "Manage accounts."}]}]}]}}`
	tinyMapping = `{"source_id": "ebs-in-backup-plan", "title": "The EBS volume is not in a backup plan.", "targets": ["CP-9"]}
{"source_id": "efs-in-backup-plan", "title": "The EFS file system is not in a backup plan.", "targets": ["CP-9"]}
{"source_id": "efs-encrypted", "title": "The EFS file system is not encrypted at rest.", "targets": ["SC-28", "CP-99"]}
`
)

func tinyArgs(t *testing.T, extra ...string) []string {
	dir := t.TempDir()
	cat, maps := filepath.Join(dir, "catalog.json"), filepath.Join(dir, "mapping.jsonl")
	if err := os.WriteFile(cat, []byte(tinyCatalog), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(maps, []byte(tinyMapping), 0o600); err != nil {
		t.Fatal(err)
	}
	return append([]string{"--queries", maps, "--catalog", cat, "--framework", "TINY#1"}, extra...)
}

func TestEvalTable(t *testing.T) {
	out, errOut, err := run(t, true, "", tinyArgs(t, "--k", "1,2")...)
	if err != nil {
		t.Fatal(err)
	}
	// By hand: the backup rules find CP-9 first (every method); the
	// encryption rule (CP-99 is not in the catalog) finds SC-28 second,
	// after CP-9, which its EFS twin, the training fold's counts and the
	// word "system" all favour. recall@1 = 2/3, MRR = (1+1+1/2)/3,
	// nDCG = (1+1+1/log2 3)/3.
	want := "METRIC     SYSTEM   POPULARITY   BM25\n" +
		"recall@1   0.667    0.667        0.667\n" +
		"recall@2   1.000    1.000        1.000\n" +
		"mrr        0.833    0.833        0.833\n" +
		"ndcg@20    0.877    0.877        0.877\n"
	if out != want {
		t.Fatalf("terminal table:\n%s\nwant:\n%s", out, want)
	}
	if !strings.Contains(errOut, "note: 1 relevant target(s)") {
		t.Fatalf("stderr %q", errOut)
	}
	out, _, err = run(t, false, "", tinyArgs(t, "--k", "2", "--folds", "3")...)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !regexp.MustCompile(`^recall@2\t\d\.\d{3}\t\d\.\d{3}\t\d\.\d{3}$`).MatchString(lines[0]) {
		t.Fatalf("plain table:\n%s", out)
	}
	out, _, err = run(t, false, "yaml", tinyArgs(t, "--k", "2")...)
	if err != nil || !strings.Contains(out, "queries: 3\n") || !strings.Contains(out, "recall@2: 1\n") {
		t.Fatalf("yaml: %v\n%s", err, out)
	}
}

func TestEvalFileErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte("{\"source_id\": \"a\", \"targets\": [\"AC-1\"]}\n{oops\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.jsonl")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	catalogPath := catalogtest.Path(t, catalogtest.CatalogFile)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--queries", bad, "--catalog", filepath.Join(dir, "none.json"), "--framework", "A#1"}, "open --catalog file"},
		{[]string{"--queries", bad, "--catalog", bad, "--framework", "A#1"}, "read --catalog file"},
		{[]string{"--queries", bad, "--catalog", catalogPath, "--framework", "A#1"}, "read --queries file " + bad + ": line 2"},
		{[]string{"--queries", empty, "--catalog", catalogPath, "--framework", "A#1"}, "holds no mapping lines"},
		{[]string{"--queries", empty, "--approved", bad, "--catalog", catalogPath, "--framework", "A#1"}, "read --approved file"},
	} {
		_, _, err := run(t, false, "", tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || cmdutil.ExitCode(err) != cmdutil.ExitError {
			t.Errorf("%v: %v (exit %d), want %q", tc.args, err, cmdutil.ExitCode(err), tc.want)
		}
	}
}

// TestFrameworkFromStore evaluates against the framework `nexus catalog
// import` put in the local store, with no --catalog.
func TestFrameworkFromStore(t *testing.T) {
	f, s := cmdtest.Factory(t, map[string]string{"NEXUS_STORE_PATH": t.TempDir() + "/nexus.db", "NEXUS_ENV": ""})
	f.Flags.Output = "json"
	cmd := newCmd(f, nil)
	cmd.SetArgs([]string{"--queries", "q.jsonl", "--framework", "NO-SUCH#1"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.Execute(); cmdutil.ExitCode(err) != cmdutil.ExitNotFound || !strings.Contains(err.Error(), "nexus catalog import") {
		t.Fatalf("missing framework: %v", err)
	}
	// The demo catalog seeded into a new store is a framework like any other.
	dir := t.TempDir()
	queries := dir + "/q.jsonl"
	line := `{"source_id":"cache-encrypted","title":"API cache encrypted","description":"Cached API responses are encrypted at rest","targets":["SC-28"]}` + "\n"
	if err := os.WriteFile(queries, []byte(line+strings.Replace(line, "cache-encrypted", "volume-encrypted", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd = newCmd(f, nil)
	cmd.SetArgs([]string{"--queries", queries, "--framework", "NIST-SP-800-53#R5"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.Out.String(), `"queries": 2`) {
		t.Fatalf("report: %s", s.Out.String())
	}
}
