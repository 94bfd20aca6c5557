package gpu

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestORTLibraryFromEnv(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "libonnxruntime.so.1")
	if err := os.WriteFile(lib, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{lib, dir} {
		got, err := ORTLibrary(env(map[string]string{LibraryEnv: v}))
		if err != nil || got != lib {
			t.Fatalf("%s=%s: %q, %v", LibraryEnv, v, got, err)
		}
	}
	_, err := ORTLibrary(env(map[string]string{LibraryEnv: filepath.Join(dir, "nope.so")}))
	var nf *LibraryNotFoundError
	if !errors.As(err, &nf) || nf.Env == "" || !strings.Contains(err.Error(), "npm pack onnxruntime-node@1.24.1") {
		t.Fatalf("bad env: %v", err)
	}
	if _, err := ORTLibrary(env(map[string]string{LibraryEnv: t.TempDir()})); !errors.As(err, &nf) {
		t.Fatalf("empty folder: %v", err)
	}
}

func TestORTSearchPaths(t *testing.T) {
	paths := ORTSearchPaths(env(map[string]string{"XDG_CACHE_HOME": "/xdg"}))
	exe, _ := os.Executable()
	exe, _ = filepath.EvalSymlinks(exe)
	wd, _ := os.Getwd()
	for _, want := range []string{filepath.Dir(exe), filepath.Join(wd, ".cache", "onnxruntime"),
		filepath.Join(filepath.Dir(wd), ".cache", "onnxruntime"), "/xdg/nexus/onnxruntime", "/usr/local/lib", "/usr/lib"} {
		if !slices.Contains(paths, want) {
			t.Errorf("%q not searched: %q", want, paths)
		}
	}
	if i, j := slices.Index(paths, filepath.Dir(exe)), slices.Index(paths, "/usr/lib"); i > j {
		t.Errorf("system folders before the binary's: %q", paths)
	}
	home := ORTSearchPaths(env(map[string]string{"HOME": "/home/op"}))
	if !slices.Contains(home, "/home/op/.cache/nexus/onnxruntime") {
		t.Errorf("HOME cache not searched: %q", home)
	}
	// Not found anywhere: the message names the folders and the fix.
	err := (&LibraryNotFoundError{Searched: []string{"/a", "/b"}}).Error()
	if !strings.Contains(err, "not found in /a, /b") || !strings.Contains(err, ".ci/onnxruntime.sh") || !strings.Contains(err, "lexical path works") {
		t.Errorf("message: %s", err)
	}
}

func TestVersionAtLeast(t *testing.T) {
	for _, tc := range []struct {
		have string
		ok   bool
	}{{"1.24.1", true}, {"1.24.2", true}, {"1.30.0", true}, {"2.0.0", true}, {"1.24.0", false}, {"1.9.9", false}, {"1.24", false}} {
		if got := versionAtLeast(tc.have, "1.24.1"); got != tc.ok {
			t.Errorf("versionAtLeast(%s) = %v", tc.have, got)
		}
	}
}

