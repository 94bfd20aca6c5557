//go:build !amd64 || purego

package topk

// useAVX2 is always false off amd64 and with the purego build tag.
var useAVX2 = false

// Kernel names the kernels in use, for benchmarks and `nexus gpu bench`.
func Kernel() string { return "go" }

func dot4(rows, q []float32) (float32, float32, float32, float32) { return dot4Go(rows, q) }

func dot4I8(rows []int8, q []float32) (float32, float32, float32, float32) {
	return dot4I8Go(rows, q)
}

func sumF32(v []float32) float32 { return sumF32Go(v) }

func sumI8(v []int8) int64 { return sumI8Go(v) }
