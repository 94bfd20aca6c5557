// Package info is `nexus gpu info`.
package info

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/gpu/shared"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/gpu"
)

// Options are the inputs of `nexus gpu info`.
type Options struct {
	shared.Deps
	// ListGPUs lists the machine's GPUs (gpu.ListGPUs).
	ListGPUs func(context.Context) gpu.Inventory
	// DiagnoseCUDA checks the CUDA provider's needs (gpu.DiagnoseCUDA).
	DiagnoseCUDA func(ortLib string) gpu.CUDAReport
	Ctx          context.Context
}

// NewCmd builds `nexus gpu info`. runF replaces Run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Deps: shared.NewDeps(f), ListGPUs: gpu.ListGPUs, DiagnoseCUDA: gpu.DiagnoseCUDA}
	return &cobra.Command{
		Use:   "info",
		Short: "Show the GPUs, the ONNX Runtime library and its execution providers",
		Long: `Show what the neural path can run on: the NVIDIA GPUs of this machine (from nvidia-smi,
else the kernel driver's /proc/driver/nvidia), the ONNX Runtime library nexus found
($NEXUS_ORT_LIB, else next to the binary, .cache/onnxruntime, /usr/local/lib, /usr/lib),
its version and the execution providers built into it, and whether the CUDA provider's
libraries are in place.

It changes nothing and always exits 0; ` + "`nexus gpu check`" + ` tells whether a device works.`,
		Example: `  nexus gpu info
  NEXUS_ORT_LIB=/opt/onnxruntime/libonnxruntime.so.1 nexus gpu info -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
}

// Report is what `nexus gpu info` prints.
type Report struct {
	GPUs gpu.Inventory `json:"gpus"`
	ORT  ORT           `json:"onnxruntime"`
	// CUDA is the CUDA provider's needs, when a library was found.
	CUDA *gpu.CUDAReport `json:"cuda,omitempty"`
}

// ORT is the ONNX Runtime library as found and loaded.
type ORT struct {
	Library   string   `json:"library,omitempty"`
	Version   string   `json:"version,omitempty"`
	Providers []string `json:"providers,omitempty"`
	Error     string   `json:"error,omitempty"`
}

// Run gathers and prints the report.
func Run(opts *Options) error {
	ctx, cancel := opts.Context(opts.Ctx)
	defer cancel()
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	r := Report{GPUs: opts.ListGPUs(ctx)}
	rt, path, err := opts.Runtime()
	r.ORT.Library = path
	if err != nil {
		r.ORT.Error = err.Error()
	} else {
		r.ORT.Version, r.ORT.Providers = rt.Version, rt.Providers
	}
	if path != "" {
		c := opts.DiagnoseCUDA(path)
		r.CUDA = &c
	}
	return p.Print(r, func() printer.Table { return table(r) })
}

func table(r Report) printer.Table {
	t := printer.Table{Detail: true}
	add := func(k, v string) { t.Rows = append(t.Rows, []string{k, v}) }
	if len(r.GPUs.Devices) == 0 {
		add("gpus", "none: "+r.GPUs.Note)
	}
	for _, d := range r.GPUs.Devices {
		v := d.Name
		if d.MemoryMiB > 0 {
			v += fmt.Sprintf(", %d MiB", d.MemoryMiB)
		}
		if d.Driver != "" {
			v += ", driver " + d.Driver
		}
		add(fmt.Sprintf("gpu %d", d.Index), v+" (from "+r.GPUs.Source+")")
	}
	if len(r.GPUs.Devices) > 0 && r.GPUs.Note != "" {
		add("gpu note", r.GPUs.Note)
	}
	switch {
	case r.ORT.Library == "":
		add("onnxruntime", "not found: "+r.ORT.Error)
	case r.ORT.Error != "":
		add("onnxruntime", r.ORT.Library+": "+r.ORT.Error)
	default:
		add("onnxruntime", fmt.Sprintf("%s (version %s)", r.ORT.Library, r.ORT.Version))
		add("providers", strings.Join(r.ORT.Providers, ", "))
	}
	if c := r.CUDA; c != nil {
		add("cuda provider", libs(c.Provider, c.Shared))
		add("cuda libraries", libs(c.Libraries...))
		add("cuda driver", libs(c.DriverLib))
		if m := c.Missing(); len(m) > 0 {
			add("cuda", "not usable: "+strings.Join(m, "; "))
		} else {
			add("cuda", "libraries in place (`nexus gpu check --device cuda` runs a model)")
		}
	}
	return t
}

func libs(ls ...gpu.Library) string {
	var parts []string
	for _, l := range ls {
		s := l.Name + " missing"
		if l.Found {
			s = l.Name + " ok"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}
