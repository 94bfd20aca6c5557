// Package redrive is `nexus dlq redrive`.
package redrive

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/queue"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/dlq/shared"
	"github.com/nexus-compliance/nexus/commands/printer"
	"github.com/nexus-compliance/nexus/runbooks/audit"
)

// RedriveOptions are the inputs of `nexus dlq redrive`.
type RedriveOptions struct {
	shared.Deps
	Ctx context.Context

	DryRun      bool
	Max         int
	Yes         bool
	Native      bool
	Concurrency int
	Rate        int
}

// NewCmdRedrive builds `nexus dlq redrive`. runF replaces redriveRun in tests.
func NewCmdRedrive(f *cmdutil.Factory, runF func(*RedriveOptions) error) *cobra.Command {
	opts := &RedriveOptions{Deps: shared.NewDeps(f)}
	cmd := &cobra.Command{
		Use:   "redrive",
		Short: "Move messages from the DLQ back to the main queue",
		Long: `Move the messages of MappingRequestDLQ back to MappingRequestQueue, once the bug that
sent them there is fixed; the SQS trigger then starts their workflows again.

By default nexus moves them itself: it receives batches of ten, sends each batch to the
main queue with body and message attributes unchanged, and deletes from the DLQ only the
messages SQS confirmed. A message that could not be sent stays in the DLQ. Batches run
--concurrency at a time.

--native starts an SQS message-move task instead and follows it to the end. SQS then
does the moving (and keeps going if nexus is killed); it always moves the whole DLQ, so
--max cannot be used with it, and its speed is set with --rate rather than --concurrency.

--dry-run only reads the queues' attributes and reports how many messages would move; it
receives nothing (receiving would raise each message's receive count). Use ` + "`nexus dlq peek`" + `
to see a sample.

On a terminal nexus asks before moving anything; elsewhere it needs --yes. Ctrl-C stops
receiving, lets batches already being sent finish (and deletes exactly what was sent),
returns the rest to the DLQ, prints what moved and exits 130; with --native it cancels
the move task. Every run is written to the audit log.`,
		Example: `  # How many would move?
  nexus dlq redrive --dry-run

  # Move 50 messages to test the fix, then the rest
  nexus dlq redrive --max 50
  nexus dlq redrive --yes

  # Let SQS move them at 100 messages a second
  nexus dlq redrive --native --rate 100 --env prod`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validate(opts, cmd.Flags().Changed("concurrency")); err != nil {
				return err
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return redriveRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.DryRun, "dry-run", false, "report what would move; make no change")
	fl.IntVar(&opts.Max, "max", 0, "move at most `N` messages (0: all)")
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation (required when not on a terminal)")
	fl.BoolVar(&opts.Native, "native", false, "use an SQS message-move task instead of moving from this process")
	fl.IntVar(&opts.Concurrency, "concurrency", queue.DefaultConcurrency, "batches of ten moved at once (client-side move)")
	fl.IntVar(&opts.Rate, "rate", 0, "messages per second for --native, 1–500 (default: SQS decides)")
	return cmd
}

func validate(o *RedriveOptions, concurrencySet bool) error {
	switch {
	case o.Max < 0:
		return cmdutil.FlagErrorf("--max must be 0 (all) or a positive number, not %d", o.Max)
	case o.Native && o.Max > 0:
		return cmdutil.FlagErrorf("--max cannot be used with --native: an SQS move task always moves the whole DLQ; drop --native to move at most %d", o.Max)
	case o.Native && concurrencySet:
		return cmdutil.FlagErrorf("--concurrency applies to the client-side move; set a move task's speed with --rate")
	case !o.Native && o.Rate != 0:
		return cmdutil.FlagErrorf("--rate applies to --native move tasks only; the client-side move is paced with --concurrency")
	case o.Rate < 0 || o.Rate > queue.MaxNativeRate:
		return cmdutil.FlagErrorf("--rate must be between 1 and %d messages per second, not %d", queue.MaxNativeRate, o.Rate)
	case o.Concurrency < 1 || o.Concurrency > queue.MaxConcurrency:
		return cmdutil.FlagErrorf("--concurrency must be between 1 and %d, not %d", queue.MaxConcurrency, o.Concurrency)
	}
	return nil
}

// Summary is the output of `nexus dlq redrive`.
type Summary struct {
	Environment string `json:"environment"`
	queue.RedriveResult
}

func redriveRun(opts *RedriveOptions) error {
	if !opts.DryRun && !opts.Yes && !opts.IO.CanPrompt() {
		return cmdutil.FlagErrorf("refusing to move messages without --yes: not on a terminal, so nexus cannot ask.\n" +
			"Preview with `nexus dlq redrive --dry-run`, then run again with --yes.")
	}
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	ctx, cancel := opts.Context(opts.Ctx)
	defer cancel()
	q, err := shared.Resolve(ctx, opts.Deps)
	if err != nil {
		return err
	}
	ro := queue.RedriveOptions{
		SourceURL: q.DLQURL, DestinationURL: q.MainURL,
		Max: opts.Max, DryRun: opts.DryRun, Native: opts.Native, MaxPerSecond: int32(opts.Rate),
	}
	if !opts.Native {
		ro.Concurrency = opts.Concurrency
	}
	dlqName, mainName := queue.NameFromURL(q.DLQURL), queue.NameFromURL(q.MainURL)

	if opts.DryRun {
		res, err := queue.Redrive(ctx, q.API, ro)
		if err != nil {
			return err
		}
		s := Summary{Environment: q.Env.Name, RedriveResult: res}
		opts.Audit(record(opts, s, "ok"))
		return p.Print(s, func() printer.Table { return dryRunTable(s) })
	}

	before, err := queue.GetStats(ctx, q.API, q.DLQURL)
	if err != nil {
		return err
	}
	expected := before.Visible + before.Delayed
	if opts.Max > 0 {
		expected = min(expected, opts.Max)
	}
	if before.Total() == 0 {
		fmt.Fprintf(opts.IO.ErrOut, "%s is empty; nothing to redrive.\n", dlqName)
		return nil
	}
	if !opts.Yes {
		what := "about " + plural(expected, "message")
		if opts.Native {
			what = "every message (about " + strconv.Itoa(expected) + ") with an SQS move task"
		}
		ok, err := opts.IO.Confirm(fmt.Sprintf("Move %s from %s to %s in environment %q?", what, dlqName, mainName, q.Env.Name))
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintln(opts.IO.ErrOut, "Nothing moved.")
			return cmdutil.CancelError
		}
	}

	total := int64(expected)
	if total <= 0 {
		total = -1
	}
	bar := opts.IO.StartProgress("redriving "+dlqName, total, "msg")
	shown := int64(0)
	ro.OnProgress = func(pr queue.RedriveProgress) {
		done := int64(pr.Moved + pr.Failed)
		if total > 0 {
			done = min(done, total) // the count was approximate; never overrun the bar
		}
		if done > shown {
			bar.Add(int(done - shown))
			shown = done
		}
	}
	res, runErr := queue.Redrive(ctx, q.API, ro)
	bar.Stop()

	s := Summary{Environment: q.Env.Name, RedriveResult: res}
	interrupted := errors.Is(runErr, context.Canceled)
	result := "ok"
	switch {
	case interrupted:
		result = "interrupted"
	case runErr != nil:
		result = "error"
	case res.Failed > 0 || res.Duplicated > 0:
		result = "partial"
	}
	opts.Audit(record(opts, s, result))
	if err := p.Print(s, func() printer.Table { return summaryTable(s) }); err != nil {
		return err
	}
	if !p.IsStructured() {
		for _, f := range res.Failures {
			fmt.Fprintf(opts.IO.ErrOut, "  %s %s: %s %s\n", f.MessageID, f.Stage, f.Code, f.Reason)
		}
	}
	switch {
	case interrupted:
		fmt.Fprintf(opts.IO.ErrOut, "Interrupted: %s moved; the rest are still in %s.\n", plural(res.Moved, "message"), dlqName)
		return cmdutil.CancelError
	case runErr != nil:
		return runErr
	case res.Duplicated > 0:
		return fmt.Errorf("%s reached %s but could not be deleted from %s, so they are in both queues; "+
			"their jobs may run twice", plural(res.Duplicated, "message"), mainName, dlqName)
	case res.Failed > 0:
		return fmt.Errorf("%s could not be moved and remain in %s (reasons above); run the redrive again, or inspect them with `nexus dlq peek`",
			plural(res.Failed, "message"), dlqName)
	}
	return nil
}

