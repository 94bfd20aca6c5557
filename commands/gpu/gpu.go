// Package gpu is `nexus gpu`: where the neural path runs. Each verb lives
// in its own package.
package gpu

import (
	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/gpu/bench"
	"github.com/nexus-compliance/nexus/commands/gpu/check"
	"github.com/nexus-compliance/nexus/commands/gpu/info"
)

// NewCmd builds `nexus gpu`.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gpu",
		Short: "Inspect, check and time the devices the neural models run on",
		Long: `The neural path (bi-encoder retrieval and cross-encoder reranking) runs in-process with ONNX
Runtime on the CPU or an NVIDIA GPU, chosen with --device auto|cpu|cuda[:N].

nexus finds libonnxruntime.so.1 (ONNX Runtime 1.24.x) through $NEXUS_ORT_LIB, else next to
the binary, in .cache/onnxruntime of a checkout, the user cache, /usr/local/lib and /usr/lib.
CUDA also needs the NVIDIA driver, libonnxruntime_providers_cuda.so and
libonnxruntime_providers_shared.so beside the library, and CUDA 12 with cuDNN 9.
Without the library the lexical path still works.`,
		Example: `  nexus gpu info
  nexus gpu check --device cuda
  nexus gpu bench -o json`,
	}
	cmd.AddCommand(info.NewCmd(f, nil), check.NewCmd(f, nil), bench.NewCmd(f, nil))
	return cmd
}
