package topk

import (
	"errors"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

// randomMatrix returns rows×dim L2-normalised random rows and a random unit
// query, the same for the same seed.
func randomMatrix(seed uint64, rows, dim int) (Matrix, []float32) {
	r := rand.New(rand.NewPCG(seed, 1))
	m := Matrix{Rows: rows, Dim: dim, Data: make([]float32, rows*dim)}
	for i := range m.Data {
		m.Data[i] = float32(r.NormFloat64())
	}
	for i := range rows {
		Normalize(m.Row(i))
	}
	q := make([]float32, dim)
	for i := range q {
		q[i] = float32(r.NormFloat64())
	}
	return m, Normalize(q)
}

// bruteForce scores every row in float64 and sorts.
func bruteForce(m Matrix, q []float32) []Hit {
	hits := make([]Hit, m.Rows)
	for i := range m.Rows {
		var s float64
		for j, x := range m.Row(i) {
			s += float64(x) * float64(q[j])
		}
		hits[i] = Hit{Index: i, Score: float32(s)}
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].Score > hits[j].Score })
	return hits
}

// sameRanking checks got against the first len(got) of want: equal scores
// within tol, and the same rows except where two rows score within tol of
// each other (their order is then a matter of rounding).
func sameRanking(t *testing.T, got, want []Hit, tol float32) {
	t.Helper()
	for i, g := range got {
		w := want[i]
		if d := g.Score - w.Score; d > tol || d < -tol {
			t.Fatalf("hit %d: score %v, brute force %v (index %d vs %d)", i, g.Score, w.Score, g.Index, w.Index)
		}
		if g.Index != w.Index {
			var gs float32
			for _, x := range want {
				if x.Index == g.Index {
					gs = x.Score
				}
			}
			if d := gs - w.Score; d > tol || d < -tol {
				t.Fatalf("hit %d: row %d (%v), brute force row %d (%v)", i, g.Index, gs, w.Index, w.Score)
			}
		}
	}
}

func TestSearchMatchesBruteForce(t *testing.T) {
	for _, tc := range []struct{ rows, dim, k, workers int }{
		{1, 1, 1, 1}, {3, 5, 10, 1}, {257, 7, 5, 2}, {1000, 384, 10, 0}, {1031, 33, 50, 3}, {4096, 64, 1, 2}, {600, 16, 600, 2},
	} {
		m, q := randomMatrix(uint64(tc.rows*tc.dim), tc.rows, tc.dim)
		got, err := SearchWorkers(m, q, tc.k, tc.workers)
		if err != nil {
			t.Fatal(err)
		}
		want := bruteForce(m, q)
		if len(got) != min(tc.k, tc.rows) {
			t.Fatalf("%+v: %d hits", tc, len(got))
		}
		for i := 1; i < len(got); i++ {
			if got[i].Score > got[i-1].Score {
				t.Fatalf("%+v: not sorted at %d", tc, i)
			}
		}
		sameRanking(t, got, want, 1e-5)
	}
}

func TestSearchEdges(t *testing.T) {
	m, q := randomMatrix(1, 10, 4)
	if got := Search(m, q, 0); got != nil {
		t.Fatalf("k=0: %v", got)
	}
	if got := Search(Matrix{}, nil, 3); got != nil {
		t.Fatalf("empty matrix: %v", got)
	}
	if _, err := SearchWorkers(m, q[:3], 2, 1); !errors.Is(err, ErrDim) {
		t.Fatalf("short query: %v", err)
	}
	if got := Search(m, q[:3], 2); got != nil {
		t.Fatalf("Search with a short query: %v", got)
	}
	if _, err := SearchWorkers(Matrix{Rows: 2, Dim: 3, Data: make([]float32, 5)}, q[:3], 1, 1); err == nil {
		t.Fatal("malformed matrix accepted")
	}
	// Ties go to the lower index, across worker blocks too.
	tied := Matrix{Rows: 1000, Dim: 2, Data: make([]float32, 2000)}
	for i := range tied.Rows {
		tied.Data[2*i] = 1
	}
	got, _ := SearchWorkers(tied, []float32{1, 0}, 3, 4)
	if len(got) != 3 || got[0].Index != 0 || got[1].Index != 1 || got[2].Index != 2 {
		t.Fatalf("ties: %v", got)
	}
}

