package topk

import (
	"fmt"
	"math"
)

// Int8Matrix is a Matrix quantised to int8 with one scale per row: value
// (i, j) is Scale[i] * Data[i*Dim+j]. It reads a quarter of the bytes of the
// float32 matrix; scores differ from the float32 ones by at most about
// |query|₁ · Scale[i] / 2 (a few thousandths for unit vectors of a few
// hundred dimensions), enough to rank but not to compare across models.
type Int8Matrix struct {
	Rows  int
	Dim   int
	Data  []int8
	Scale []float32
}

// QuantizeInt8 quantises each row of m symmetrically: the largest magnitude
// of the row maps to 127.
func QuantizeInt8(m Matrix) (Int8Matrix, error) {
	if err := m.Validate(); err != nil {
		return Int8Matrix{}, err
	}
	q := Int8Matrix{Rows: m.Rows, Dim: m.Dim, Data: make([]int8, len(m.Data)), Scale: make([]float32, m.Rows)}
	for i := range m.Rows {
		row := m.Row(i)
		var peak float32
		for _, x := range row {
			peak = max(peak, float32(math.Abs(float64(x))))
		}
		if peak == 0 {
			continue
		}
		scale := peak / 127
		q.Scale[i] = scale
		out := q.Data[i*m.Dim : (i+1)*m.Dim]
		for j, x := range row {
			out[j] = int8(math.Round(float64(x / scale)))
		}
	}
	return q, nil
}

// Validate reports a matrix whose data does not match its shape.
func (m Int8Matrix) Validate() error {
	if m.Rows < 0 || m.Dim < 0 || len(m.Data) != m.Rows*m.Dim || len(m.Scale) != m.Rows {
		return fmt.Errorf("topk: int8 matrix %d×%d holds %d values and %d scales", m.Rows, m.Dim, len(m.Data), len(m.Scale))
	}
	return nil
}

// SearchInt8 is SearchWorkers over a quantised matrix; the query stays
// float32.
func SearchInt8(m Int8Matrix, query []float32, k, workers int) ([]Hit, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if len(query) != m.Dim {
		return nil, fmt.Errorf("%w: query has %d values, matrix rows %d", ErrDim, len(query), m.Dim)
	}
	return searchBlocks(m.Rows, k, workers, func(lo, hi int, h *minHeap) {
		scanI8(m, query, lo, hi, h)
	}), nil
}

func scanI8(m Int8Matrix, q []float32, lo, hi int, h *minHeap) {
	dim := m.Dim
	q = q[:dim:dim]
	i := lo
	for ; i+4 <= hi; i += 4 {
		base := i * dim
		s0, s1, s2, s3 := dot4I8(m.Data[base:base+4*dim:base+4*dim], q)
		h.push(i, s0*m.Scale[i])
		h.push(i+1, s1*m.Scale[i+1])
		h.push(i+2, s2*m.Scale[i+2])
		h.push(i+3, s3*m.Scale[i+3])
	}
	for ; i < hi; i++ {
		row := m.Data[i*dim : (i+1)*dim : (i+1)*dim]
		var s float32
		for j, x := range q {
			s += float32(row[j]) * x
		}
		h.push(i, s*m.Scale[i])
	}
}

// dot4I8Go is dot4Go for int8 rows.
func dot4I8Go(rows []int8, q []float32) (float32, float32, float32, float32) {
	n := len(q)
	r0 := rows[0*n : 1*n : 1*n]
	r1 := rows[1*n : 2*n : 2*n]
	r2 := rows[2*n : 3*n : 3*n]
	r3 := rows[3*n : 4*n : 4*n]
	var a, b, c, d float32
	for j, x := range q {
		a += float32(r0[j]) * x
		b += float32(r1[j]) * x
		c += float32(r2[j]) * x
		d += float32(r3[j]) * x
	}
	return a, b, c, d
}

// sumI8Go adds up bytes as the unsigned values a memory scan sees.
func sumI8Go(v []int8) int64 {
	var s0, s1, s2, s3 int64
	j := 0
	for ; j+4 <= len(v); j += 4 {
		s0 += int64(uint8(v[j]))
		s1 += int64(uint8(v[j+1]))
		s2 += int64(uint8(v[j+2]))
		s3 += int64(uint8(v[j+3]))
	}
	for ; j < len(v); j++ {
		s0 += int64(uint8(v[j]))
	}
	return s0 + s1 + s2 + s3
}
