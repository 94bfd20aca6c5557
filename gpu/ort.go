package gpu

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LibraryEnv names the variable that points nexus at libonnxruntime.
const LibraryEnv = "NEXUS_ORT_LIB"

// ORTVersion is the ONNX Runtime release nexus is built and tested against
// (the C API headers of github.com/yalue/onnxruntime_go v1.27). Newer
// libraries serve the same C API; older ones are refused when loaded.
const ORTVersion = "1.24.1"

// libraryNames are the file names of the ONNX Runtime shared library, most
// specific first.
var libraryNames = []string{"libonnxruntime.so.1", "libonnxruntime.so." + ORTVersion, "libonnxruntime.so"}

// Provider names as ONNX Runtime spells them.
const (
	ProviderCPU  = "CPUExecutionProvider"
	ProviderCUDA = "CUDAExecutionProvider"
)

// LibraryNotFoundError says where nexus looked for libonnxruntime and how to
// get it.
type LibraryNotFoundError struct {
	Env      string   // the value of NEXUS_ORT_LIB when it was set but wrong
	Searched []string // the folders searched otherwise
}

func (e *LibraryNotFoundError) Error() string {
	var b strings.Builder
	if e.Env != "" {
		fmt.Fprintf(&b, "%s=%s is not a readable file", LibraryEnv, e.Env)
	} else {
		fmt.Fprintf(&b, "ONNX Runtime library (libonnxruntime.so.1) not found in %s", strings.Join(e.Searched, ", "))
	}
	fmt.Fprintf(&b, "\nThe neural path needs ONNX Runtime %s for this platform. Point %s at libonnxruntime.so.1: "+
		"`npm pack onnxruntime-node@%s` and take package/bin/napi-v6/linux/x64/libonnxruntime.so.1, "+
		"or in a nexus checkout run `.ci/onnxruntime.sh`, which caches it in .cache/onnxruntime/. "+
		"The lexical path works without it.", ORTVersion, LibraryEnv, ORTVersion)
	return b.String()
}

// ErrNoCgo is returned by everything that loads ONNX Runtime in a nexus
// built with CGO_ENABLED=0.
var ErrNoCgo = errors.New("this nexus was built without cgo, so it cannot load ONNX Runtime; build it with CGO_ENABLED=1 (a C compiler) for the neural path")

// ORTLibrary finds libonnxruntime: $NEXUS_ORT_LIB when set (a file, or a
// folder holding it), else the first of ORTSearchPaths that holds one.
func ORTLibrary(getenv func(string) string) (string, error) {
	if v := getenv(LibraryEnv); v != "" {
		if p, ok := libraryIn(v); ok {
			return p, nil
		}
		return "", &LibraryNotFoundError{Env: v}
	}
	dirs := ORTSearchPaths(getenv)
	for _, d := range dirs {
		if p, ok := libraryIn(d); ok {
			return p, nil
		}
	}
	return "", &LibraryNotFoundError{Searched: dirs}
}

// libraryIn accepts a library file, or a folder holding one.
func libraryIn(p string) (string, bool) {
	st, err := os.Stat(p)
	if err != nil {
		return "", false
	}
	if !st.IsDir() {
		return p, true
	}
	for _, n := range libraryNames {
		f := filepath.Join(p, n)
		if st, err := os.Stat(f); err == nil && !st.IsDir() {
			return f, true
		}
	}
	return "", false
}

// ORTSearchPaths lists the folders ORTLibrary searches, in order: next to
// the nexus binary (and its ../lib), .cache/onnxruntime in the working
// folder and each parent (where .ci/onnxruntime.sh caches it in a
// checkout), the user cache ($XDG_CACHE_HOME/nexus/onnxruntime), then
// /usr/local/lib and /usr/lib and their multiarch folders.
func ORTSearchPaths(getenv func(string) string) []string {
	var dirs []string
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		dirs = append(dirs, filepath.Dir(exe), filepath.Join(filepath.Dir(exe), "..", "lib"))
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			dirs = append(dirs, filepath.Join(d, ".cache", "onnxruntime"))
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	cache := getenv("XDG_CACHE_HOME")
	if cache == "" && getenv("HOME") != "" {
		cache = filepath.Join(getenv("HOME"), ".cache")
	}
	if cache != "" {
		dirs = append(dirs, filepath.Join(cache, "nexus", "onnxruntime"))
	}
	dirs = append(dirs, "/usr/local/lib", "/usr/local/lib64", "/usr/lib", "/usr/lib64", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu")
	seen := map[string]bool{}
	out := dirs[:0]
	for _, d := range dirs {
		d = filepath.Clean(d)
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// Runtime is the ONNX Runtime library loaded into this process. There is
// at most one per process (ONNX Runtime's environment is global).
type Runtime struct {
	Library   string   `json:"library"`
	Version   string   `json:"version"`
	Providers []string `json:"providers"` // execution providers built into the library
}

// HasProvider reports whether the library was built with a provider.
func (r *Runtime) HasProvider(name string) bool {
	for _, p := range r.Providers {
		if p == name {
			return true
		}
	}
	return false
}

// SessionSpec is what NewSession needs besides the device.
type SessionSpec struct {
	// ModelPath is the model file; ONNX Runtime finds external weights
	// (model.onnx_data) beside it. Model, when set instead, is the model
	// itself.
	ModelPath string
	Model     []byte
	Inputs    []string // input names, in the order Run takes them
	Outputs   []string
	// Threads bounds ONNX Runtime's intra-op thread pool (0: its default,
	// one per core).
	Threads int
}

// Placement is where a session runs, and why.
type Placement struct {
	Requested Device `json:"requested"`
	Device    Device `json:"device"`
	Provider  string `json:"provider"`
	// Note explains a fallback: auto that ran on the CPU says why CUDA was
	// not used.
	Note string `json:"note,omitempty"`
}

// MarshalText writes a Device as its --device spelling.
func (d Device) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a Device from its --device spelling.
func (d *Device) UnmarshalText(b []byte) error {
	v, err := ParseDevice(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// CUDAUnavailableError is an explicit --device cuda that cannot run: what
// is missing, each with what to do about it.
type CUDAUnavailableError struct {
	Device  Device
	Missing []string
}

func (e *CUDAUnavailableError) Error() string {
	return fmt.Sprintf("--device %s cannot run:\n  - %s", e.Device, strings.Join(e.Missing, "\n  - "))
}

// versionAtLeast compares dotted versions numerically.
func versionAtLeast(have, want string) bool {
	h, w := strings.Split(have, "."), strings.Split(want, ".")
	for i := range w {
		if i >= len(h) {
			return false
		}
		a, _ := strconv.Atoi(h[i])
		b, _ := strconv.Atoi(w[i])
		if a != b {
			return a > b
		}
	}
	return true
}
