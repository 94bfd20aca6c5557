// Package check is `nexus gpu check`.
package check

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/gpu/shared"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/gpu"
	"github.com/nexus-compliance/nexus/pipeline/onnx"
)

// Options are the inputs of `nexus gpu check`.
type Options struct {
	shared.Deps
	shared.DeviceFlags
	Ctx context.Context
}

// NewCmd builds `nexus gpu check`. runF replaces Run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Deps: shared.NewDeps(f)}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check that a device runs a model end to end (exit 3 if not)",
		Long: `Check that the neural path works on --device: find and load the ONNX Runtime library,
create a session on the device with a tiny bi-encoder that nexus carries (or the model of
--model-dir), run it on two texts and check the vectors.

Exits 0 when every step passes, 3 when one fails, saying what is missing: the library
($NEXUS_ORT_LIB), the NVIDIA driver, the CUDA provider libraries
(libonnxruntime_providers_cuda.so beside libonnxruntime), or the CUDA/cuDNN libraries.
With --device auto on a machine without a usable GPU the check passes on the CPU and
says why it did not use CUDA.`,
		Example: `  nexus gpu check
  nexus gpu check --device cuda
  nexus gpu check --device cuda:1 --model-dir ./models/all-MiniLM-L6-v2 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := opts.ParseDevice(); err != nil {
				return err
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	shared.AddDeviceFlags(cmd, &opts.DeviceFlags, "model folder (model.onnx, tokenizer.json) to check with (default: the tiny model nexus carries)")
	return cmd
}

// Step is one check.
type Step struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Report is what `nexus gpu check` prints.
type Report struct {
	Device    string         `json:"device"`
	OK        bool           `json:"ok"`
	Placement *gpu.Placement `json:"placement,omitempty"`
	Steps     []Step         `json:"steps"`
}

// Run performs the checks, prints them, and returns a ProblemsError (exit
// 3) naming the failed step when there is one.
func Run(opts *Options) error {
	ctx, cancel := opts.Context(opts.Ctx)
	defer cancel()
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	d, err := opts.ParseDevice()
	if err != nil {
		return err
	}
	r := check(ctx, opts, d)
	if err := p.Print(r, func() printer.Table { return table(r) }); err != nil {
		return err
	}
	if r.OK {
		return nil
	}
	last := r.Steps[len(r.Steps)-1]
	return &cmdutil.ProblemsError{Msg: fmt.Sprintf("--device %s does not work: %s failed: %s", r.Device, last.Name, last.Detail)}
}

func check(ctx context.Context, opts *Options, d gpu.Device) Report {
	r := Report{Device: d.String()}
	step := func(name string, err error, detail string) bool {
		s := Step{Name: name, OK: err == nil, Detail: detail}
		if err != nil {
			s.Detail = oneLine(err.Error())
		}
		r.Steps = append(r.Steps, s)
		return err == nil
	}
	path, err := gpu.ORTLibrary(opts.Getenv)
	if !step("find onnxruntime", err, path) {
		return r
	}
	rt, err := opts.LoadORT(path)
	if !step("load onnxruntime", err, fmt.Sprintf("version %s, providers %s", versionOf(rt), providersOf(rt))) {
		return r
	}
	dir, tiny, cleanup, err := opts.ModelFolder()
	if !step("model", err, dir) {
		return r
	}
	defer cleanup()
	if tiny {
		r.Steps[len(r.Steps)-1].Detail = "the tiny bi-encoder nexus carries"
	}
	emb, err := onnx.NewEmbedder(onnx.Options{Runtime: rt, ModelDir: dir, Device: d, BatchSize: 2})
	var place gpu.Placement
	if emb != nil {
		place = emb.Placement()
		r.Placement = &place
	}
	if !step("create session on "+d.String(), err, placementText(place)) {
		return r
	}
	defer emb.Close()
	vecs, err := emb.Embed(ctx, []string{"Ensure API Gateway caches are encrypted at rest.", "Account management"})
	if err == nil {
		err = checkVectors(vecs)
	}
	detail := ""
	if err == nil {
		detail = fmt.Sprintf("2 texts → 2 unit vectors of %d dimensions on %s", len(vecs[0]), place.Device)
	}
	r.OK = step("run model", err, detail)
	return r
}

// oneLine folds a multi-line message (a list of what is missing) into one
// line for the table.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, ":\n  - ", ": ")
	s = strings.ReplaceAll(s, "\n  - ", "; ")
	return strings.ReplaceAll(s, "\n", " ")
}

func versionOf(rt *gpu.Runtime) string {
	if rt == nil {
		return ""
	}
	return rt.Version
}

func providersOf(rt *gpu.Runtime) string {
	if rt == nil {
		return ""
	}
	return strings.Join(rt.Providers, ", ")
}

func placementText(p gpu.Placement) string {
	s := fmt.Sprintf("%s with %s", p.Device, p.Provider)
	if p.Note != "" {
		s += " (" + p.Note + ")"
	}
	return s
}

// checkVectors accepts two finite unit vectors that differ.
func checkVectors(vecs [][]float32) error {
	if len(vecs) != 2 || len(vecs[0]) == 0 || len(vecs[0]) != len(vecs[1]) {
		return errors.New("the model returned the wrong number or shape of vectors")
	}
	same := true
	for i, v := range vecs {
		var n float64
		for j, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("vector %d has a non-finite value", i)
			}
			n += float64(x) * float64(x)
			if x != vecs[0][j] {
				same = false
			}
		}
		if math.Abs(n-1) > 1e-3 {
			return fmt.Errorf("vector %d has length %.4f, not 1", i, math.Sqrt(n))
		}
	}
	if same {
		return errors.New("two different texts gave the same vector")
	}
	return nil
}

func table(r Report) printer.Table {
	t := printer.Table{Headers: []string{"CHECK", "RESULT", "DETAIL"}}
	for _, s := range r.Steps {
		res := "ok"
		if !s.OK {
			res = "FAILED"
		}
		t.Rows = append(t.Rows, []string{s.Name, res, s.Detail})
	}
	return t
}
