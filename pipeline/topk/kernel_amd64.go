//go:build amd64 && !purego

package topk

import "golang.org/x/sys/cpu"

// useAVX2 is true where the AVX2 + FMA kernels can run; elsewhere (and with
// the purego build tag) the plain Go ones do. Tests switch it to check one
// against the other.
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func dot4x16(r0 *float32, stride int, q *float32, n int, acc *[32]float32)

//go:noescape
func dot4x8i8(r0 *int8, stride int, q *float32, n int, acc *[32]float32)

//go:noescape
func sum32(p *float32, n int, acc *[8]float32)

//go:noescape
func sumBytes128(p *int8, n int) uint64

// Kernel names the kernels in use, for benchmarks and `nexus gpu bench`.
func Kernel() string {
	if useAVX2 {
		return "avx2-fma"
	}
	return "go"
}

func dot4(rows, q []float32) (float32, float32, float32, float32) {
	n := len(q)
	v := n &^ 15
	if !useAVX2 || v == 0 {
		return dot4Go(rows, q)
	}
	_ = rows[4*n-1]
	var acc [32]float32
	dot4x16(&rows[0], n, &q[0], v, &acc)
	s := lanes4(&acc)
	if v < n {
		t0, t1, t2, t3 := dot4Tail(rows, q, v)
		s[0], s[1], s[2], s[3] = s[0]+t0, s[1]+t1, s[2]+t2, s[3]+t3
	}
	return s[0], s[1], s[2], s[3]
}

func dot4I8(rows []int8, q []float32) (float32, float32, float32, float32) {
	n := len(q)
	v := n &^ 7
	if !useAVX2 || v == 0 {
		return dot4I8Go(rows, q)
	}
	_ = rows[4*n-1]
	var acc [32]float32
	dot4x8i8(&rows[0], n, &q[0], v, &acc)
	s := lanes4(&acc)
	for j := v; j < n; j++ {
		x := q[j]
		s[0] += float32(rows[j]) * x
		s[1] += float32(rows[n+j]) * x
		s[2] += float32(rows[2*n+j]) * x
		s[3] += float32(rows[3*n+j]) * x
	}
	return s[0], s[1], s[2], s[3]
}

func sumF32(v []float32) float32 {
	n := len(v) &^ 31
	if !useAVX2 || n == 0 {
		return sumF32Go(v)
	}
	var acc [8]float32
	sum32(&v[0], n, &acc)
	return lanes(acc[:]) + sumF32Go(v[n:])
}

func sumI8(v []int8) int64 {
	n := len(v) &^ 127
	if !useAVX2 || n == 0 {
		return sumI8Go(v)
	}
	return int64(sumBytes128(&v[0], n)) + sumI8Go(v[n:])
}

// lanes4 reduces the eight lanes of each of four accumulators.
func lanes4(acc *[32]float32) [4]float32 {
	return [4]float32{lanes(acc[0:8]), lanes(acc[8:16]), lanes(acc[16:24]), lanes(acc[24:32])}
}

func lanes(a []float32) float32 {
	return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]))
}

// dot4Tail is dot4Go over q[from:].
func dot4Tail(rows, q []float32, from int) (float32, float32, float32, float32) {
	n := len(q)
	var a, b, c, d float32
	for j := from; j < n; j++ {
		x := q[j]
		a += rows[j] * x
		b += rows[n+j] * x
		c += rows[2*n+j] * x
		d += rows[3*n+j] * x
	}
	return a, b, c, d
}
