package gpu

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// CUDA provider libraries ONNX Runtime loads from its own folder when a
// session asks for CUDA.
const (
	ProviderCUDALib   = "libonnxruntime_providers_cuda.so"
	ProviderSharedLib = "libonnxruntime_providers_shared.so"
)

// cudnnLib is what the CUDA provider of ONNX Runtime 1.24 needs besides
// the libraries it links: cuDNN 9.
const cudnnLib = "libcudnn.so.9"

// Library is one shared library the CUDA path needs.
type Library struct {
	Name  string `json:"name"`
	Found bool   `json:"found"`
	Path  string `json:"path,omitempty"`
}

// CUDAReport is everything the CUDA execution provider needs, and whether
// this machine has it.
type CUDAReport struct {
	GPUs   []GPU  `json:"gpus"`
	Driver string `json:"driver,omitempty"` // kernel driver version
	// DriverLib is libcuda.so.1, the user-space half of the driver.
	DriverLib Library `json:"driver_library"`
	// Provider and Shared are the CUDA provider libraries beside
	// libonnxruntime.
	Provider Library `json:"provider_library"`
	Shared   Library `json:"shared_provider_library"`
	// Libraries are the CUDA, cuBLAS and cuDNN libraries the provider
	// library needs (its ELF dependencies, and cuDNN 9).
	Libraries []Library `json:"cuda_libraries"`
}

// canLoad reports whether the dynamic loader finds a library by name (cgo
// builds ask dlopen; others look in the usual folders).
var canLoad = findLibrary

// DiagnoseCUDA checks, without creating a session, what the CUDA provider
// of the ONNX Runtime library at ortLib needs.
func DiagnoseCUDA(ortLib string) CUDAReport {
	var r CUDAReport
	r.GPUs, _ = Detect()
	r.Driver = driverVersion("/proc/driver/nvidia/version")
	r.DriverLib = Library{Name: "libcuda.so.1", Found: canLoad("libcuda.so.1")}
	dirs := providerDirs(ortLib)
	r.Provider = findIn(dirs, ProviderCUDALib)
	r.Shared = findIn(dirs, ProviderSharedLib)
	needed := []string{cudnnLib}
	if r.Provider.Found {
		if f, err := elf.Open(r.Provider.Path); err == nil {
			libs, _ := f.ImportedLibraries()
			f.Close()
			needed = append(libs, needed...)
		}
	} else {
		needed = []string{"libcudart.so.12", "libcublas.so.12", "libcublasLt.so.12", "libcurand.so.10", "libcufft.so.11", cudnnLib}
	}
	seen := map[string]bool{"libcuda.so.1": true}
	for _, n := range needed {
		if seen[n] || isSystemLib(n) {
			continue
		}
		seen[n] = true
		r.Libraries = append(r.Libraries, Library{Name: n, Found: canLoad(n)})
	}
	return r
}

// Missing lists what stops CUDA from running, each with what to do; empty
// means everything is in place.
func (r CUDAReport) Missing() []string {
	var m []string
	if len(r.GPUs) == 0 && !r.DriverLib.Found {
		m = append(m, "no NVIDIA driver: /proc/driver/nvidia/gpus lists no GPU and libcuda.so.1 does not load (install the NVIDIA driver, or use --device cpu)")
	} else if !r.DriverLib.Found {
		m = append(m, "libcuda.so.1 (the driver's user-space library) does not load: install the driver's CUDA libraries or add their folder to LD_LIBRARY_PATH")
	}
	var provider []string
	for _, l := range []Library{r.Provider, r.Shared} {
		if !l.Found {
			provider = append(provider, l.Name)
		}
	}
	if len(provider) > 0 {
		m = append(m, fmt.Sprintf("%s not beside libonnxruntime: the npm onnxruntime-node package does not ship them "+
			"(its install script downloads them from NuGet's Microsoft.ML.OnnxRuntime.Gpu.Linux %s); copy them from that "+
			"package's runtimes/linux-x64/native/ (or an onnxruntime-gpu %s build) into the folder of libonnxruntime.so.1",
			strings.Join(provider, " and "), ORTVersion, ORTVersion))
	}
	var libs []string
	for _, l := range r.Libraries {
		if !l.Found {
			libs = append(libs, l.Name)
		}
	}
	if len(libs) > 0 {
		m = append(m, fmt.Sprintf("CUDA/cuDNN libraries not found by the dynamic loader: %s (install CUDA 12 and cuDNN 9, or add their lib folders to LD_LIBRARY_PATH)", strings.Join(libs, ", ")))
	}
	return m
}

