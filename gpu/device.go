// Package gpu chooses where the mapping models run: it parses the
// --device selector, finds the NVIDIA GPUs of this machine (nvidia-smi or
// the driver's /proc files), finds and loads the ONNX Runtime library
// (NEXUS_ORT_LIB or the usual places), lists its execution providers, says
// what the CUDA provider is missing, and creates ONNX Runtime sessions on
// the chosen device (CUDA when it works, else the CPU with the reason).
// Loading ONNX Runtime needs cgo; a CGO_ENABLED=0 build returns ErrNoCgo.
package gpu

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Kind is a class of execution device.
type Kind string

// The device kinds nexus can run models on.
const (
	Auto Kind = "auto"
	CPU  Kind = "cpu"
	CUDA Kind = "cuda"
)

// Device is a parsed --device value: auto, cpu, cuda or cuda:N.
type Device struct {
	Kind  Kind
	Index int
}

func (d Device) String() string {
	if d.Kind == CUDA && d.Index > 0 {
		return fmt.Sprintf("cuda:%d", d.Index)
	}
	return string(d.Kind)
}

// ParseDevice reads a --device value.
func ParseDevice(s string) (Device, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	switch v {
	case "", "auto":
		return Device{Kind: Auto}, nil
	case "cpu":
		return Device{Kind: CPU}, nil
	case "cuda", "gpu":
		return Device{Kind: CUDA}, nil
	}
	if idx, ok := strings.CutPrefix(v, "cuda:"); ok {
		n, err := strconv.Atoi(idx)
		if err == nil && n >= 0 {
			return Device{Kind: CUDA, Index: n}, nil
		}
	}
	return Device{}, fmt.Errorf("invalid device %q: use auto, cpu, cuda or cuda:N (e.g. cuda:0)", s)
}

// GPU is one NVIDIA GPU as the kernel driver reports it.
type GPU struct {
	BusID string `json:"bus_id"`
	Model string `json:"model"`
}

// Detect lists the NVIDIA GPUs the loaded kernel driver knows, from
// /proc/driver/nvidia/gpus. No driver means no GPUs, not an error.
func Detect() ([]GPU, error) { return detectIn("/proc/driver/nvidia/gpus") }

func detectIn(root string) ([]GPU, error) {
	entries, err := os.ReadDir(root)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var gpus []GPU
	for _, e := range entries {
		info, err := os.ReadFile(filepath.Join(root, e.Name(), "information"))
		if err != nil {
			continue
		}
		g := GPU{BusID: e.Name()}
		for _, line := range strings.Split(string(info), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "Model" {
				g.Model = strings.TrimSpace(v)
			}
		}
		gpus = append(gpus, g)
	}
	sort.Slice(gpus, func(i, j int) bool { return gpus[i].BusID < gpus[j].BusID })
	return gpus, nil
}
