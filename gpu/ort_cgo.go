//go:build cgo

package gpu

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

// The two entries of OrtApiBase, and the entries of OrtApi used here by
// their index: the C API struct only ever grows at the end, so an index
// holds for every later release (checked against onnxruntime_c_api.h 1.24,
// ORT_API_VERSION 24).
typedef struct {
	const void* (*GetApi)(uint32_t version);
	const char* (*GetVersionString)(void);
} nexus_api_base;
typedef const nexus_api_base* (*nexus_get_api_base)(void);
typedef void* (*nexus_get_providers)(char*** out, int* n);
typedef void* (*nexus_release_providers)(char** p, int n);
typedef const char* (*nexus_error_message)(const void* status);
typedef void (*nexus_release_status)(void* status);

enum {
	nexus_api_version = 24,
	nexus_idx_error_message = 2,
	nexus_idx_release_status = 93,
	nexus_idx_get_providers = 125,
	nexus_idx_release_providers = 126,
};

// nexus_providers lists the execution providers built into the library at
// path (already loaded by onnxruntime_go: dlopen returns the same handle).
static int nexus_providers(const char* path, char*** out, int* n, const void*** api_out, char* err, size_t errlen) {
	void* h = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
	if (!h) {
		snprintf(err, errlen, "%s", dlerror());
		return -1;
	}
	nexus_get_api_base get = (nexus_get_api_base)dlsym(h, "OrtGetApiBase");
	if (!get) {
		snprintf(err, errlen, "no OrtGetApiBase in %s", path);
		return -1;
	}
	const void** api = (const void**)get()->GetApi(nexus_api_version);
	if (!api) {
		snprintf(err, errlen, "the library does not serve ONNX Runtime C API version %d", nexus_api_version);
		return -1;
	}
	void* st = ((nexus_get_providers)api[nexus_idx_get_providers])(out, n);
	if (st) {
		snprintf(err, errlen, "%s", ((nexus_error_message)api[nexus_idx_error_message])(st));
		((nexus_release_status)api[nexus_idx_release_status])(st);
		return -1;
	}
	*api_out = api;
	return 0;
}

static void nexus_release(const void** api, char** p, int n) {
	void* st = ((nexus_release_providers)api[nexus_idx_release_providers])(p, n);
	if (st) {
		((nexus_release_status)api[nexus_idx_release_status])(st);
	}
}

static char* nexus_provider(char** p, int i) { return p[i]; }

static int nexus_can_load(const char* name) {
	void* h = dlopen(name, RTLD_LAZY | RTLD_LOCAL);
	if (!h) {
		return 0;
	}
	dlclose(h);
	return 1;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	ort "github.com/yalue/onnxruntime_go"
)

func init() { canLoad = dlopenable }

func dlopenable(name string) bool {
	c := C.CString(name)
	defer C.free(unsafe.Pointer(c))
	return C.nexus_can_load(c) == 1
}

var (
	loadMu sync.Mutex
	loaded *Runtime
)

// LoadORT loads the ONNX Runtime library at path into this process and
// initialises its environment. The first successful call wins: later calls
// with the same path return the same Runtime, with another path an error
// (ONNX Runtime's environment is global to the process).
func LoadORT(path string) (*Runtime, error) {
	loadMu.Lock()
	defer loadMu.Unlock()
	if loaded != nil {
		if loaded.Library != path {
			return nil, fmt.Errorf("ONNX Runtime is already loaded from %s; one process cannot also load %s", loaded.Library, path)
		}
		return loaded, nil
	}
	ort.SetSharedLibraryPath(path)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return nil, fmt.Errorf("loading ONNX Runtime from %s: %w\n%s", path, err, versionHint)
	}
	r := &Runtime{Library: path, Version: ort.GetVersion()}
	providers, err := availableProviders(path)
	if err != nil {
		_ = ort.DestroyEnvironment()
		return nil, fmt.Errorf("listing the execution providers of %s: %w", path, err)
	}
	r.Providers = providers
	if !versionAtLeast(r.Version, ORTVersion) {
		_ = ort.DestroyEnvironment()
		return nil, fmt.Errorf("%s is ONNX Runtime %s; nexus needs %s or later\n%s", path, r.Version, ORTVersion, versionHint)
	}
	loaded = r
	return r, nil
}

var versionHint = fmt.Sprintf("nexus uses ONNX Runtime %s (libonnxruntime.so.1 from the npm package onnxruntime-node@%s, or %s=<path>).", ORTVersion, ORTVersion, LibraryEnv)

func availableProviders(path string) ([]string, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var (
		list **C.char
		n    C.int
		api  *unsafe.Pointer
		msg  [512]C.char
	)
	if C.nexus_providers(cpath, &list, &n, &api, &msg[0], C.size_t(len(msg))) != 0 {
		return nil, fmt.Errorf("%s", C.GoString(&msg[0]))
	}
	defer C.nexus_release(api, list, n)
	out := make([]string, 0, int(n))
	for i := range int(n) {
		out = append(out, C.GoString(C.nexus_provider(list, C.int(i))))
	}
	return out, nil
}

