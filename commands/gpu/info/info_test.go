package info

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
	"github.com/nexus-compliance/nexus/commands/gpu/shared"
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

func noGPUs(context.Context) gpu.Inventory {
	return gpu.Inventory{Source: "none", Devices: []gpu.DeviceInfo{}, Note: "no NVIDIA GPU: test"}
}

func TestNewCmdArgs(t *testing.T) {
	f, _ := cmdtest.Factory(t, nil)
	var got *Options
	if err := execute(t, NewCmd(f, func(o *Options) error { got = o; return nil })); err != nil || got.Ctx == nil || got.ListGPUs == nil || got.DiagnoseCUDA == nil || got.LoadORT == nil {
		t.Fatalf("%+v %v", got, err)
	}
	if err := execute(t, NewCmd(f, func(*Options) error { return nil }), "extra"); err == nil {
		t.Fatal("info took an argument")
	}
}

func TestInfo(t *testing.T) {
	vars := ortVars(t)
	f, s := cmdtest.Factory(t, vars)
	opts := &Options{Deps: shared.NewDeps(f), ListGPUs: noGPUs, DiagnoseCUDA: gpu.DiagnoseCUDA, Ctx: context.Background()}
	if err := Run(opts); err != nil {
		t.Fatal(err)
	}
	out := s.Out.String()
	for _, want := range []string{"gpus\tnone: no NVIDIA GPU: test\n", "onnxruntime\t" + vars[gpu.LibraryEnv] + " (version 1.", "providers\t", "CPUExecutionProvider", "cuda provider\tlibonnxruntime_providers_cuda.so "} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}

	f.Flags.Output = "json"
	s.Out.Reset()
	opts.ListGPUs = func(context.Context) gpu.Inventory {
		return gpu.Inventory{Source: "nvidia-smi", Devices: []gpu.DeviceInfo{{Index: 0, Name: "NVIDIA H100 80GB HBM3", MemoryMiB: 81559, Driver: "550.54.15"}}}
	}
	if err := Run(opts); err != nil {
		t.Fatal(err)
	}
	var r Report
	if err := json.Unmarshal(s.Out.Bytes(), &r); err != nil {
		t.Fatalf("%v\n%s", err, s.Out)
	}
	if r.GPUs.Devices[0].MemoryMiB != 81559 || r.ORT.Version == "" || len(r.ORT.Providers) == 0 || r.CUDA == nil {
		t.Fatalf("json report %+v", r)
	}

	// No library: info still succeeds and says how to get one.
	f, s = cmdtest.Factory(t, map[string]string{gpu.LibraryEnv: filepath.Join(t.TempDir(), "missing.so")})
	if err := Run(&Options{Deps: shared.NewDeps(f), ListGPUs: noGPUs, DiagnoseCUDA: gpu.DiagnoseCUDA, Ctx: context.Background()}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.Out.String(), "onnxruntime\tnot found: NEXUS_ORT_LIB=") || strings.Contains(s.Out.String(), "cuda provider") {
		t.Fatalf("missing library:\n%s", s.Out)
	}
}
