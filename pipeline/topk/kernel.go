package topk

// scanF32 scores rows [lo, hi) of data (rows of dim values) against q and
// offers each score to h. Four rows go together so that each value of the
// query, loaded once, serves four multiplications; the row loads then
// dominate and the loop runs at the speed memory delivers them.
func scanF32(data, q []float32, dim, lo, hi int, h *minHeap) {
	q = q[:dim:dim]
	i := lo
	for ; i+4 <= hi; i += 4 {
		base := i * dim
		s0, s1, s2, s3 := dot4(data[base:base+4*dim:base+4*dim], q)
		h.push(i, s0)
		h.push(i+1, s1)
		h.push(i+2, s2)
		h.push(i+3, s3)
	}
	for ; i < hi; i++ {
		h.push(i, Dot(data[i*dim:(i+1)*dim], q))
	}
}

// dot4Go returns the dot products of q with the four consecutive rows held
// in rows (len(rows) == 4*len(q)). Two accumulators per row keep the adds of
// a row independent of each other.
func dot4Go(rows, q []float32) (float32, float32, float32, float32) {
	n := len(q)
	r0 := rows[0*n : 1*n : 1*n]
	r1 := rows[1*n : 2*n : 2*n]
	r2 := rows[2*n : 3*n : 3*n]
	r3 := rows[3*n : 4*n : 4*n]
	var a0, a1, b0, b1, c0, c1, d0, d1 float32
	j := 0
	for ; j+2 <= n; j += 2 {
		x0, x1 := q[j], q[j+1]
		a0 += r0[j] * x0
		a1 += r0[j+1] * x1
		b0 += r1[j] * x0
		b1 += r1[j+1] * x1
		c0 += r2[j] * x0
		c1 += r2[j+1] * x1
		d0 += r3[j] * x0
		d1 += r3[j+1] * x1
	}
	for ; j < n; j++ {
		x := q[j]
		a0 += r0[j] * x
		b0 += r1[j] * x
		c0 += r2[j] * x
		d0 += r3[j] * x
	}
	return a0 + a1, b0 + b1, c0 + c1, d0 + d1
}

// Dot is the dot product of a and b over the length of b (a must be at
// least as long), with eight independent accumulators.
func Dot(a, b []float32) float32 {
	n := len(b)
	a = a[:n:n]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	j := 0
	for ; j+8 <= n; j += 8 {
		s0 += a[j] * b[j]
		s1 += a[j+1] * b[j+1]
		s2 += a[j+2] * b[j+2]
		s3 += a[j+3] * b[j+3]
		s4 += a[j+4] * b[j+4]
		s5 += a[j+5] * b[j+5]
		s6 += a[j+6] * b[j+6]
		s7 += a[j+7] * b[j+7]
	}
	for ; j < n; j++ {
		s0 += a[j] * b[j]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

// sumF32Go adds up values with eight independent accumulators.
func sumF32Go(v []float32) float32 {
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	j := 0
	for ; j+8 <= len(v); j += 8 {
		s0 += v[j]
		s1 += v[j+1]
		s2 += v[j+2]
		s3 += v[j+3]
		s4 += v[j+4]
		s5 += v[j+5]
		s6 += v[j+6]
		s7 += v[j+7]
	}
	for ; j < len(v); j++ {
		s0 += v[j]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}
