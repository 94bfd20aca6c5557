// Package bench is `nexus gpu bench`.
package bench

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/gpu/shared"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/gpu"
	"github.com/nexus-compliance/nexus/pipeline/onnx"
	"github.com/nexus-compliance/nexus/pipeline/topk"
)

// Options are the inputs of `nexus gpu bench`.
type Options struct {
	shared.Deps
	shared.DeviceFlags
	Ctx context.Context

	Texts   int // texts per embed run
	Rows    int // retrieval matrix rows
	Dim     int // retrieval matrix dimension
	K       int
	Repeat  int
	Workers int // retrieval goroutines
	Threads int // ONNX Runtime CPU threads
}

// NewCmd builds `nexus gpu bench`. runF replaces Run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Deps: shared.NewDeps(f)}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Time embedding (batch 1 and 32) and top-k retrieval on a device",
		Long: `Measure the two neural hot spots on --device:

  embed     the bi-encoder over --texts texts, one text per call (batch 1) and 32 per call,
            in texts per second (the tiny model nexus carries, or --model-dir);
  retrieve  top-k cosine over a --rows × --dim matrix of random float32 vectors, in ms per
            query, beside a plain sum of the same bytes with the same goroutines (the memory
            floor) and their ratio.

Each figure is the median of --repeat runs after a warm-up. The retrieve part needs no
ONNX Runtime; when the embed part cannot run, the rest is still printed and the command
exits 3 saying why.`,
		Example: `  nexus gpu bench
  nexus gpu bench --device cuda --model-dir ./models/all-MiniLM-L6-v2 --texts 1024
  nexus gpu bench --rows 100000 --dim 384 -k 50 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := opts.ParseDevice(); err != nil {
				return err
			}
			for name, v := range map[string]int{"--texts": opts.Texts, "--rows": opts.Rows, "--dim": opts.Dim, "-k": opts.K, "--repeat": opts.Repeat} {
				if v < 1 {
					return cmdutil.FlagErrorf("invalid %s %d: must be at least 1", name, v)
				}
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	shared.AddDeviceFlags(cmd, &opts.DeviceFlags, "model folder (model.onnx, tokenizer.json) to time (default: the tiny model nexus carries)")
	fl := cmd.Flags()
	fl.IntVar(&opts.Texts, "texts", 256, "texts per embed run")
	fl.IntVar(&opts.Rows, "rows", 10_000, "rows (targets) of the retrieval matrix")
	fl.IntVar(&opts.Dim, "dim", 4_096, "dimension of the retrieval vectors")
	fl.IntVarP(&opts.K, "k", "k", 10, "hits per query")
	fl.IntVar(&opts.Repeat, "repeat", 5, "timed runs of each measurement (the median is printed)")
	fl.IntVar(&opts.Workers, "workers", 0, "retrieval goroutines (0: one per CPU)")
	fl.IntVar(&opts.Threads, "threads", 0, "ONNX Runtime CPU threads (0: one per core; 1 is faster for tiny models)")
	return cmd
}

// Report is what `nexus gpu bench` prints.
type Report struct {
	Device    string         `json:"device"`
	Placement *gpu.Placement `json:"placement,omitempty"`
	Model     string         `json:"model,omitempty"`
	Embed     []EmbedResult  `json:"embed"`
	// EmbedError says why the embed part did not run.
	EmbedError string         `json:"embed_error,omitempty"`
	Retrieve   RetrieveResult `json:"retrieve"`
}

// EmbedResult is one embed run.
type EmbedResult struct {
	Batch       int     `json:"batch"`
	Texts       int     `json:"texts"`
	Ms          float64 `json:"ms"`
	TextsPerSec float64 `json:"texts_per_sec"`
}

// RetrieveResult is the top-k run against its memory floor.
type RetrieveResult struct {
	Rows       int     `json:"rows"`
	Dim        int     `json:"dim"`
	K          int     `json:"k"`
	Workers    int     `json:"workers"`
	Kernel     string  `json:"kernel"`
	SearchMs   float64 `json:"search_ms"`
	FloorMs    float64 `json:"floor_ms"`
	Ratio      float64 `json:"ratio_to_floor"`
	GBPerSec   float64 `json:"gb_per_sec"`
	RowsPerSec float64 `json:"rows_per_sec"`
}

// Run measures and prints.
func Run(opts *Options) error {
	ctx, cancel := opts.Context(opts.Ctx)
	defer cancel()
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	d, err := opts.ParseDevice()
	if err != nil {
		return err
	}
	r := Report{Device: d.String(), Embed: []EmbedResult{}}
	if err := embed(ctx, opts, d, &r); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.EmbedError = err.Error()
	}
	r.Retrieve = retrieve(opts)
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := p.Print(r, func() printer.Table { return table(r) }); err != nil {
		return err
	}
	if r.EmbedError != "" {
		return &cmdutil.ProblemsError{Msg: "the embed part did not run: " + r.EmbedError}
	}
	return nil
}

func embed(ctx context.Context, opts *Options, d gpu.Device, r *Report) error {
	rt, _, err := opts.Runtime()
	if err != nil {
		return err
	}
	dir, _, cleanup, err := opts.ModelFolder()
	if err != nil {
		return err
	}
	defer cleanup()
	emb, err := onnx.NewEmbedder(onnx.Options{Runtime: rt, ModelDir: dir, Device: d, BatchSize: 32, Threads: opts.Threads})
	if err != nil {
		return err
	}
	defer emb.Close()
	place := emb.Placement()
	r.Placement, r.Model = &place, emb.ModelVersion()
	texts := Texts(opts.Texts)
	runs := map[int]func() error{
		1: func() error {
			for _, t := range texts {
				if _, err := emb.Embed(ctx, []string{t}); err != nil {
					return err
				}
			}
			return nil
		},
		32: func() error { _, err := emb.Embed(ctx, texts); return err },
	}
	for _, batch := range []int{1, 32} {
		ms, err := median(opts.Repeat, runs[batch])
		if err != nil {
			return err
		}
		r.Embed = append(r.Embed, EmbedResult{Batch: batch, Texts: len(texts), Ms: round(ms), TextsPerSec: math.Round(float64(len(texts)) / ms * 1000)})
	}
	return nil
}

func retrieve(opts *Options) RetrieveResult {
	m, q := randomMatrix(opts.Rows, opts.Dim)
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var sink float32
	search, _ := median(opts.Repeat, func() error {
		h, err := topk.SearchWorkers(m, q, opts.K, workers)
		if len(h) > 0 {
			sink += h[0].Score
		}
		return err
	})
	floor, _ := median(opts.Repeat, func() error { sink += topk.Sum(m, workers); return nil })
	_ = sink
	bytes := float64(len(m.Data)) * 4
	return RetrieveResult{
		Rows: opts.Rows, Dim: opts.Dim, K: opts.K, Workers: workers, Kernel: topk.Kernel(),
		SearchMs: round(search), FloorMs: round(floor), Ratio: round(search / floor),
		GBPerSec: round(bytes / search / 1e6), RowsPerSec: math.Round(float64(opts.Rows) / search * 1000),
	}
}

// median runs f once to warm up, then n times, and returns the median time
// in milliseconds.
func median(n int, f func() error) (float64, error) {
	if err := f(); err != nil {
		return 0, err
	}
	times := make([]float64, n)
	for i := range times {
		start := time.Now()
		if err := f(); err != nil {
			return 0, err
		}
		times[i] = float64(time.Since(start).Nanoseconds()) / 1e6
	}
	sort.Float64s(times)
	return times[n/2], nil
}

func round(x float64) float64 { return math.Round(x*1000) / 1000 }

// randomMatrix is rows×dim unit vectors and a unit query from a fixed
// xorshift stream (fast enough for 40 million values).
func randomMatrix(rows, dim int) (topk.Matrix, []float32) {
	state := uint64(0x9E3779B97F4A7C15)
	next := func() float32 {
		state ^= state << 13
		state ^= state >> 7
		state ^= state << 17
		return float32(int64(state>>40)-(1<<23)) / (1 << 23)
	}
	m := topk.Matrix{Rows: rows, Dim: dim, Data: make([]float32, rows*dim)}
	for i := range m.Data {
		m.Data[i] = next()
	}
	for i := range rows {
		topk.Normalize(m.Row(i))
	}
	q := make([]float32, dim)
	for i := range q {
		q[i] = next()
	}
	return m, topk.Normalize(q)
}

// Texts returns n control-like texts of varied length.
func Texts(n int) []string {
	base := []string{
		"Ensure API Gateway caches are encrypted at rest.",
		"The organization manages information system accounts, including establishing, activating, modifying, reviewing, disabling, and removing accounts.",
		"Audit records are retained for 90 days.",
		"Multi-factor authentication is required for privileged accounts.",
		"S3 buckets block public access at the account level.",
		"Boundary protection: monitor and control communications at the external managed interfaces to the system and at key internal managed interfaces within the system.",
	}
	out := make([]string, n)
	for i := range out {
		out[i] = base[i%len(base)]
		if k := i / len(base); k > 0 {
			out[i] += fmt.Sprintf(" (variant %d)", k)
		}
	}
	return out
}

func table(r Report) printer.Table {
	t := printer.Table{Headers: []string{"RUN", "DEVICE", "SIZE", "TIME", "THROUGHPUT"}}
	dev := r.Device
	if r.Placement != nil {
		dev = r.Placement.Device.String()
	}
	for _, e := range r.Embed {
		t.Rows = append(t.Rows, []string{fmt.Sprintf("embed batch %d", e.Batch), dev, fmt.Sprintf("%d texts", e.Texts),
			fmt.Sprintf("%.1f ms", e.Ms), fmt.Sprintf("%.0f texts/s", e.TextsPerSec)})
	}
	if r.EmbedError != "" {
		first, _, _ := strings.Cut(r.EmbedError, "\n")
		t.Rows = append(t.Rows, []string{"embed", dev, "-", "-", "did not run: " + first})
	}
	rr := r.Retrieve
	t.Rows = append(t.Rows,
		[]string{fmt.Sprintf("retrieve top-%d", rr.K), fmt.Sprintf("cpu (%s, %d goroutines)", rr.Kernel, rr.Workers),
			fmt.Sprintf("%d×%d", rr.Rows, rr.Dim), fmt.Sprintf("%.2f ms", rr.SearchMs),
			fmt.Sprintf("%.0f rows/s, %.1f GB/s", rr.RowsPerSec, rr.GBPerSec)},
		[]string{"memory floor", fmt.Sprintf("cpu (%d goroutines)", rr.Workers), fmt.Sprintf("%d×%d", rr.Rows, rr.Dim),
			fmt.Sprintf("%.2f ms", rr.FloorMs), fmt.Sprintf("retrieve = %.2f× floor", rr.Ratio)})
	return t
}
