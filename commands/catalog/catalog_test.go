package catalog

import (
	"encoding/json"
	"github.com/nexus-compliance/nexus/pipeline/catalog/catalogtest"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nexus-compliance/nexus/commands/catalog/importcmd"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/store/local"
)

const nist = "NIST-SP-800-53#R5"

// sharedData is the project's read-only data folder: ../shared/data from
// the repository root, found from this test's folder (commands/catalog).
func sharedData(t *testing.T, name string) string {
	t.Helper()
	return catalogtest.Path(t, name)
}

type result struct {
	out, errOut string
	err         error
}

func run(t *testing.T, store string, tty bool, output string, args ...string) result {
	t.Helper()
	f, s := cmdtest.Factory(t, map[string]string{local.EnvPath: store})
	f.IOStreams.SetStdoutTTY(tty)
	if output != "" {
		f.Flags.Output = output
	}
	cmd := NewCmd(f)
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	return result{s.Out.String(), s.ErrOut.String(), err}
}

func TestImportFlags(t *testing.T) {
	t.Parallel()
	f, _ := cmdtest.Factory(t, nil)
	var got *importcmd.Options
	cmd := importcmd.NewCmd(f, func(o *importcmd.Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--jsonl", "m.jsonl", "--framework-key", "AWS.ConfigRules#1.0", "--approved-for", nist, "--store", "dynamodb"})
	if err := cmd.Execute(); err != nil || got.JSONL != "m.jsonl" || got.FrameworkKey != "AWS.ConfigRules#1.0" || got.ApprovedFor != nist || got.Store != "dynamodb" {
		t.Fatalf("%+v %v", got, err)
	}
	store := filepath.Join(t.TempDir(), "nexus.db")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"import"}, "give --oscal"},
		{[]string{"import", "--oscal", "a", "--jsonl", "b"}, "cannot be used together"},
		{[]string{"import", "--jsonl", "b"}, "--jsonl needs --framework-key"},
		{[]string{"import", "--oscal", "a", "--approved-for", nist}, "--jsonl imports only"},
		{[]string{"import", "--oscal", "a", "--framework-key", "NIST"}, "{name}#{version}"},
		{[]string{"controls", "NIST"}, "{name}#{version}"},
		{[]string{"show", "AC-2"}, "or a framework key"},
	} {
		r := run(t, store, false, "", c.args...)
		if cmdutil.ExitCode(r.err) != cmdutil.ExitUsage || !strings.Contains(r.err.Error(), c.want) {
			t.Errorf("%v: %v", c.args, r.err)
		}
	}
}

func TestDemoCatalogOnFreshStore(t *testing.T) {
	t.Parallel()
	store := filepath.Join(t.TempDir(), "nexus.db")
	r := run(t, store, false, "", "frameworks")
	if r.err != nil {
		t.Fatal(r.err)
	}
	want := "AWS.ControlCatalog#1.0\tAWS.ControlCatalog\t1.0\t41\t0\tAWS control catalog (nexus demo)\n" +
		"NIST-SP-800-53#R5\tNIST-SP-800-53\tR5\t40\t1\tNIST SP 800-53 Rev. 5 (nexus demo subset)\n"
	if r.out != want || !strings.Contains(r.errOut, "with the demo catalog") {
		t.Fatalf("%q\n%q", r.out, r.errOut)
	}
	r = run(t, store, true, "", "frameworks")
	if !regexp.MustCompile(`^FRAMEWORK\s+NAME\s+VERSION\s+CONTROLS\s+WITHDRAWN\s+TITLE\n`).MatchString(r.out) || r.errOut != "" {
		t.Fatalf("terminal: %q %q", r.out, r.errOut)
	}

	r = run(t, store, false, "", "controls", nist)
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if r.err != nil || len(lines) != 39 || lines[0] != "AC-2\tAccount Management\tAC" || lines[1] != "AC-2(1)\tAutomated System Account Management\tAC" {
		t.Fatalf("%v\n%s", r.err, r.out)
	}
	r = run(t, store, false, "json", "controls", nist, "--withdrawn")
	var cs []pipeline.Control
	if json.Unmarshal([]byte(r.out), &cs) != nil || len(cs) != 40 {
		t.Fatalf("%s", r.out)
	}

	r = run(t, store, false, "", "show", "AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED")
	for _, s := range []string{"Control\tAWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED\n", "Status\tlive\n", "Approved mappings\t3 from, 0 to\n",
		"to\tNIST-SP-800-53#R5#SC-28\tProtection of Information at Rest\t-\n"} {
		if !strings.Contains(r.out, s) {
			t.Errorf("show lacks %q:\n%s", s, r.out)
		}
	}
	r = run(t, store, false, "json", "show", nist+"#SC-28")
	var v struct {
		ControlKey   string           `json:"controlKey"`
		Enhancements []string         `json:"enhancements"`
		From         []any            `json:"mappingsFrom"`
		To           []map[string]any `json:"mappingsTo"`
	}
	if err := json.Unmarshal([]byte(r.out), &v); err != nil || v.ControlKey != nist+"#SC-28" || len(v.To) != 4 || len(v.From) != 0 ||
		strings.Join(v.Enhancements, ",") != "SC-28(1)" || v.To[0]["status"] != "APPROVED" {
		t.Fatalf("%v %s", err, r.out)
	}
	r = run(t, store, true, "", "show", nist)
	if !strings.Contains(r.out, "Controls:") || !strings.Contains(r.out, "40 (1 withdrawn)") {
		t.Fatalf("framework:\n%s", r.out)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"show", "AWS.ControlCatalog#1.0#CLOUDTRAIL_ENABLE"}, "Did you mean: AWS.ControlCatalog#1.0#CLOUDTRAIL_ENABLED"},
		{[]string{"controls", "SOC2#2017"}, "Available frameworks: AWS.ControlCatalog#1.0, NIST-SP-800-53#R5"},
		{[]string{"show", "SOC2#2017"}, "Available frameworks"},
		{[]string{"import", "--oscal", filepath.Join(t.TempDir(), "missing.json")}, "not found"},
		{[]string{"import", "--jsonl", sharedData(t, "cdknag-awsconfig-aws-to-nist80053r5.jsonl"), "--framework-key", "AWS.ConfigRules#1.0", "--approved-for", "SOC2#2017"}, "Available frameworks"},
	} {
		r := run(t, store, false, "", c.args...)
		if cmdutil.ExitCode(r.err) != cmdutil.ExitNotFound || !strings.Contains(r.err.Error(), c.want) {
			t.Errorf("%v: exit %d %v", c.args, cmdutil.ExitCode(r.err), r.err)
		}
	}
}

