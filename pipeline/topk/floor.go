package topk

import (
	"runtime"
	"sync"
)

// Sum adds up every value of m with the same goroutines and row blocks as
// SearchWorkers (0 workers means GOMAXPROCS). It reads exactly the bytes a
// search reads and does the least work possible with them, so its time is
// the memory floor a search is measured against.
func Sum(m Matrix, workers int) float32 {
	return sumBlocks(m.Rows, workers, func(lo, hi int) float32 {
		return sumF32(m.Data[lo*m.Dim : hi*m.Dim])
	})
}

// SumInt8 is Sum for an Int8Matrix: the floor of SearchInt8.
func SumInt8(m Int8Matrix, workers int) float32 {
	return sumBlocks(m.Rows, workers, func(lo, hi int) float32 {
		return float32(sumI8(m.Data[lo*m.Dim : hi*m.Dim]))
	})
}

func sumBlocks(rows, workers int, sum func(lo, hi int) float32) float32 {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(1, min(workers, (rows+blockRows-1)/blockRows))
	parts := make([]float32, workers)
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
	for w := range parts {
		wg.Go(func() {
			for {
				lo, hi := take()
				if lo >= hi {
					return
				}
				parts[w] += sum(lo, hi)
			}
		})
	}
	wg.Wait()
	var total float32
	for _, p := range parts {
		total += p
	}
	return total
}
