//go:build cgo

package gpu_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/nexus-compliance/nexus/gpu"
	"github.com/nexus-compliance/nexus/gpu/gputest"
	"github.com/nexus-compliance/nexus/pipeline/onnx/tinymodel"
)

func TestLoadORT(t *testing.T) {
	rt := gputest.ORT(t)
	if !strings.HasPrefix(rt.Version, "1.") || !rt.HasProvider(gpu.ProviderCPU) {
		t.Fatalf("runtime %+v", rt)
	}
	t.Logf("ONNX Runtime %s from %s, providers %v", rt.Version, rt.Library, rt.Providers)
	again, err := gpu.LoadORT(rt.Library)
	if err != nil || again != rt {
		t.Fatalf("second load: %v, %v", again, err)
	}
	if _, err := gpu.LoadORT("/elsewhere/libonnxruntime.so.1"); err == nil || !strings.Contains(err.Error(), "already loaded") {
		t.Fatalf("other path: %v", err)
	}
}

func tinySpec(t *testing.T) gpu.SessionSpec {
	model, err := tinymodel.Model(tinymodel.Embedder)
	if err != nil {
		t.Fatal(err)
	}
	return gpu.SessionSpec{Model: model, Inputs: []string{"input_ids", "attention_mask", "token_type_ids"},
		Outputs: []string{"last_hidden_state"}, Threads: 1}
}

// TestSessionOnCPU runs the tiny model on the CPU, and through auto on a
// machine without a GPU (auto then says why it chose the CPU).
func TestSessionOnCPU(t *testing.T) {
	rt := gputest.ORT(t)
	ins, outs, err := rt.ModelIO(tinySpec(t))
	if err != nil || len(ins) != 3 || outs[0].Name != "last_hidden_state" {
		t.Fatalf("model io: %v %v %v", ins, outs, err)
	}
	for _, dev := range []string{"cpu", "auto"} {
		d, _ := gpu.ParseDevice(dev)
		s, place, err := rt.NewSession(tinySpec(t), d)
		if err != nil {
			if d.Kind == gpu.Auto {
				t.Fatalf("auto must fall back to the CPU: %v", err)
			}
			t.Fatal(err)
		}
		if place.Device.Kind == gpu.CUDA {
			t.Logf("auto chose %s", place.Device)
		} else if place.Provider != gpu.ProviderCPU || (d.Kind == gpu.Auto) != (place.Note != "") {
			t.Fatalf("%s placement %+v", dev, place)
		}
		ids, _ := ort.NewTensor(ort.NewShape(1, 3), []int64{101, 7592, 102})
		mask, _ := ort.NewTensor(ort.NewShape(1, 3), []int64{1, 1, 1})
		typ, _ := ort.NewTensor(ort.NewShape(1, 3), []int64{0, 0, 0})
		out := []ort.Value{nil}
		if err := s.Run([]ort.Value{ids, mask, typ}, out); err != nil {
			t.Fatal(err)
		}
		if got := out[0].GetShape(); !slices.Equal(got, ort.NewShape(1, 3, 8)) {
			t.Fatalf("output shape %v", got)
		}
		for _, v := range []ort.Value{ids, mask, typ, out[0]} {
			v.Destroy()
		}
		s.Destroy()
	}
}

// TestExplicitCUDAExplains asks for CUDA where it cannot run (no GPU here,
// or no provider library beside the npm library): the error lists what is
// missing. Where CUDA does work the session simply runs.
func TestExplicitCUDAExplains(t *testing.T) {
	rt := gputest.ORT(t)
	s, place, err := rt.NewSession(tinySpec(t), gpu.Device{Kind: gpu.CUDA})
	if err == nil {
		t.Logf("CUDA works here: %+v", place)
		s.Destroy()
		return
	}
	var cu *gpu.CUDAUnavailableError
	if !errors.As(err, &cu) || len(cu.Missing) == 0 || !strings.HasPrefix(err.Error(), "--device cuda cannot run:") {
		t.Fatalf("error %v", err)
	}
	t.Logf("as expected here:\n%v", err)
}
