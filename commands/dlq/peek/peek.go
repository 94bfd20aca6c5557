// Package peek is `nexus dlq peek`.
package peek

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/queue"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/dlq/shared"
	"github.com/nexus-compliance/nexus/commands/printer"
)

// MaxLimit bounds -n: peeked messages stay hidden until all are read.
const MaxLimit = 1000

// PeekOptions are the inputs of `nexus dlq peek`.
type PeekOptions struct {
	shared.Deps
	Ctx   context.Context
	Limit int
}

// NewCmdPeek builds `nexus dlq peek`. runF replaces peekRun in tests.
func NewCmdPeek(f *cmdutil.Factory, runF func(*PeekOptions) error) *cobra.Command {
	opts := &PeekOptions{Deps: shared.NewDeps(f)}
	cmd := &cobra.Command{
		Use:   "peek",
		Short: "Show messages in the DLQ without removing them",
		Long: `Show up to -n messages of MappingRequestDLQ: the job each one carries (job id, control
key, target framework), how many times it was received and when first. Bodies that are
not Nexus job messages are shown raw.

Nothing is consumed: the messages are received, held hidden only until all of them are
read, and then made visible again at once. Receiving still counts as a receive in SQS
(the count shown includes this peek); the DLQ has no redrive policy, so that is harmless.`,
		Example: `  nexus dlq peek
  nexus dlq peek -n 50 -o json | jq -r '.[].job.job_id'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Limit < 1 || opts.Limit > MaxLimit {
				return cmdutil.FlagErrorf("-n must be between 1 and %d, not %d", MaxLimit, opts.Limit)
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return peekRun(opts)
		},
	}
	cmd.Flags().IntVarP(&opts.Limit, "limit", "n", 10, "how many messages to show")
	return cmd
}

func peekRun(opts *PeekOptions) error {
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
	msgs, err := queue.Peek(ctx, q.API, q.DLQURL, opts.Limit)
	if err != nil {
		return err
	}
	if msgs == nil {
		msgs = []queue.Message{}
	}
	if len(msgs) == 0 && !p.IsStructured() {
		fmt.Fprintf(opts.IO.ErrOut, "No messages visible in %s.\n", queue.NameFromURL(q.DLQURL))
		return nil
	}
	tty, now := opts.IO.IsStdoutTTY(), opts.Now()
	return p.Print(msgs, func() printer.Table { return table(msgs, tty, now) })
}

func table(msgs []queue.Message, tty bool, now time.Time) printer.Table {
	raw := false
	for _, m := range msgs {
		raw = raw || m.Job == nil
	}
	t := printer.Table{Headers: []string{"MESSAGE ID", "JOB ID", "CONTROL KEY", "FRAMEWORK", "RECEIVES", "FIRST RECEIVED"}}
	if raw {
		t.Headers = append(t.Headers, "BODY")
	}
	for _, m := range msgs {
		row := []string{m.ID, "-", "-", "-", strconv.Itoa(m.ReceiveCount), when(m.FirstReceived, tty, now)}
		if m.Job != nil {
			row[1], row[2], row[3] = m.Job.JobID, m.Job.ControlKey, m.Job.TargetFrameworkKey
		}
		if raw {
			body := ""
			if m.Job == nil {
				body = m.Body
				if tty {
					body = truncate(body, 60)
				}
			}
			row = append(row, body)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

func when(t time.Time, tty bool, now time.Time) string {
	switch {
	case t.IsZero():
		return "-"
	case tty:
		return now.Sub(t).Round(time.Second).String() + " ago"
	}
	return t.UTC().Format(time.RFC3339)
}

func truncate(s string, n int) string {
	r := []rune(strings.Join(strings.Fields(s), " "))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n-1]) + "…"
}