func TestParseSMIAndInventory(t *testing.T) {
	out := []byte("0, NVIDIA H100 80GB HBM3, 81559, 550.54.15\n1, Tesla T4, 15360 MiB, 550.54.15\n")
	devs, err := ParseSMI(out)
	if err != nil || len(devs) != 2 || devs[0] != (DeviceInfo{Index: 0, Name: "NVIDIA H100 80GB HBM3", MemoryMiB: 81559, Driver: "550.54.15"}) || devs[1].MemoryMiB != 15360 {
		t.Fatalf("%+v %v", devs, err)
	}
	if _, err := ParseSMI([]byte("garbage")); err == nil {
		t.Fatal("garbage accepted")
	}
	ctx := context.Background()
	smi := func(context.Context) ([]byte, error) { return out, nil }
	if inv := listGPUs(ctx, smi, t.TempDir()); inv.Source != "nvidia-smi" || len(inv.Devices) != 2 {
		t.Fatalf("smi inventory: %+v", inv)
	}

	// No nvidia-smi: the driver's /proc files.
	proc := t.TempDir()
	if err := os.MkdirAll(filepath.Join(proc, "gpus", "0000:01:00.0"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(proc, "gpus", "0000:01:00.0", "information"), []byte("Model: \t NVIDIA A10G\n"), 0o644)
	os.WriteFile(filepath.Join(proc, "version"), []byte("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\nGCC version: gcc\n"), 0o644)
	noSMI := func(context.Context) ([]byte, error) { return nil, errNoSMI }
	inv := listGPUs(ctx, noSMI, proc)
	if inv.Source != "/proc/driver/nvidia" || len(inv.Devices) != 1 || inv.Devices[0].Name != "NVIDIA A10G" || inv.Devices[0].Driver != "550.54.15" || inv.Note != "" {
		t.Fatalf("proc inventory: %+v", inv)
	}
	// A failing nvidia-smi is reported, not hidden.
	broken := func(context.Context) ([]byte, error) {
		return nil, errors.New("nvidia-smi: exit status 9: NVIDIA-SMI has failed")
	}
	if inv := listGPUs(ctx, broken, proc); inv.Source != "/proc/driver/nvidia" || !strings.Contains(inv.Note, "NVIDIA-SMI has failed") {
		t.Fatalf("broken smi: %+v", inv)
	}
	if inv := listGPUs(ctx, noSMI, t.TempDir()); inv.Source != "none" || len(inv.Devices) != 0 || !strings.Contains(inv.Note, "no NVIDIA GPU") {
		t.Fatalf("none: %+v", inv)
	}
}

func TestDiagnoseCUDAMissing(t *testing.T) {
	saved := canLoad
	defer func() { canLoad = saved }()
	canLoad = func(string) bool { return false }

	// A folder with only libonnxruntime: the provider libraries are missing
	// and the default CUDA 12 set is checked.
	dir := t.TempDir()
	lib := filepath.Join(dir, "libonnxruntime.so.1")
	os.WriteFile(lib, []byte("x"), 0o644)
	r := DiagnoseCUDA(lib)
	if r.Provider.Found || r.Shared.Found || len(r.Libraries) == 0 {
		t.Fatalf("%+v", r)
	}
	missing := strings.Join(r.Missing(), "\n")
	for _, want := range []string{ProviderCUDALib, ProviderSharedLib, "Microsoft.ML.OnnxRuntime.Gpu.Linux", "libcudart.so.12", "libcudnn.so.9", "libcuda.so.1"} {
		if !strings.Contains(missing, want) {
			t.Errorf("missing does not mention %s:\n%s", want, missing)
		}
	}

	// Provider libraries present: their ELF dependencies are what is
	// checked (this executable stands in for the provider library).
	exe, _ := os.Executable()
	if err := os.Symlink(exe, filepath.Join(dir, ProviderCUDALib)); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, ProviderSharedLib), []byte("x"), 0o644)
	canLoad = func(name string) bool { return name != "libcudnn.so.9" }
	r = DiagnoseCUDA(lib)
	if !r.Provider.Found || !r.Shared.Found || !r.DriverLib.Found {
		t.Fatalf("%+v", r)
	}
	if m := r.Missing(); len(m) != 1 || !strings.Contains(m[0], "libcudnn.so.9") || strings.Contains(m[0], "libcudart") {
		t.Fatalf("missing: %q (libraries %+v)", m, r.Libraries)
	}
	canLoad = func(string) bool { return true }
	if m := DiagnoseCUDA(lib).Missing(); len(m) != 0 {
		t.Fatalf("all present: %q", m)
	}
	err := (&CUDAUnavailableError{Device: Device{Kind: CUDA, Index: 1}, Missing: []string{"a", "b"}}).Error()
	if err != "--device cuda:1 cannot run:\n  - a\n  - b" {
		t.Fatalf("error text: %q", err)
	}
}

func TestDeviceText(t *testing.T) {
	for _, s := range []string{"auto", "cpu", "cuda", "cuda:3"} {
		d, _ := ParseDevice(s)
		b, _ := d.MarshalText()
		var back Device
		if err := back.UnmarshalText(b); err != nil || back != d || string(b) != s {
			t.Errorf("%s: %s %v %v", s, b, back, err)
		}
	}
	var d Device
	if err := d.UnmarshalText([]byte("tpu")); err == nil {
		t.Error("tpu accepted")
	}
}
