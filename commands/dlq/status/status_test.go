package status

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

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

func TestNewCmdStatus(t *testing.T) {
	f, _ := cmdtest.Factory(t, nil)
	var got *StatusOptions
	if err := execute(NewCmdStatus(f, func(o *StatusOptions) error { got = o; return nil })); err != nil || got == nil || got.Ctx == nil {
		t.Fatalf("no args: %v, %+v", err, got)
	}
	got = nil
	if err := execute(NewCmdStatus(f, func(o *StatusOptions) error { got = o; return nil }), "extra"); err == nil || got != nil {
		t.Errorf("an argument was accepted")
	}
	if err := execute(NewCmdStatus(f, func(o *StatusOptions) error { return nil }), "--bogus"); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Errorf("unknown flag: %v", err)
	}
}

func setup(t *testing.T) (*StatusOptions, *cmdtest.Streams, string, string) {
	opts, streams, mainURL, dlqURL, _ := setupF(t)
	return opts, streams, mainURL, dlqURL
}

func setupF(t *testing.T) (*StatusOptions, *cmdtest.Streams, string, string, *cmdutil.Factory) {
	t.Helper()
	api := awstest.SQS(t)
	mainURL, dlqURL := queuetest.Queues(t, api)
	queuetest.Seed(t, api, dlqURL, 5)
	f, streams := cmdtest.Factory(t, map[string]string{"DLQ_URL": dlqURL, "MAIN_QUEUE_URL": mainURL})
	f.Now = func() time.Time { return time.Now().Add(time.Minute) }
	var opts *StatusOptions
	if err := execute(NewCmdStatus(f, func(o *StatusOptions) error { opts = o; return nil })); err != nil {
		t.Fatal(err)
	}
	return opts, streams, mainURL, dlqURL, f
}

func TestStatusRunOffTTY(t *testing.T) {
	t.Parallel()
	opts, streams, mainURL, dlqURL := setup(t)
	if err := statusRun(opts); err != nil {
		t.Fatal(err)
	}
	out := streams.Out.String()
	for _, want := range []string{
		"queue\t" + queue.NameFromURL(mainURL) + "\n",
		"dlq\t" + queue.NameFromURL(dlqURL) + "\n",
		"redrive policy\tto " + queue.NameFromURL(dlqURL) + " after 3 receives\n",
		"dlq retention\t14 days\n",
		"dlq oldest message\tunknown",
		"move task\tnone\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "dlq messages\t") || !strings.Contains(out, " visible, ") {
		t.Errorf("no counts:\n%s", out)
	}
	if streams.ErrOut.Len() != 0 {
		t.Errorf("stderr off a terminal: %q", streams.ErrOut)
	}
}

func TestStatusRunTTY(t *testing.T) {
	t.Parallel()
	opts, streams, _, dlqURL := setup(t)
	opts.IO.SetStdoutTTY(true)
	opts.IO.SetStderrTTY(true)
	if err := statusRun(opts); err != nil {
		t.Fatal(err)
	}
	if out := streams.Out.String(); !strings.Contains(out, "redrive policy:") || strings.Contains(out, "\t") {
		t.Errorf("terminal output:\n%s", out)
	}
	if !strings.Contains(streams.ErrOut.String(), queue.NameFromURL(dlqURL)+" holds about") || !strings.Contains(streams.ErrOut.String(), "nexus dlq peek") {
		t.Errorf("no hint on stderr: %q", streams.ErrOut)
	}
}

func TestStatusRunJSON(t *testing.T) {
	t.Parallel()
	opts, streams, mainURL, dlqURL, f := setupF(t)
	f.Flags.Output = "json"
	if err := statusRun(opts); err != nil {
		t.Fatal(err)
	}
	var r Report
	if err := json.Unmarshal(streams.Out.Bytes(), &r); err != nil {
		t.Fatalf("%v\n%s", err, streams.Out)
	}
	if r.Queue.URL != mainURL || r.DLQ.URL != dlqURL || !r.RedrivesToDLQ || r.Queue.RedrivePolicy.MaxReceiveCount != 3 ||
		r.DLQ.RetentionSeconds != 1209600 || r.Queue.VisibilityTimeout != 60 || r.DLQ.OldestAgeSeconds != nil || r.MoveTasks == nil {
		t.Errorf("report = %+v", r)
	}
}
