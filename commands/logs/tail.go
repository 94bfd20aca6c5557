package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	awslogs "github.com/nexus-compliance/nexus/aws/logs"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
)

// TailOptions are the inputs of `nexus logs tail`.
type TailOptions struct {
	Deps
	Ctx context.Context

	Targets []string
	Follow  bool
	Since   string
	Filter  string
	Grep    string
	JobID   string
	Format  string
	NoLive  bool

	// pacing of the polling fallback; tests shorten them
	pollInterval time.Duration
	limiter      *awslogs.Limiter
	backoff      awslogs.Backoff
}

// NewCmdTail builds `nexus logs tail`.
func NewCmdTail(f *cmdutil.Factory, runF func(*TailOptions) error) *cobra.Command {
	opts := &TailOptions{Deps: NewDeps(f)}
	cmd := &cobra.Command{
		Use:   "tail [COMPONENT|GROUP]...",
		Short: "Print the logs of several components, merged by time",
		Long: `Print the log events of the named components (keys or names from ` + "`nexus logs components`" + `)
or log groups, by default every component, interleaved by timestamp and tagged with the
component that wrote them.

--filter takes a CloudWatch filter pattern (applied by CloudWatch); --grep a regular
expression applied here to each message; --job ID keeps the events that mention one
job id, across all components. On a terminal JSON log lines are pretty-printed; off one
they are written untouched.

--follow keeps printing new events. It uses a CloudWatch Logs live tail session (at most
10 groups) and, when live tail is unavailable or fails, polls FilterLogEvents instead:
each group from its newest event seen, paced under the account's 5 requests/s quota,
backing off when throttled, printing each event once. Ctrl-C ends it (exit 0).`,
		Example: `  nexus logs tail --since 1h
  nexus logs tail --job 3f2a9c1e-… --since 6h --format detailed
  nexus logs tail ecs_service -f --grep 'CUDA|out of memory'
  nexus logs tail /aws/lambda/Other --format json | jq .message`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Targets = args
			switch opts.Format {
			case "short", "detailed", "json":
			default:
				return cmdutil.FlagErrorf("--format must be short, detailed or json, not %q", opts.Format)
			}
			if opts.Grep != "" {
				if _, err := regexp.Compile(opts.Grep); err != nil {
					return cmdutil.FlagErrorf("--grep: %v", err)
				}
			}
			if strings.Contains(opts.JobID, `"`) {
				return cmdutil.FlagErrorf("--job: a job id has no quotes")
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return tailRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&opts.Follow, "follow", "f", false, "keep printing new events until Ctrl-C")
	fl.StringVar(&opts.Since, "since", "10m", "start `TIME`: a duration back (10m, 2h, 3d) or an ISO time")
	fl.StringVar(&opts.Filter, "filter", "", "CloudWatch filter `PATTERN`")
	fl.StringVar(&opts.Grep, "grep", "", "keep messages matching `REGEX`")
	fl.StringVar(&opts.JobID, "job", "", "keep events mentioning job `ID`, across all components")
	fl.StringVar(&opts.Format, "format", "short", "line format: short, detailed or json")
	fl.BoolVar(&opts.NoLive, "no-live-tail", false, "with --follow, poll FilterLogEvents instead of starting a live tail session")
	return cmd
}

func tailPattern(filter, job string) string {
	var parts []string
	if job != "" {
		parts = append(parts, `"`+job+`"`)
	}
	if filter != "" {
		parts = append(parts, filter)
	}
	return strings.Join(parts, " ")
}

func tailRun(opts *TailOptions) error {
	env, err := opts.Environment()
	if err != nil {
		return err
	}
	groups, tags, err := resolveGroups(env, opts.Targets)
	if err != nil {
		return err
	}
	start, err := parseSince(opts.Since, opts.Now())
	if err != nil {
		return err
	}
	var grep *regexp.Regexp
	if opts.Grep != "" {
		grep = regexp.MustCompile(opts.Grep)
	}
	ctx, cancel := opts.Context(opts.Ctx)
	defer cancel()
	api, err := opts.Logs(ctx)
	if err != nil {
		return err
	}
	if len(opts.Targets) == 0 {
		// Every component by default: one whose group does not exist (state
		// machine logging off, a Lambda never invoked) is skipped with a
		// note instead of failing the whole tail.
		if groups, err = existingGroups(ctx, api, groups, opts.IO.ErrOut); err != nil {
			return err
		}
	}
	w := &lineWriter{out: opts.IO.Out, format: opts.Format, tty: opts.IO.IsStdoutTTY(), color: opts.IO.ColorEnabled(), tags: tags}
	for _, g := range groups {
		w.width = max(w.width, len(w.tag(g)))
	}
	print := func(ev awslogs.Event) error {
		if grep != nil && !grep.MatchString(ev.Message) {
			return nil
		}
		return w.write(ev)
	}
	pattern := tailPattern(opts.Filter, opts.JobID)

	if !opts.Follow {
		limiter := opts.limiter
		if limiter == nil {
			limiter = awslogs.NewLimiter(awslogs.FilterLogEventsTPS-1, 1)
		}
		err := awslogs.Filter(ctx, api, awslogs.FilterOptions{
			Groups: groups, Start: start, Pattern: pattern, Limiter: limiter, Backoff: opts.backoff,
		}, print)
		return describeGroupErr(err)
	}
	var writeErr error
	err = awslogs.Follow(ctx, api, awslogs.FollowOptions{
		Groups: groups, Start: start, Pattern: pattern, NoLiveTail: opts.NoLive,
		Interval: opts.pollInterval, Limiter: opts.limiter, Backoff: opts.backoff,
		OnFallback: func(reason error) {
			fmt.Fprintf(opts.IO.ErrOut, "live tail unavailable (%v); polling every group instead\n", reason)
		},
	}, func(ev awslogs.Event) {
		if writeErr == nil {
			if writeErr = print(ev); writeErr != nil {
				cancel()
			}
		}
	})
	if writeErr != nil {
		return writeErr
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil // Ctrl-C or --timeout ends a follow cleanly
	}
	return describeGroupErr(err)
}

// existingGroups keeps the groups that exist, noting each one skipped.
func existingGroups(ctx context.Context, api awslogs.API, groups []string, errOut io.Writer) ([]string, error) {
	var kept []string
	for _, g := range groups {
		_, err := awslogs.GroupARNs(ctx, api, []string{g})
		var nf *awslogs.GroupNotFoundError
		switch {
		case errors.As(err, &nf):
			fmt.Fprintf(errOut, "note: skipping %s: the log group does not exist\n", g)
		case err != nil:
			return nil, err
		default:
			kept = append(kept, g)
		}
	}
	if len(kept) == 0 {
		return nil, &cmdutil.NotFoundError{What: "log group", Name: strings.Join(groups, ", "),
			Hint: "None of the components' log groups exists; check log_groups in `nexus config` (see `nexus logs components`)."}
	}
	return kept, nil
}

func describeGroupErr(err error) error {
	var nf *awslogs.GroupNotFoundError
	if errors.As(err, &nf) {
		return &cmdutil.NotFoundError{What: "log group", Name: nf.Group, Hint: "Check log_groups in `nexus config` (see `nexus logs components`)."}
	}
	return err
}

// lineWriter formats events for the terminal or a pipe.
type lineWriter struct {
	out    io.Writer
	format string
	tty    bool
	color  bool
	tags   map[string]string
	width  int
}

func (w *lineWriter) tag(group string) string {
	if t := w.tags[group]; t != "" {
		return t
	}
	return group
}

// tailLine is one event in --format json.
type tailLine struct {
	Timestamp string `json:"timestamp"`
	Component string `json:"component"`
	Group     string `json:"group"`
	Stream    string `json:"stream,omitempty"`
	ID        string `json:"id,omitempty"`
	Message   string `json:"message"`
}

var tagColors = []string{"36", "33", "32", "35", "34", "91", "92", "93", "94", "95", "96", "31"}

func (w *lineWriter) write(ev awslogs.Event) error {
	tag := w.tag(ev.Group)
	if w.format == "json" {
		b, err := json.Marshal(tailLine{Timestamp: ev.Timestamp.UTC().Format(time.RFC3339Nano), Component: tag, Group: ev.Group,
			Stream: ev.Stream, ID: ev.ID, Message: strings.TrimRight(ev.Message, "\n")})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w.out, "%s\n", b)
		return err
	}
	msg := strings.TrimRight(ev.Message, "\n")
	if w.tty {
		msg = prettyJSON(msg)
	}
	shown := fmt.Sprintf("%-*s", w.width, tag)
	if w.color {
		h := 0
		for _, r := range tag {
			h = h*31 + int(r)
		}
		shown = "\x1b[" + tagColors[(h%len(tagColors)+len(tagColors))%len(tagColors)] + "m" + shown + "\x1b[0m"
	}
	var err error
	if w.format == "detailed" {
		_, err = fmt.Fprintf(w.out, "%s %s %s %s\n", ev.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z"), shown, ev.Stream, msg)
	} else {
		_, err = fmt.Fprintf(w.out, "%s %s %s\n", ev.Timestamp.UTC().Format("15:04:05.000"), shown, msg)
	}
	return err
}

// prettyJSON indents a message that is a JSON object or array; others are
// returned as they are.
func prettyJSON(msg string) string {
	t := strings.TrimSpace(msg)
	if len(t) < 2 || (t[0] != '{' && t[0] != '[') || !json.Valid([]byte(t)) {
		return msg
	}
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(t), "", "  "); err != nil {
		return msg
	}
	return b.String()
}