func TestNewMatrixAndNormalize(t *testing.T) {
	m, err := NewMatrix([][]float32{{3, 4}, {0, 0}})
	if err != nil || m.Rows != 2 || m.Dim != 2 {
		t.Fatal(m, err)
	}
	Normalize(m.Row(0))
	Normalize(m.Row(1))
	if m.Data[0] != 0.6 || m.Data[1] != 0.8 || m.Data[2] != 0 {
		t.Fatalf("normalize: %v", m.Data)
	}
	if _, err := NewMatrix([][]float32{{1}, {1, 2}}); err == nil {
		t.Fatal("ragged rows accepted")
	}
	if m, err := NewMatrix(nil); err != nil || m.Rows != 0 {
		t.Fatal(m, err)
	}
}

func TestDotAndSum(t *testing.T) {
	for n := range 20 {
		a, b := make([]float32, n), make([]float32, n)
		var want, wantSum float32
		for i := range n {
			a[i], b[i] = float32(i+1), float32(2*i-3)
			want += a[i] * b[i]
			wantSum += a[i]
		}
		if got := Dot(a, b); got != want {
			t.Fatalf("Dot n=%d: %v want %v", n, got, want)
		}
		if got := sumF32(a); got != wantSum {
			t.Fatalf("sum n=%d: %v want %v", n, got, wantSum)
		}
	}
	m := Matrix{Rows: 700, Dim: 3, Data: make([]float32, 2100)}
	for i := range m.Data {
		m.Data[i] = 1
	}
	if got := Sum(m, 3); got != 2100 {
		t.Fatalf("Sum = %v", got)
	}
}

