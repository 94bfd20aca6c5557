// Package status is `nexus dlq status`.
package status

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/queue"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/dlq/shared"
	"github.com/nexus-compliance/nexus/commands/printer"
)

// StatusOptions are the inputs of `nexus dlq status`.
type StatusOptions struct {
	shared.Deps
	Ctx context.Context
}

// NewCmdStatus builds `nexus dlq status`. runF replaces statusRun in tests.
func NewCmdStatus(f *cmdutil.Factory, runF func(*StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{Deps: shared.NewDeps(f)}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the depth of the queue and the DLQ, the redrive policy and any move task",
		Long: `Show MappingRequestQueue and MappingRequestDLQ side by side: approximate visible,
in-flight and delayed message counts, the age of the oldest message when SQS reports it,
the main queue's redrive policy (after how many receives a message goes to the DLQ), and
any SQS message-move task redriving the DLQ.

SQS counts are approximate and lag by up to a minute. Reads only.`,
		Example: `  nexus dlq status
  nexus dlq status --env prod -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return statusRun(opts)
		},
	}
	return cmd
}

// Report is the output of `nexus dlq status`.
type Report struct {
	Environment string      `json:"environment"`
	Queue       queue.Stats `json:"queue"`
	DLQ         queue.Stats `json:"dlq"`
	// RedrivesToDLQ says whether the queue's redrive policy targets this DLQ.
	RedrivesToDLQ bool `json:"redrives_to_dlq"`
	// MoveTasks are the DLQ's recent move tasks, newest first (null when
	// the endpoint does not support them).
	MoveTasks []queue.MoveTask `json:"move_tasks"`
}

func statusRun(opts *StatusOptions) error {
	ctx, cancel := opts.Context(opts.Ctx)
	defer cancel()
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	q, err := shared.Resolve(ctx, opts.Deps)
	if err != nil {
		return err
	}
	r := Report{Environment: q.Env.Name}
	if r.Queue, err = queue.GetStats(ctx, q.API, q.MainURL); err != nil {
		return err
	}
	if r.DLQ, err = queue.GetStats(ctx, q.API, q.DLQURL); err != nil {
		return err
	}
	r.RedrivesToDLQ = r.Queue.RedrivePolicy != nil && r.Queue.RedrivePolicy.DeadLetterTargetARN == r.DLQ.ARN
	tasks, err := queue.ListMoveTasks(ctx, q.API, r.DLQ.ARN)
	switch {
	case errors.Is(err, queue.ErrMoveTasksUnsupported):
	case err != nil:
		return err
	default:
		r.MoveTasks = tasks
	}
	now := opts.Now()
	if err := p.Print(r, func() printer.Table { return table(r, now) }); err != nil {
		return err
	}
	if !p.IsStructured() && opts.IO.IsStdoutTTY() && r.DLQ.Total() > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "\n%s holds about %d messages: see them with `nexus dlq peek`, move them back with `nexus dlq redrive --dry-run` first.\n",
			r.DLQ.Name, r.DLQ.Total())
	}
	return nil
}

func table(r Report, now time.Time) printer.Table {
	t := printer.Table{Detail: true}
	add := func(k, v string) { t.Rows = append(t.Rows, []string{k, v}) }
	add("environment", r.Environment)
	add("queue", r.Queue.Name)
	add("queue messages", counts(r.Queue))
	add("queue oldest message", age(r.Queue))
	add("redrive policy", policy(r))
	add("dlq", r.DLQ.Name)
	add("dlq messages", counts(r.DLQ))
	add("dlq oldest message", age(r.DLQ))
	add("dlq retention", seconds(r.DLQ.RetentionSeconds))
	add("move task", moveTask(r.MoveTasks, now))
	return t
}

func counts(s queue.Stats) string {
	return fmt.Sprintf("%d visible, %d in flight, %d delayed", s.Visible, s.InFlight, s.Delayed)
}

func age(s queue.Stats) string {
	if s.OldestAgeSeconds == nil {
		return "unknown (SQS reports it only as a CloudWatch metric)"
	}
	return seconds(*s.OldestAgeSeconds)
}

// seconds writes a duration the way an operator reads it: "14 days", "2h5m0s".
func seconds(n int) string {
	if n >= 86400 && n%86400 == 0 {
		return fmt.Sprintf("%d days", n/86400)
	}
	return (time.Duration(n) * time.Second).String()
}

func policy(r Report) string {
	p := r.Queue.RedrivePolicy
	switch {
	case p == nil:
		return "none: failing messages are retried until retention expires, never moved to the DLQ"
	case !r.RedrivesToDLQ:
		return fmt.Sprintf("to %s after %d receives — NOT the configured DLQ %s", queue.NameFromARN(p.DeadLetterTargetARN), p.MaxReceiveCount, r.DLQ.Name)
	}
	return fmt.Sprintf("to %s after %d receives", queue.NameFromARN(p.DeadLetterTargetARN), p.MaxReceiveCount)
}

func moveTask(tasks []queue.MoveTask, now time.Time) string {
	if tasks == nil {
		return "unknown (this endpoint does not support message move tasks)"
	}
	if len(tasks) == 0 {
		return "none"
	}
	t := tasks[0]
	for _, c := range tasks {
		if c.Running() {
			t = c
			break
		}
	}
	progress := fmt.Sprintf("%d moved", t.Moved)
	if t.ToMove != nil {
		progress = fmt.Sprintf("%d of %d moved", t.Moved, *t.ToMove)
	}
	dest := "their source queues"
	if t.DestinationARN != "" {
		dest = queue.NameFromARN(t.DestinationARN)
	}
	started := ""
	if !t.Started.IsZero() {
		started = fmt.Sprintf(", started %s ago", now.Sub(t.Started).Round(time.Second))
	}
	s := fmt.Sprintf("%s to %s%s: %s", t.Status, dest, started, progress)
	if t.FailureReason != "" {
		s += " (" + t.FailureReason + ")"
	}
	if !t.Running() {
		s = "none running; last: " + s
	}
	return s
}