// NewSession creates a session for the model on device d. auto takes the
// first CUDA GPU when the CUDA provider works end to end and the CPU
// otherwise, saying why in Placement.Note; an explicit cuda[:N] that cannot
// run is a *CUDAUnavailableError listing what is missing.
func (r *Runtime) NewSession(spec SessionSpec, d Device) (*ort.DynamicAdvancedSession, Placement, error) {
	cpu := Placement{Requested: d, Device: Device{Kind: CPU}, Provider: ProviderCPU}
	switch d.Kind {
	case CPU:
		s, err := r.session(spec, nil)
		return s, cpu, err
	case CUDA:
		s, err := r.cudaSession(spec, d)
		return s, Placement{Requested: d, Device: d, Provider: ProviderCUDA}, err
	}
	if len(mustDetect()) == 0 && !canLoad("libcuda.so.1") {
		cpu.Note = "auto: no NVIDIA GPU found, running on the CPU"
		s, err := r.session(spec, nil)
		return s, cpu, err
	}
	cuda := Device{Kind: CUDA}
	s, err := r.cudaSession(spec, cuda)
	if err == nil {
		return s, Placement{Requested: d, Device: cuda, Provider: ProviderCUDA}, nil
	}
	why := err.Error()
	var cu *CUDAUnavailableError
	if errors.As(err, &cu) {
		why = strings.Join(cu.Missing, "; ")
	}
	cpu.Note = "auto: CUDA unavailable, running on the CPU: " + why
	s, err = r.session(spec, nil)
	return s, cpu, err
}

func mustDetect() []GPU {
	g, _ := Detect()
	return g
}

// cudaSession checks what CUDA needs before asking ONNX Runtime, whose own
// errors say less.
func (r *Runtime) cudaSession(spec SessionSpec, d Device) (*ort.DynamicAdvancedSession, error) {
	if !r.HasProvider(ProviderCUDA) {
		return nil, &CUDAUnavailableError{Device: d, Missing: []string{fmt.Sprintf(
			"the ONNX Runtime library %s (%s) was built without the CUDA provider (it has %s); use a build with CUDA such as onnxruntime-node's linux x64 library",
			r.Library, r.Version, strings.Join(r.Providers, ", "))}}
	}
	report := DiagnoseCUDA(r.Library)
	missing := report.Missing()
	if n := len(report.GPUs); n > 0 && d.Index >= n {
		missing = append(missing, fmt.Sprintf("there is no GPU %d: the driver lists %d (cuda:0 to cuda:%d)", d.Index, n, n-1))
	}
	if len(missing) > 0 {
		return nil, &CUDAUnavailableError{Device: d, Missing: missing}
	}
	cudaOpts, err := ort.NewCUDAProviderOptions()
	if err != nil {
		return nil, err
	}
	defer cudaOpts.Destroy()
	if err := cudaOpts.Update(map[string]string{"device_id": strconv.Itoa(d.Index)}); err != nil {
		return nil, &CUDAUnavailableError{Device: d, Missing: []string{"CUDA provider options: " + err.Error()}}
	}
	s, err := r.session(spec, func(o *ort.SessionOptions) error { return o.AppendExecutionProviderCUDA(cudaOpts) })
	if err != nil {
		return nil, &CUDAUnavailableError{Device: d, Missing: []string{"ONNX Runtime could not start CUDA on device " + strconv.Itoa(d.Index) + ": " + err.Error()}}
	}
	return s, nil
}

func (r *Runtime) session(spec SessionSpec, provider func(*ort.SessionOptions) error) (*ort.DynamicAdvancedSession, error) {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	if spec.Threads > 0 {
		if err := opts.SetIntraOpNumThreads(spec.Threads); err != nil {
			return nil, err
		}
	}
	if provider != nil {
		if err := provider(opts); err != nil {
			return nil, err
		}
	}
	if spec.ModelPath != "" {
		return ort.NewDynamicAdvancedSession(spec.ModelPath, spec.Inputs, spec.Outputs, opts)
	}
	return ort.NewDynamicAdvancedSessionWithONNXData(spec.Model, spec.Inputs, spec.Outputs, opts)
}

// ModelIO returns the inputs and outputs of the model of spec (ModelPath or
// Model).
func (r *Runtime) ModelIO(spec SessionSpec) (inputs, outputs []ort.InputOutputInfo, err error) {
	if spec.ModelPath != "" {
		return ort.GetInputOutputInfo(spec.ModelPath)
	}
	return ort.GetInputOutputInfoWithONNXData(spec.Model)
}