func TestInt8MatchesFloat(t *testing.T) {
	m, q := randomMatrix(7, 2000, 384)
	qm, err := QuantizeInt8(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := SearchInt8(qm, q, 10, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Brute force over the dequantised matrix is exact up to rounding.
	deq := Matrix{Rows: m.Rows, Dim: m.Dim, Data: make([]float32, len(m.Data))}
	for i := range m.Rows {
		for j := range m.Dim {
			deq.Data[i*m.Dim+j] = float32(qm.Data[i*m.Dim+j]) * qm.Scale[i]
		}
	}
	sameRanking(t, got, bruteForce(deq, q), 1e-5)
	// And close to the float32 scores.
	exact := bruteForce(m, q)
	for i, h := range got {
		if d := math.Abs(float64(h.Score - exact[i].Score)); d > 0.01 {
			t.Fatalf("hit %d: int8 %v, float %v", i, h.Score, exact[i].Score)
		}
	}
	if SumInt8(qm, 2) == 0 {
		t.Fatal("SumInt8 of random data is 0")
	}
	if _, err := SearchInt8(qm, q[:5], 1, 1); !errors.Is(err, ErrDim) {
		t.Fatalf("short query: %v", err)
	}
}

// The sizes the seed promises: 10,000 targets of 4,096 dimensions.
const benchRows, benchDim = 10_000, 4_096

// benchAgainstFloor times search and floor alternately, b.N times under
// the benchmark timer and at least 7 times in all, and reports the median of
// each and their ratio, so both see the same state of the machine even with
// -benchtime 1x.
func benchAgainstFloor(b *testing.B, bytes int64, search, floor func()) {
	b.Helper()
	search()
	floor()
	var ts, tf []time.Duration
	timed := func(f func()) {
		start := time.Now()
		f()
		ts = append(ts, time.Since(start))
	}
	b.ResetTimer()
	for i := range max(b.N, 7) {
		if i >= b.N {
			b.StopTimer()
		}
		timed(search)
		b.StopTimer()
		start := time.Now()
		floor()
		tf = append(tf, time.Since(start))
		if i+1 < b.N {
			b.StartTimer()
		}
	}
	ms, mf := median(ts), median(tf)
	b.SetBytes(bytes)
	b.ReportMetric(float64(ms.Microseconds())/1000, "ms/search")
	b.ReportMetric(float64(mf.Microseconds())/1000, "ms/floor")
	b.ReportMetric(float64(bytes)/ms.Seconds()/1e9, "GB/s")
	b.ReportMetric(float64(ms)/float64(mf), "x-floor")
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// BenchmarkSearch is top-10 over 10,000×4,096 float32 against a plain sum of
// the same 164 MB with the same goroutines: x-floor is the ratio (target ≤
// 1.5), ms/search the time the seed promises under 200 ms.
func BenchmarkSearch(b *testing.B) {
	m, q := randomMatrix(42, benchRows, benchDim)
	var sink float32
	benchAgainstFloor(b, int64(len(m.Data))*4,
		func() { h := Search(m, q, 10); sink += h[0].Score },
		func() { sink += Sum(m, 0) })
	_ = sink
}

// BenchmarkSearchInt8 is BenchmarkSearch over the int8 matrix (41 MB)
// against a sum of its bytes.
func BenchmarkSearchInt8(b *testing.B) {
	m, q := randomMatrix(42, benchRows, benchDim)
	qm, err := QuantizeInt8(m)
	if err != nil {
		b.Fatal(err)
	}
	var sink float32
	benchAgainstFloor(b, int64(len(qm.Data)),
		func() { h, _ := SearchInt8(qm, q, 10, 0); sink += h[0].Score },
		func() { sink += SumInt8(qm, 0) })
	_ = sink
}

// TestKernelsAgree runs the vector kernels (where this CPU has them) and the
// plain Go ones over every length around their steps.
func TestKernelsAgree(t *testing.T) {
	if !useAVX2 {
		t.Logf("kernel %s: only the Go kernels run here", Kernel())
	}
	r := rand.New(rand.NewPCG(3, 4))
	for n := range 70 {
		rows := make([]float32, 4*n)
		q := make([]float32, n)
		i8 := make([]int8, 4*n)
		for i := range rows {
			rows[i] = float32(r.NormFloat64())
			i8[i] = int8(r.IntN(256) - 128)
		}
		for i := range q {
			q[i] = float32(r.NormFloat64())
		}
		g0, g1, g2, g3 := dot4Go(rows, q)
		v0, v1, v2, v3 := dot4(rows, q)
		for j, p := range [][2]float32{{g0, v0}, {g1, v1}, {g2, v2}, {g3, v3}} {
			if math.Abs(float64(p[0]-p[1])) > 1e-4*math.Sqrt(float64(n)+1) {
				t.Fatalf("dot4 n=%d row %d: go %v, kernel %v", n, j, p[0], p[1])
			}
		}
		g0, g1, g2, g3 = dot4I8Go(i8, q)
		v0, v1, v2, v3 = dot4I8(i8, q)
		for j, p := range [][2]float32{{g0, v0}, {g1, v1}, {g2, v2}, {g3, v3}} {
			if math.Abs(float64(p[0]-p[1])) > 1e-2*math.Sqrt(float64(n)+1) {
				t.Fatalf("dot4I8 n=%d row %d: go %v, kernel %v", n, j, p[0], p[1])
			}
		}
		if g, v := sumF32Go(rows), sumF32(rows); math.Abs(float64(g-v)) > 1e-4*float64(n+1) {
			t.Fatalf("sum n=%d: go %v, kernel %v", n, g, v)
		}
	}
	for _, n := range []int{0, 1, 127, 128, 129, 1000} {
		b := make([]int8, n)
		for i := range b {
			b[i] = int8(r.IntN(256) - 128)
		}
		if g, v := sumI8Go(b), sumI8(b); g != v {
			t.Fatalf("sumI8 n=%d: go %d, kernel %d", n, g, v)
		}
	}
}

func TestSearchGoKernels(t *testing.T) {
	saved := useAVX2
	defer func() { useAVX2 = saved }()
	useAVX2 = false
	m, q := randomMatrix(9, 777, 100)
	got, err := SearchWorkers(m, q, 7, 2)
	if err != nil {
		t.Fatal(err)
	}
	sameRanking(t, got, bruteForce(m, q), 1e-5)
}
