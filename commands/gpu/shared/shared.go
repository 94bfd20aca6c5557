// Package shared holds what the `nexus gpu` verbs share: the dependencies
// they take from the Factory, finding and loading ONNX Runtime, and the
// --device and --model-dir flags.
package shared

import (
	"context"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/gpu"
	"github.com/nexus-compliance/nexus/pipeline/onnx/tinymodel"
)

// Deps are what a gpu verb needs from the Factory, as fields a test can
// replace.
type Deps struct {
	IO      *iostreams.IOStreams
	Printer func() (*printer.Printer, error)
	Getenv  func(string) string
	Context func(parent context.Context) (context.Context, context.CancelFunc)
	// LoadORT loads the library (gpu.LoadORT).
	LoadORT func(path string) (*gpu.Runtime, error)
}

// NewDeps takes the dependencies from f.
func NewDeps(f *cmdutil.Factory) Deps {
	return Deps{IO: f.IOStreams, Printer: f.Printer, Getenv: f.Getenv, Context: f.Context, LoadORT: gpu.LoadORT}
}

// Runtime finds the ONNX Runtime library ($NEXUS_ORT_LIB, then the usual
// places) and loads it. The path is returned even when loading fails.
func (d Deps) Runtime() (*gpu.Runtime, string, error) {
	path, err := gpu.ORTLibrary(d.Getenv)
	if err != nil {
		return nil, "", err
	}
	rt, err := d.LoadORT(path)
	return rt, path, err
}

// DeviceFlags are --device and --model-dir.
type DeviceFlags struct {
	Device   string
	ModelDir string
}

// AddDeviceFlags registers --device and --model-dir.
func AddDeviceFlags(cmd *cobra.Command, fl *DeviceFlags, modelHelp string) {
	cmd.Flags().StringVar(&fl.Device, "device", "auto", "where to run: auto, cpu, cuda or cuda:N")
	cmd.Flags().StringVar(&fl.ModelDir, "model-dir", "", modelHelp)
	_ = cmd.RegisterFlagCompletionFunc("device", cobra.FixedCompletions([]string{"auto", "cpu", "cuda", "cuda:0", "cuda:1"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.MarkFlagDirname("model-dir")
}

// ParseDevice reads --device; a bad value is a usage error.
func (fl DeviceFlags) ParseDevice() (gpu.Device, error) {
	d, err := gpu.ParseDevice(fl.Device)
	if err != nil {
		return gpu.Device{}, &cmdutil.FlagError{Err: err}
	}
	return d, nil
}

// ModelFolder returns --model-dir, or a temporary folder holding the tiny
// bi-encoder nexus carries; cleanup removes what was made.
func (fl DeviceFlags) ModelFolder() (dir string, tiny bool, cleanup func(), err error) {
	if fl.ModelDir != "" {
		return fl.ModelDir, false, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", "nexus-tinymodel-")
	if err != nil {
		return "", false, nil, err
	}
	cleanup = func() { os.RemoveAll(tmp) }
	// The folder's name is part of the model version.
	dir = filepath.Join(tmp, "tiny-bi-encoder")
	if err := tinymodel.Write(dir, tinymodel.Embedder); err != nil {
		cleanup()
		return "", false, nil, err
	}
	return dir, true, cleanup, nil
}
