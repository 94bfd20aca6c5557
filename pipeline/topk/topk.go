// Package topk is the retrieval kernel of the neural path: the k rows of a
// matrix of L2-normalised embeddings with the highest dot product (cosine
// similarity) against a query, found with one pass over the matrix split in
// row blocks across goroutines and a small heap per block.
//
// The matrix is row-major float32, or int8 with one scale per row (Int8Matrix,
// a quarter of the bytes to read). The hot loops are plain Go written so the
// compiler keeps them free of bounds checks, with several independent
// accumulators and four rows sharing each load of the query. The pass is bound
// by memory bandwidth: BenchmarkSearch reports its time against a plain sum of
// the same bytes (Sum) measured in the same run.
package topk

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"
)

// Matrix is a dense row-major float32 matrix: row i is
// Data[i*Dim : (i+1)*Dim].
type Matrix struct {
	Rows int
	Dim  int
	Data []float32
}

// Hit is one row of a search result.
type Hit struct {
	Index int
	Score float32
}

// NewMatrix copies rows of equal length into a Matrix.
func NewMatrix(rows [][]float32) (Matrix, error) {
	if len(rows) == 0 {
		return Matrix{}, nil
	}
	dim := len(rows[0])
	m := Matrix{Rows: len(rows), Dim: dim, Data: make([]float32, len(rows)*dim)}
	for i, r := range rows {
		if len(r) != dim {
			return Matrix{}, fmt.Errorf("topk: row %d has %d values, row 0 has %d", i, len(r), dim)
		}
		copy(m.Data[i*dim:], r)
	}
	return m, nil
}

// Row returns row i (a view, not a copy).
func (m Matrix) Row(i int) []float32 { return m.Data[i*m.Dim : (i+1)*m.Dim : (i+1)*m.Dim] }

// Validate reports a matrix whose data does not match its shape.
func (m Matrix) Validate() error {
	if m.Rows < 0 || m.Dim < 0 || len(m.Data) != m.Rows*m.Dim {
		return fmt.Errorf("topk: matrix %d×%d holds %d values", m.Rows, m.Dim, len(m.Data))
	}
	return nil
}

// Normalize scales v to unit length in place (a zero vector stays zero) and
// returns it.
func Normalize(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return v
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= inv
	}
	return v
}

// ErrDim is returned when the query and the matrix disagree on dimension.
var ErrDim = errors.New("topk: query dimension does not match the matrix")

// Search returns the k rows of m with the highest dot product against query,
// best first; ties go to the lower index. With rows and query L2-normalised
// the score is the cosine similarity. It uses GOMAXPROCS goroutines. k larger
// than the number of rows returns every row; k <= 0 returns none. A query of
// the wrong dimension returns nil (SearchWorkers reports it as an error).
func Search(m Matrix, query []float32, k int) []Hit {
	hits, _ := SearchWorkers(m, query, k, 0)
	return hits
}

// SearchWorkers is Search with an explicit number of goroutines (0 means
// GOMAXPROCS).
func SearchWorkers(m Matrix, query []float32, k, workers int) ([]Hit, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if len(query) != m.Dim {
		return nil, fmt.Errorf("%w: query has %d values, matrix rows %d", ErrDim, len(query), m.Dim)
	}
	return searchBlocks(m.Rows, k, workers, func(lo, hi int, h *minHeap) {
		scanF32(m.Data, query, m.Dim, lo, hi, h)
	}), nil
}

// blockRows is the number of rows a goroutine takes at a time: small enough
// for the goroutines to share the tail evenly, large enough that handing out
// blocks costs nothing.
const blockRows = 256

// searchBlocks runs scan over [0, rows) in blocks of blockRows taken by
// workers goroutines in turn, each keeping its own heap of k, and merges the
// heaps.
func searchBlocks(rows, k, workers int, scan func(lo, hi int, h *minHeap)) []Hit {
	if k <= 0 || rows == 0 {
		return nil
	}
	k = min(k, rows)
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, (rows+blockRows-1)/blockRows)
	heaps := make([]minHeap, workers)
	if workers == 1 {
		heaps[0] = newHeap(k)
		scan(0, rows, &heaps[0])
	} else {
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			next int
		)
		take := func() (int, int) {
			mu.Lock()
			defer mu.Unlock()
			lo := next
			next = min(next+blockRows, rows)
			return lo, next
		}
		for w := range heaps {
			heaps[w] = newHeap(k)
			wg.Go(func() {
				for {
					lo, hi := take()
					if lo >= hi {
						return
					}
					scan(lo, hi, &heaps[w])
				}
			})
		}
		wg.Wait()
	}
	all := heaps[0].hits
	for _, h := range heaps[1:] {
		all = append(all, h.hits...)
	}
	sortHits(all)
	if len(all) > k {
		all = all[:k]
	}
	return all
}

// sortHits orders hits best first, ties by lower index.
func sortHits(h []Hit) {
	sort.Slice(h, func(i, j int) bool { return better(h[i], h[j]) })
}

// better reports whether a ranks before b.
func better(a, b Hit) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	return a.Index < b.Index
}

// minHeap keeps the best k hits seen so far with the worst at the root, so a
// new score is compared with one value and most rows never touch the heap.
type minHeap struct {
	k    int
	hits []Hit
}

func newHeap(k int) minHeap { return minHeap{k: k, hits: make([]Hit, 0, k)} }

// push offers one hit.
func (h *minHeap) push(idx int, score float32) {
	x := Hit{Index: idx, Score: score}
	if len(h.hits) < h.k {
		h.hits = append(h.hits, x)
		h.up(len(h.hits) - 1)
		return
	}
	if !better(x, h.hits[0]) {
		return
	}
	h.hits[0] = x
	h.down(0)
}

// worse is the heap order: the root is the hit every other beats.
func (h *minHeap) worse(i, j int) bool { return better(h.hits[j], h.hits[i]) }

func (h *minHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.worse(i, p) {
			return
		}
		h.hits[i], h.hits[p] = h.hits[p], h.hits[i]
		i = p
	}
}

func (h *minHeap) down(i int) {
	n := len(h.hits)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && h.worse(r, l) {
			c = r
		}
		if !h.worse(c, i) {
			return
		}
		h.hits[i], h.hits[c] = h.hits[c], h.hits[i]
		i = c
	}
}
