//go:build !cgo

package onnx

import "github.com/nexus-compliance/nexus/gpu"

func newSession(*gpu.Runtime, gpu.SessionSpec, gpu.Device) (session, gpu.Placement, error) {
	return nil, gpu.Placement{}, gpu.ErrNoCgo
}

func modelIO(*gpu.Runtime, gpu.SessionSpec) ([]string, []string, error) {
	return nil, nil, gpu.ErrNoCgo
}