func record(opts *RedriveOptions, s Summary, result string) audit.Record {
	params := map[string]any{"source": s.Source, "destination": s.Destination, "mode": s.Mode}
	if opts.Max > 0 {
		params["max"] = opts.Max
	}
	if opts.Native {
		if opts.Rate > 0 {
			params["rate"] = opts.Rate
		}
	} else {
		params["concurrency"] = opts.Concurrency
	}
	details := map[string]any{}
	if s.DryRun {
		details["would_move"] = s.WouldMove
	} else {
		details["moved"], details["failed"] = s.Moved, s.Failed
		if s.Duplicated > 0 {
			details["duplicated"] = s.Duplicated
		}
		if s.Left != nil {
			details["left"] = *s.Left
		}
		if s.TaskHandle != "" {
			details["task"] = s.TaskHandle
		}
	}
	return audit.Record{Action: "dlq.redrive", Params: params, DryRun: s.DryRun, Result: result, Details: details}
}

func dryRunTable(s Summary) printer.Table {
	t := printer.Table{Detail: true}
	add := func(k, v string) { t.Rows = append(t.Rows, []string{k, v}) }
	add("dry run", "nothing was received, moved or changed")
	would := "about " + plural(s.WouldMove, "message")
	if s.Max > 0 {
		would += fmt.Sprintf(" (--max %d)", s.Max)
	}
	add("would move", would)
	add("from", s.Source)
	add("to", s.Destination)
	add("in flight", fmt.Sprintf("%d (hidden now; moved if they reappear during the run)", s.InFlight))
	add("mode", mode(s.RedriveResult))
	add("sample", "nexus dlq peek")
	return t
}

func summaryTable(s Summary) printer.Table {
	t := printer.Table{Detail: true}
	add := func(k, v string) { t.Rows = append(t.Rows, []string{k, v}) }
	add("moved", fmt.Sprintf("%d from %s to %s", s.Moved, s.Source, s.Destination))
	add("failed", strconv.Itoa(s.Failed))
	if s.Duplicated > 0 {
		add("in both queues", strconv.Itoa(s.Duplicated))
	}
	left := "unknown"
	if s.Left != nil {
		left = fmt.Sprintf("about %d", *s.Left)
	}
	add("left in dlq", left)
	add("mode", mode(s.RedriveResult))
	add("elapsed", fmt.Sprintf("%s (%.0f msg/s)", (time.Duration(s.ElapsedSeconds*float64(time.Second))).Round(time.Millisecond), s.Rate()))
	if s.Interrupted {
		add("interrupted", "yes")
	}
	return t
}

func mode(r queue.RedriveResult) string {
	if r.Mode == queue.ModeNative {
		if r.TaskHandle != "" {
			return "SQS move task " + r.TaskHandle
		}
		return "SQS move task"
	}
	return "client-side, batches of ten"
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}