func TestImportNIST(t *testing.T) {
	t.Parallel()
	oscal := sharedData(t, "nist-800-53-r5-catalog.json")
	store := filepath.Join(t.TempDir(), "nexus.db")
	r := run(t, store, false, "json", "import", "--oscal", oscal)
	if r.err != nil {
		t.Fatal(r.err)
	}
	var sum importcmd.Summary
	if err := json.Unmarshal([]byte(r.out), &sum); err != nil || sum.FrameworkKey != nist || sum.Controls != 1189 || sum.Withdrawn != 182 || sum.Store != "local" {
		t.Fatalf("%v %+v", err, sum)
	}
	if !strings.Contains(r.errOut, "Imported NIST-SP-800-53#R5: 1189 controls (182 withdrawn) into the local store "+store) {
		t.Fatalf("stderr %q", r.errOut)
	}
	r = run(t, store, false, "", "controls", nist)
	if n := strings.Count(r.out, "\n"); r.err != nil || n != 1007 {
		t.Fatalf("%d live controls, want 1007 (%v)", n, r.err)
	}
	r = run(t, store, false, "", "controls", nist, "--withdrawn")
	if n := strings.Count(r.out, "\n"); n != 1189 || !strings.Contains(r.out, "\nAC-2(10)\t") {
		t.Fatalf("%d controls, want 1189", n)
	}
	// The published table of AWS Config rules, as approved mappings.
	r = run(t, store, false, "", "import", "--jsonl", sharedData(t, "cdknag-awsconfig-aws-to-nist80053r5.jsonl"),
		"--framework-key", "AWS.ConfigRules#1.0", "--approved-for", nist)
	if r.err != nil || r.out != "" || !strings.Contains(r.errOut, "Imported AWS.ConfigRules#1.0: 122 controls (0 withdrawn) and 1814 approved mappings to NIST-SP-800-53#R5") {
		t.Fatalf("%v %q", r.err, r.errOut)
	}
	r = run(t, store, false, "", "frameworks")
	if !strings.Contains(r.out, "AWS.ConfigRules#1.0\tAWS.ConfigRules\t1.0\t122\t0\t") || !strings.Contains(r.out, nist+"\tNIST-SP-800-53\tR5\t1189\t182\t") {
		t.Fatalf("%s", r.out)
	}
	r = run(t, store, false, "json", "show", "AWS.ConfigRules#1.0#vpc-default-security-group-closed")
	var v struct {
		From []map[string]any `json:"mappingsFrom"`
	}
	if err := json.Unmarshal([]byte(r.out), &v); err != nil || len(v.From) != 20 {
		t.Fatalf("%v %d", err, len(v.From))
	}
}

func TestImportFromURL(t *testing.T) {
	t.Parallel()
	oscal := filepath.Join("testdata", "small-oscal.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/catalog.json" {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, oscal)
	}))
	defer srv.Close()
	store := filepath.Join(t.TempDir(), "nexus.db")
	r := run(t, store, false, "", "import", "--oscal", srv.URL+"/catalog.json")
	if r.err != nil || !strings.Contains(r.errOut, "Imported Example-Controls-Catalog#2.1: 3 controls (1 withdrawn)") {
		t.Fatalf("%v %q", r.err, r.errOut)
	}
	r = run(t, store, false, "", "controls", "Example-Controls-Catalog#2.1")
	if r.out != "EX-1\tKeep Records\tExample\nEX-1(1)\tAutomated Records\tExample\n" {
		t.Fatalf("%q", r.out)
	}
	r = run(t, store, false, "", "import", "--oscal", srv.URL+"/missing.json")
	if r.err == nil || !strings.Contains(r.err.Error(), "404") {
		t.Fatal(r.err)
	}
}
