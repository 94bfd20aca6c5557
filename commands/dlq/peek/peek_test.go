package peek

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/awstest"
	"github.com/nexus-compliance/nexus/aws/queue"
	"github.com/nexus-compliance/nexus/aws/queue/queuetest"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
)

func execute(cmd *cobra.Command, args ...string) error {
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cmdutil.FlagError{Err: err} })
	return cmd.ExecuteContext(context.Background())
}

func TestNewCmdPeek(t *testing.T) {
	for _, tc := range []struct {
		args    string
		limit   int
		wantErr string
	}{
		{"", 10, ""},
		{"-n 3", 3, ""},
		{"--limit 1000", 1000, ""},
		{"-n 0", 0, "-n must be between 1 and 1000"},
		{"-n 1001", 0, "-n must be between 1 and 1000"},
		{"-n x", 0, "invalid argument"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			f, _ := cmdtest.Factory(t, nil)
			var got *PeekOptions
			err := execute(NewCmdPeek(f, func(o *PeekOptions) error { got = o; return nil }), strings.Fields(tc.args)...)
			if tc.wantErr != "" {
				if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want a usage error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got.Limit != tc.limit {
				t.Fatalf("limit = %+v, %v; want %d", got, err, tc.limit)
			}
		})
	}
}

type fixture struct {
	f       *cmdutil.Factory
	streams *cmdtest.Streams
	api     *sqs.Client
	dlq     string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	api := awstest.SQS(t)
	mainURL, dlqURL := queuetest.Queues(t, api)
	queuetest.Seed(t, api, dlqURL, 3)
	if _, err := api.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(dlqURL), MessageBody: aws.String("Traceback (most recent call last):\n  boom")}); err != nil {
		t.Fatal(err)
	}
	f, streams := cmdtest.Factory(t, map[string]string{"DLQ_URL": dlqURL, "MAIN_QUEUE_URL": mainURL})
	return &fixture{f: f, streams: streams, api: api, dlq: dlqURL}
}

func (x *fixture) run(t *testing.T, args ...string) {
	t.Helper()
	var opts *PeekOptions
	if err := execute(NewCmdPeek(x.f, func(o *PeekOptions) error { opts = o; return nil }), args...); err != nil {
		t.Fatal(err)
	}
	if err := peekRun(opts); err != nil {
		t.Fatal(err)
	}
}

// stillVisible checks that peeking consumed nothing: every message can be
// received again right away.
func (x *fixture) stillVisible(t *testing.T) {
	t.Helper()
	if got := queuetest.Drain(t, x.api, x.dlq); len(got) != 4 {
		t.Errorf("after peek, %d of 4 messages are visible", len(got))
	}
}

func TestPeekRunOffTTY(t *testing.T) {
	t.Parallel()
	x := setup(t)
	x.run(t, "-n", "10")
	lines := strings.Split(strings.TrimRight(x.streams.Out.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4 (no header off a terminal):\n%s", len(lines), x.streams.Out)
	}
	jobs, raw := 0, 0
	for _, l := range lines {
		cols := strings.Split(l, "\t")
		if len(cols) != 7 {
			t.Fatalf("%d columns in %q", len(cols), l)
		}
		if strings.HasPrefix(cols[1], "job-") {
			jobs++
			if cols[2] != "AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED" || cols[3] != "NIST-SP-800-53#R5" || cols[4] != "1" || !strings.HasSuffix(cols[5], "Z") {
				t.Errorf("job row %q", l)
			}
		} else {
			raw++
			if cols[1] != "-" || cols[6] != "Traceback (most recent call last):   boom" {
				t.Errorf("raw row %q", l)
			}
		}
	}
	if jobs != 3 || raw != 1 {
		t.Errorf("%d job rows and %d raw rows, want 3 and 1", jobs, raw)
	}
	x.stillVisible(t)
}

func TestPeekRunTTY(t *testing.T) {
	t.Parallel()
	x := setup(t)
	x.f.IOStreams.SetStdoutTTY(true)
	x.run(t, "-n", "2")
	out := x.streams.Out.String()
	if !strings.HasPrefix(out, "MESSAGE ID") || !strings.Contains(out, " ago") || len(strings.Split(strings.TrimSpace(out), "\n")) != 3 {
		t.Errorf("terminal output:\n%s", out)
	}
	x.stillVisible(t)
}

func TestPeekRunJSON(t *testing.T) {
	t.Parallel()
	x := setup(t)
	x.f.Flags.Output = "json"
	x.run(t, "-n", "50")
	var msgs []queue.Message
	if err := json.Unmarshal(x.streams.Out.Bytes(), &msgs); err != nil {
		t.Fatalf("%v\n%s", err, x.streams.Out)
	}
	if len(msgs) != 4 {
		t.Fatalf("%d messages, want 4", len(msgs))
	}
	for _, m := range msgs {
		if m.Job == nil && !strings.HasPrefix(m.Body, "Traceback") {
			t.Errorf("undecoded %+v", m)
		}
		if m.Job != nil && (len(m.Attributes) != 5 || m.Attributes["payload"].DataType != "Binary") {
			t.Errorf("attributes of %s: %+v", m.Job.JobID, m.Attributes)
		}
	}
	x.stillVisible(t)
}

func TestPeekRunEmpty(t *testing.T) {
	t.Parallel()
	api := awstest.SQS(t)
	mainURL, dlqURL := queuetest.Queues(t, api)
	f, streams := cmdtest.Factory(t, map[string]string{"DLQ_URL": dlqURL, "MAIN_QUEUE_URL": mainURL})
	x := &fixture{f: f, streams: streams, api: api, dlq: dlqURL}
	x.run(t)
	if streams.Out.Len() != 0 || !strings.Contains(streams.ErrOut.String(), "No messages visible") {
		t.Errorf("stdout %q, stderr %q", streams.Out, streams.ErrOut)
	}
	f.Flags.Output = "json"
	x.run(t)
	if strings.TrimSpace(streams.Out.String()) != "[]" {
		t.Errorf("JSON for an empty DLQ: %q", streams.Out)
	}
}
