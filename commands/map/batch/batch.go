// Package batch is `nexus map batch`: map many source controls to one
// framework, writing one API response a line, resumably.
package batch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/apiclient"
	catshared "github.com/nexus-compliance/nexus/commands/catalog/shared"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/commands/map/shared"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/api"
	"github.com/nexus-compliance/nexus/pipeline/mapper"
)

// MaxConcurrency bounds --concurrency.
const MaxConcurrency = 64

// Options are the inputs of `nexus map batch`.
type Options struct {
	IO      *iostreams.IOStreams
	Open    catshared.Opener
	Hooks   shared.Hooks
	Context context.Context
	Debug   bool

	Input       string // a file, or - for stdin
	Out         string // a file; empty for stdout
	Resume      bool
	Concurrency int
	shared.Flags
	// API reaches the Nexus API for --mode remote (and auto with a URL);
	// Backoff is the back-off its workers share (nil: a new one).
	API          *apiclient.Source
	PollInterval time.Duration
	Backoff      *apiclient.Backoff
}

// NewCmd builds `nexus map batch`. runF replaces Run in tests.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Hooks: shared.NewHooks(f), API: apiclient.NewSource(f)}
	opts.Open = catshared.NewOpener(f, &opts.Store)
	cmd := &cobra.Command{
		Use:   "batch FILE|- --framework FW_KEY",
		Short: "Map many controls to a framework, one result a line, resumably",
		Long: `Map every control listed in FILE (or on stdin with -) to the target framework, running
--concurrency mappings at a time, and write one result a line as JSON (JSONL) to --out or
stdout: the status API's COMPLETED response, or a FAILED response that also names the
controlKey and targetFrameworkKey. Lines come in the order mappings finish; the output is
JSON lines whatever -o says.

FILE holds one control key a line, or JSON objects with control_key and, optionally,
target_control_ids and target_framework_key. Blank lines and lines starting with '#' are
skipped.

Each line is written whole with one write and nothing is buffered, so an interrupted run
leaves only complete lines. --resume reads --out first and skips every control already in
it (completed or failed), then appends; a last line cut short is dropped. Without --resume
a non-empty --out is refused rather than overwritten. Ctrl-C stops starting new mappings,
discards those in flight (their jobs are recorded FAILED) and exits 130: run the same
command with --resume to go on.

With --mode remote (or auto when an API URL is known) each control is submitted to the
Nexus API and polled every --poll-interval, --concurrency jobs in flight at a time, and its
line is written when it ends, in the same format. When the API answers 429 every worker
pauses on one shared back-off (growing while 429s go on) rather than retrying on its own.
Ctrl-C leaves the jobs in flight running on the server, unrecorded: --resume submits them
again.

A summary goes to stderr at the end (completed, failed, skipped, rate). The exit status is
0 when every mapping completed and 3 when any failed.`,
		Example: `  # Map a list of AWS checks to NIST SP 800-53 rev. 5, eight at a time
  nexus map batch controls.txt --framework NIST-SP-800-53#R5 --concurrency 8 --out results.jsonl

  # After Ctrl-C or a crash, go on where it stopped
  nexus map batch controls.txt --framework NIST-SP-800-53#R5 --out results.jsonl --resume

  # From a pipe, with per-control targets, failures only
  printf '%s\n' '{"control_key":"AWS.ControlCatalog#1.0#RDS_STORAGE_ENCRYPTED","target_control_ids":["SC-28","SC-13"]}' |
    nexus map batch - -F NIST-SP-800-53#R5 | jq 'select(.status == "FAILED")'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 || args[0] == "" {
				return cmdutil.FlagErrorf("expected one FILE of control keys (or - for stdin), e.g. nexus map batch controls.txt --framework %s", pipeline.ExampleFrameworkKey)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Input = args[0]
			opts.ThresholdSet = cmd.Flags().Changed("threshold")
			opts.Debug = f.Flags.Debug
			ctx, cancel := f.Context(cmd.Context())
			defer cancel()
			opts.Context = ctx
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	shared.AddFlags(cmd, &opts.Flags, opts.Open, false)
	fl := cmd.Flags()
	fl.IntVarP(&opts.Concurrency, "concurrency", "c", 4, "mappings run at once (1–64)")
	fl.StringVar(&opts.Out, "out", "", "write results to this file instead of stdout")
	fl.BoolVar(&opts.Resume, "resume", false, "skip the controls already in --out and append the rest")
	fl.DurationVar(&opts.PollInterval, "poll-interval", apiclient.DefaultPollInterval, "remote: how often each job's status is asked for")
	apiclient.AddFlag(cmd, opts.API)
	return cmd
}

// Item is one control to map.
type Item struct {
	Line       int
	ControlKey string
	Framework  string
	Targets    []string
}

func (it Item) id() string { return it.ControlKey + "\x00" + it.Framework }

// ReadInput reads the controls to map: one key a line, or JSON objects.
func ReadInput(r io.Reader, framework string) ([]Item, error) {
	var items []Item
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		it := Item{Line: n, ControlKey: line, Framework: framework}
		if strings.HasPrefix(line, "{") {
			var obj struct {
				ControlKey         string   `json:"control_key"`
				TargetFrameworkKey string   `json:"target_framework_key"`
				TargetControlIDs   []string `json:"target_control_ids"`
			}
			if err := json.Unmarshal([]byte(line), &obj); err != nil {
				return nil, cmdutil.FlagErrorf("input line %d: not a JSON object with control_key: %v", n, err)
			}
			if obj.ControlKey == "" {
				return nil, cmdutil.FlagErrorf("input line %d: no control_key", n)
			}
			it.ControlKey, it.Targets = obj.ControlKey, obj.TargetControlIDs
			if obj.TargetFrameworkKey != "" {
				it.Framework = obj.TargetFrameworkKey
			}
		}
		items = append(items, it)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the input: %w", err)
	}
	return items, nil
}

// Summary is what a run did.
type Summary struct {
	Total       int
	Completed   int
	Failed      int
	Skipped     int
	Interrupted int
	Elapsed     time.Duration
}

// Run maps the controls.
func Run(opts *Options) error {
	if err := opts.Flags.Validate(); err != nil {
		return err
	}
	if opts.Concurrency < 1 || opts.Concurrency > MaxConcurrency {
		return cmdutil.FlagErrorf("--concurrency must be between 1 and %d, not %d", MaxConcurrency, opts.Concurrency)
	}
	if opts.Resume && opts.Out == "" {
		return cmdutil.FlagErrorf("--resume needs --out: it skips the controls already written to that file")
	}
	items, err := readInputFile(opts)
	if err != nil {
		return err
	}
	done := map[string]bool{}
	if opts.Out != "" {
		if done, err = prepareOut(opts.Out, opts.Resume); err != nil {
			return err
		}
	}
	var todo []Item
	sum := Summary{Total: len(items)}
	for _, it := range items {
		if done[it.id()] {
			sum.Skipped++
			continue
		}
		todo = append(todo, it)
	}

	ctx := opts.Context
	remote, err := shared.Remote(opts.Mode, opts.API)
	if err != nil {
		return err
	}
	var (
		client  api.MappingAPI
		mappers *mappersT
		timings = &shared.Timings{}
	)
	if remote {
		if client, err = opts.API.Mapping(ctx); err != nil {
			return err
		}
	} else {
		store, err := opts.Open(ctx)
		if err != nil {
			return err
		}
		defer store.Close()
		catshared.NoteSeeded(opts.IO, store)
		mappers = &mappersT{opts: opts, store: store, byFW: map[string]*mapperOnce{}, observer: timings.Observe}
		if _, err := mappers.get(ctx, opts.Framework); err != nil {
			return err
		}
	}

	var out io.Writer = opts.IO.Out
	var file *os.File
	if opts.Out != "" {
		if file, err = os.OpenFile(opts.Out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err != nil {
			return fmt.Errorf("opening --out: %w", err)
		}
		defer file.Close()
		out = file
	}
	w := &lineWriter{w: out}

	bar := opts.IO.StartProgress("Mapping", int64(len(todo)), "ctl")
	start := time.Now()
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		work    = make(chan Item)
		writeMu sync.Mutex
		werr    error
	)
	record := func(line any, ok bool) {
		b, _ := json.Marshal(line)
		writeMu.Lock()
		if err := w.writeLine(b); err != nil && werr == nil {
			werr = err
		}
		writeMu.Unlock()
		mu.Lock()
		if ok {
			sum.Completed++
		} else {
			sum.Failed++
		}
		mu.Unlock()
		bar.Add(1)
	}
	if remote {
		close(work)
		runRemote(ctx, opts, client, todo, record)
	}
	for range opts.Concurrency * btoi(!remote) {
		wg.Go(func() {
			for it := range work {
				if ctx.Err() != nil {
					continue
				}
				fl := opts.Flags
				fl.Framework = it.Framework
				failed := shared.Failed{Status: string(pipeline.JobFailed), ControlKey: it.ControlKey, TargetFrameworkKey: it.Framework}
				if err := pipeline.ValidateControlKey(it.ControlKey); err != nil {
					failed.Error = fmt.Sprintf("input line %d: %v", it.Line, err)
					record(failed, false)
					continue
				}
				m, err := mappers.get(ctx, it.Framework)
				if err != nil {
					if ctx.Err() == nil {
						failed.Error = err.Error()
						record(failed, false)
					}
					continue
				}
				job, err := m.Run(ctx, fl.Request(it.ControlKey, it.Targets))
				switch {
				case ctx.Err() != nil && (err != nil || job.Status != pipeline.JobCompleted):
					// Interrupted: no line, so --resume maps it again.
				case job.Status == pipeline.JobCompleted:
					record(shared.CompletedResponse(job), true)
				default:
					failed.MappingID = job.JobID
					failed.Error = job.ErrorMessage
					if failed.Error == "" && err != nil {
						failed.Error = err.Error()
					}
					record(failed, false)
				}
			}
		})
	}
	if !remote {
	feed:
		for _, it := range todo {
			select {
			case work <- it:
			case <-ctx.Done():
				break feed
			}
		}
		close(work)
	}
	wg.Wait()
	bar.Stop()
	sum.Elapsed = time.Since(start)
	sum.Interrupted = len(todo) - sum.Completed - sum.Failed
	if file != nil {
		if err := file.Sync(); err != nil && werr == nil {
			werr = err
		}
	}
	if opts.Debug {
		timings.WriteSummary(opts.IO.ErrOut)
	}
	writeSummary(opts, sum)
	switch {
	case werr != nil:
		return fmt.Errorf("writing results: %w", werr)
	case ctx.Err() != nil && sum.Interrupted > 0:
		return ctx.Err()
	case sum.Failed > 0:
		return &cmdutil.ProblemsError{Msg: fmt.Sprintf("%d of %d mappings failed; see the FAILED lines", sum.Failed, sum.Total-sum.Skipped)}
	}
	return nil
}

func readInputFile(opts *Options) ([]Item, error) {
	var r io.Reader = opts.IO.In
	if opts.Input != "-" {
		f, err := os.Open(opts.Input)
		if err != nil {
			return nil, cmdutil.FlagErrorf("reading FILE: %v", err)
		}
		defer f.Close()
		r = f
	}
	return ReadInput(r, opts.Framework)
}

// prepareOut reads the controls already in --out (for --resume), dropping
// a last line cut short by an interruption, or refuses a non-empty file
// without --resume.
func prepareOut(path string, resume bool) (map[string]bool, error) {
	done := map[string]bool{}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return done, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading --out: %w", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return done, nil
	}
	if !resume {
		return nil, cmdutil.FlagErrorf("--out %s already holds results: add --resume to skip them and go on, or choose another file", path)
	}
	if i := bytes.LastIndexByte(b, '\n'); i != len(b)-1 {
		if err := os.Truncate(path, int64(i+1)); err != nil {
			return nil, fmt.Errorf("dropping the incomplete last line of %s: %w", path, err)
		}
		b = b[:i+1]
	}
	for n, line := range bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r struct {
			Status             string `json:"status"`
			ControlKey         string `json:"controlKey"`
			TargetFrameworkKey string `json:"targetFrameworkKey"`
		}
		if err := json.Unmarshal(line, &r); err != nil || r.ControlKey == "" || r.Status == "" {
			return nil, cmdutil.FlagErrorf("--out %s line %d is not a result of nexus map batch; refusing to append to it", path, n+1)
		}
		done[Item{ControlKey: r.ControlKey, Framework: r.TargetFrameworkKey}.id()] = true
	}
	return done, nil
}

// mappers builds one mapper per target framework, on first use: the
// scorers index a framework once for the whole batch.
type mappersT struct {
	opts     *Options
	store    pipeline.Store
	observer func(mapper.Event)
	mu       sync.Mutex
	byFW     map[string]*mapperOnce
	warnOnce sync.Once
}

type mapperOnce struct {
	once sync.Once
	m    *mapper.Mapper
	err  error
}

func (ms *mappersT) get(ctx context.Context, framework string) (*mapper.Mapper, error) {
	ms.mu.Lock()
	e := ms.byFW[framework]
	if e == nil {
		e = &mapperOnce{}
		ms.byFW[framework] = e
	}
	ms.mu.Unlock()
	e.once.Do(func() {
		if err := pipeline.ValidateFrameworkKey(framework); err != nil {
			e.err = err
			return
		}
		warn := func(s string) { ms.warnOnce.Do(func() { fmt.Fprintln(ms.opts.IO.ErrOut, s) }) }
		e.m, e.err = shared.NewMapper(ctx, ms.opts.Hooks, ms.store, &ms.opts.Flags, framework, warn, ms.observer)
		if e.m != nil {
			e.m.Observer = ms.observer
		}
	})
	return e.m, e.err
}

// lineWriter writes each line with a single Write call, unbuffered.
type lineWriter struct{ w io.Writer }

func (l *lineWriter) writeLine(b []byte) error {
	line := make([]byte, 0, len(b)+1)
	line = append(append(line, b...), '\n')
	_, err := l.w.Write(line)
	return err
}

func writeSummary(opts *Options, s Summary) {
	processed := s.Completed + s.Failed
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(processed) / s.Elapsed.Seconds()
	}
	where := "stdout"
	if opts.Out != "" {
		where = opts.Out
	}
	msg := fmt.Sprintf("Mapped %d of %d controls to %s: %d completed, %d failed, %d skipped (already in %s) in %s (%.1f/s)",
		processed, s.Total, opts.Framework, s.Completed, s.Failed, s.Skipped, where, shared.FormatDuration(s.Elapsed), rate)
	fmt.Fprintln(opts.IO.ErrOut, msg)
	if s.Interrupted > 0 {
		hint := "run the same command with --out FILE --resume to map them"
		if opts.Out != "" {
			hint = "run the same command with --resume to go on"
		}
		fmt.Fprintf(opts.IO.ErrOut, "Interrupted: %d controls not mapped; %s.\n", s.Interrupted, hint)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
