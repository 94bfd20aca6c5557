package bench

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
	"github.com/nexus-compliance/nexus/gpu"
	"github.com/nexus-compliance/nexus/gpu/gputest"
)

func execute(t *testing.T, cmd *cobra.Command, args ...string) error {
	t.Helper()
	cmd.SetArgs(args)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	return cmd.Execute()
}

// ortVars points a command at the real library, or skips without it.
func ortVars(t *testing.T) map[string]string {
	rt := gputest.ORT(t)
	return map[string]string{gpu.LibraryEnv: rt.Library}
}

func TestNewCmdFlags(t *testing.T) {
	f, _ := cmdtest.Factory(t, nil)
	var b *Options
	if err := execute(t, NewCmd(f, func(o *Options) error { b = o; return nil }), "--device", "cpu", "--texts", "7",
		"--rows", "100", "--dim", "64", "-k", "3", "--repeat", "2", "--workers", "1", "--threads", "2"); err != nil {
		t.Fatal(err)
	}
	if b.Device != "cpu" || b.Texts != 7 || b.Rows != 100 || b.Dim != 64 || b.K != 3 || b.Repeat != 2 || b.Workers != 1 || b.Threads != 2 {
		t.Fatalf("bench options %+v", b)
	}
	if err := execute(t, NewCmd(f, func(o *Options) error { b = o; return nil })); err != nil ||
		b.Texts != 256 || b.Rows != 10000 || b.Dim != 4096 || b.K != 10 || b.Repeat != 5 || b.Device != "auto" {
		t.Fatalf("bench defaults %+v %v", b, err)
	}
	if err := execute(t, NewCmd(f, nil), "--rows", "0"); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Fatalf("--rows 0: %v", err)
	}
}

func TestBench(t *testing.T) {
	vars := ortVars(t)
	f, s := cmdtest.Factory(t, vars)
	f.Flags.Output = "json"
	if err := execute(t, NewCmd(f, nil), "--device", "cpu", "--texts", "40", "--rows", "3000", "--dim", "384", "--repeat", "3"); err != nil {
		t.Fatalf("%v\n%s", err, s.Out)
	}
	var r Report
	if err := json.Unmarshal(s.Out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Embed) != 2 || r.Embed[0].Batch != 1 || r.Embed[1].Batch != 32 || r.Embed[1].TextsPerSec <= 0 || r.Embed[0].Texts != 40 ||
		r.Retrieve.Rows != 3000 || r.Retrieve.SearchMs <= 0 || r.Retrieve.FloorMs <= 0 || r.Retrieve.Ratio <= 0 || !strings.HasPrefix(r.Model, "tiny-bi-encoder@") {
		t.Fatalf("report %+v", r)
	}
	t.Logf("embed %+v; retrieve %+v", r.Embed, r.Retrieve)

	// Table; and without the library the retrieve part still runs, exit 3.
	f, s = cmdtest.Factory(t, map[string]string{gpu.LibraryEnv: "/nonexistent"})
	err := execute(t, NewCmd(f, nil), "--texts", "2", "--rows", "500", "--dim", "32", "--repeat", "1")
	out := s.Out.String()
	if cmdutil.ExitCode(err) != cmdutil.ExitProblems || !strings.Contains(out, "embed\tauto\t-\t-\tdid not run: NEXUS_ORT_LIB=/nonexistent") ||
		!regexp.MustCompile(`retrieve top-10\tcpu \([a-z0-9-]+, \d+ goroutines\)\t500×32\t[\d.]+ ms\t\d+ rows/s`).MatchString(out) ||
		!strings.Contains(out, "memory floor\t") {
		t.Fatalf("no library: %v\n%s", err, out)
	}
}

func TestBenchTexts(t *testing.T) {
	texts := Texts(13)
	if len(texts) != 13 || texts[0] == texts[6] || !strings.HasSuffix(texts[12], "(variant 2)") {
		t.Fatalf("%q", texts)
	}
}