// providerDirs are the folders ONNX Runtime looks in for its provider
// libraries: that of the library as named, and as resolved.
func providerDirs(ortLib string) []string {
	if ortLib == "" {
		return nil
	}
	dirs := []string{filepath.Dir(ortLib)}
	if real, err := filepath.EvalSymlinks(ortLib); err == nil && filepath.Dir(real) != dirs[0] {
		dirs = append(dirs, filepath.Dir(real))
	}
	return dirs
}

func findIn(dirs []string, name string) Library {
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return Library{Name: name, Found: true, Path: p}
		}
	}
	return Library{Name: name}
}

// isSystemLib is a C/C++ runtime library every Linux has.
func isSystemLib(name string) bool {
	for _, p := range []string{"libc.so", "libm.so", "libdl.so", "librt.so", "libpthread.so", "libstdc++.so", "libgcc_s.so", "ld-linux"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// findLibrary looks for a library in LD_LIBRARY_PATH and the usual
// folders, for builds without dlopen.
func findLibrary(name string) bool {
	dirs := filepath.SplitList(os.Getenv("LD_LIBRARY_PATH"))
	dirs = append(dirs, "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib",
		"/usr/local/lib", "/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib")
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, name)); err == nil {
			return true
		}
	}
	return false
}

// driverVersion reads the kernel module version from
// /proc/driver/nvidia/version ("NVRM version: NVIDIA UNIX x86_64 Kernel
// Module  550.54.15  Tue Mar  5 …").
func driverVersion(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(b), "\n")
	if _, rest, ok := strings.Cut(line, "Kernel Module"); ok {
		if f := strings.Fields(rest); len(f) > 0 {
			return f[0]
		}
	}
	return ""
}

// DeviceInfo is one GPU as `nexus gpu info` shows it.
type DeviceInfo struct {
	Index     int    `json:"index"`
	Name      string `json:"name"`
	MemoryMiB int    `json:"memory_mib,omitempty"`
	Driver    string `json:"driver,omitempty"`
	BusID     string `json:"bus_id,omitempty"`
}

// Inventory is the GPUs of this machine and where the list came from.
type Inventory struct {
	Source  string       `json:"source"` // "nvidia-smi", "/proc/driver/nvidia" or "none"
	Devices []DeviceInfo `json:"devices"`
	Note    string       `json:"note,omitempty"`
}

// SMIQuery is what ListGPUs asks nvidia-smi.
var SMIQuery = []string{"--query-gpu=index,name,memory.total,driver_version", "--format=csv,noheader,nounits"}

// ListGPUs lists the GPUs through nvidia-smi when it is on PATH, else from
// the kernel driver's /proc files.
func ListGPUs(ctx context.Context) Inventory {
	return listGPUs(ctx, runSMI, "/proc/driver/nvidia")
}

func runSMI(ctx context.Context) ([]byte, error) {
	path, err := exec.LookPath("nvidia-smi")
	if err != nil {
		return nil, errNoSMI
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, SMIQuery...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("nvidia-smi: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

var errNoSMI = errors.New("nvidia-smi is not on PATH")

func listGPUs(ctx context.Context, smi func(context.Context) ([]byte, error), procRoot string) Inventory {
	out, err := smi(ctx)
	var note string
	if err == nil {
		devs, perr := ParseSMI(out)
		if perr == nil {
			return Inventory{Source: "nvidia-smi", Devices: devs}
		}
		err = perr
	}
	if !errors.Is(err, errNoSMI) {
		note = err.Error()
	}
	gpus, _ := detectIn(filepath.Join(procRoot, "gpus"))
	if len(gpus) == 0 {
		if note == "" {
			note = "no NVIDIA GPU: nvidia-smi is not on PATH and " + filepath.Join(procRoot, "gpus") + " lists none"
		}
		return Inventory{Source: "none", Devices: []DeviceInfo{}, Note: note}
	}
	driver := driverVersion(filepath.Join(procRoot, "version"))
	inv := Inventory{Source: "/proc/driver/nvidia", Note: note}
	for i, g := range gpus {
		inv.Devices = append(inv.Devices, DeviceInfo{Index: i, Name: g.Model, Driver: driver, BusID: g.BusID})
	}
	return inv
}

// ParseSMI reads `nvidia-smi --query-gpu=index,name,memory.total,
// driver_version --format=csv,noheader[,nounits]` output.
func ParseSMI(out []byte) ([]DeviceInfo, error) {
	devs := []DeviceInfo{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) != 4 {
			return nil, fmt.Errorf("nvidia-smi printed %q, expected index, name, memory, driver", line)
		}
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		idx, err := strconv.Atoi(f[0])
		if err != nil {
			return nil, fmt.Errorf("nvidia-smi printed index %q", f[0])
		}
		mem, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(f[2], "MiB")))
		devs = append(devs, DeviceInfo{Index: idx, Name: f[1], MemoryMiB: mem, Driver: f[3]})
	}
	return devs, nil
}
