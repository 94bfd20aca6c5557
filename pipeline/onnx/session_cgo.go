//go:build cgo

package onnx

import (
	"fmt"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/nexus-compliance/nexus/gpu"
	"github.com/nexus-compliance/nexus/pipeline/onnx/wordpiece"
)

type ortSession struct{ s *ort.DynamicAdvancedSession }

func newSession(rt *gpu.Runtime, spec gpu.SessionSpec, d gpu.Device) (session, gpu.Placement, error) {
	s, place, err := rt.NewSession(spec, d)
	if err != nil {
		return nil, place, err
	}
	return &ortSession{s: s}, place, nil
}

// modelIO returns the input and output names of the model of spec.
func modelIO(rt *gpu.Runtime, spec gpu.SessionSpec) (ins, outs []string, err error) {
	in, out, err := rt.ModelIO(spec)
	if err != nil {
		return nil, nil, err
	}
	for _, i := range in {
		ins = append(ins, i.Name)
	}
	for _, o := range out {
		outs = append(outs, o.Name)
	}
	return ins, outs, nil
}

func (o *ortSession) run(inputs []string, b wordpiece.Batch) (tensor, error) {
	shape := ort.NewShape(int64(b.Rows), int64(b.Len))
	vals := make([]ort.Value, len(inputs))
	for i, name := range inputs {
		data := b.IDs
		switch name {
		case "attention_mask":
			data = b.Mask
		case "token_type_ids":
			data = b.TypeIDs
		}
		t, err := ort.NewTensor(shape, data)
		if err != nil {
			return tensor{}, err
		}
		defer t.Destroy()
		vals[i] = t
	}
	out := []ort.Value{nil}
	if err := o.s.Run(vals, out); err != nil {
		return tensor{}, err
	}
	defer out[0].Destroy()
	ft, ok := out[0].(*ort.Tensor[float32])
	if !ok {
		return tensor{}, fmt.Errorf("the model's output is %s %v, not a float32 tensor", out[0].GetONNXType(), out[0].GetShape())
	}
	return tensor{shape: append([]int64(nil), ft.GetShape()...), data: append([]float32(nil), ft.GetData()...)}, nil
}

func (o *ortSession) close() error { return o.s.Destroy() }
