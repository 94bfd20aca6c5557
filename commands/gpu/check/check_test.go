package check

import (
	"bytes"
	"encoding/json"
	"errors"
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
	var c *Options
	if err := execute(t, NewCmd(f, func(o *Options) error { c = o; return nil }), "--device", "cuda:1", "--model-dir", "/m"); err != nil {
		t.Fatal(err)
	}
	if c.Device != "cuda:1" || c.ModelDir != "/m" || c.Ctx == nil || c.LoadORT == nil || c.Getenv == nil {
		t.Fatalf("check options %+v", c)
	}
	if err := execute(t, NewCmd(f, func(o *Options) error { c = o; return nil })); err != nil || c.Device != "auto" {
		t.Fatalf("check default: %+v %v", c, err)
	}
	err := execute(t, NewCmd(f, func(*Options) error { return nil }), "--device", "tpu")
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "use auto, cpu, cuda or cuda:N") {
		t.Fatalf("bad device: %v", err)
	}
}

func TestCheck(t *testing.T) {
	vars := ortVars(t)
	run := func(vars map[string]string, output string, args ...string) (string, error) {
		f, s := cmdtest.Factory(t, vars)
		f.Flags.Output = output
		err := execute(t, NewCmd(f, nil), args...)
		return s.Out.String(), err
	}
	out, err := run(vars, "table", "--device", "cpu")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := regexp.MustCompile(`(?s)^find onnxruntime\tok\t.*libonnxruntime.so.1\nload onnxruntime\tok\tversion 1\.\d+\.\d+, providers .*CPUExecutionProvider\n` +
		`model\tok\tthe tiny bi-encoder nexus carries\ncreate session on cpu\tok\tcpu with CPUExecutionProvider\nrun model\tok\t2 texts → 2 unit vectors of 8 dimensions on cpu\n$`)
	if !want.MatchString(out) {
		t.Fatalf("cpu check:\n%s", out)
	}

	// auto passes everywhere; without a GPU it says it fell back.
	out, err = run(vars, "json", "--device", "auto")
	var r Report
	if err != nil || json.Unmarshal([]byte(out), &r) != nil || !r.OK || r.Placement == nil {
		t.Fatalf("auto: %v\n%s", err, out)
	}
	if r.Placement.Device.Kind == gpu.CPU && !strings.Contains(r.Placement.Note, "auto:") {
		t.Fatalf("auto fell back silently: %+v", r.Placement)
	}

	// cuda where it cannot run: exit 3, naming what is missing.
	out, err = run(vars, "table", "--device", "cuda")
	if err == nil {
		t.Logf("CUDA works on this machine:\n%s", out)
	} else {
		var p *cmdutil.ProblemsError
		if !errors.As(err, &p) || cmdutil.ExitCode(err) != cmdutil.ExitProblems || !strings.Contains(out, "create session on cuda\tFAILED\t--device cuda cannot run: ") ||
			!strings.Contains(err.Error(), "--device cuda does not work: create session on cuda failed:") {
			t.Fatalf("cuda: %v\n%s", err, out)
		}
	}

	// No library: exit 3 at the first step, saying how to get it.
	out, err = run(map[string]string{gpu.LibraryEnv: "/nonexistent/libonnxruntime.so.1"}, "table")
	if cmdutil.ExitCode(err) != cmdutil.ExitProblems || !strings.HasPrefix(out, "find onnxruntime\tFAILED\tNEXUS_ORT_LIB=/nonexistent/libonnxruntime.so.1 is not a readable file") ||
		!strings.Contains(err.Error(), "npm pack onnxruntime-node@1.24.1") {
		t.Fatalf("no library: %v\n%s", err, out)
	}

	// A model folder that is not one.
	out, err = run(vars, "table", "--device", "cpu", "--model-dir", t.TempDir())
	if cmdutil.ExitCode(err) != cmdutil.ExitProblems || !strings.Contains(out, "create session on cpu\tFAILED\tmodel folder") {
		t.Fatalf("bad model dir: %v\n%s", err, out)
	}
}
