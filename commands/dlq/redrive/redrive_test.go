package redrive

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/awstest"
	"github.com/nexus-compliance/nexus/aws/queue"
	"github.com/nexus-compliance/nexus/aws/queue/queuetest"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
	"github.com/nexus-compliance/nexus/runbooks/audit"
)

func TestNewCmdRedrive(t *testing.T) {
	for _, tc := range []struct {
		args    string
		want    RedriveOptions
		wantErr string
	}{
		{args: "", want: RedriveOptions{Concurrency: 8}},
		{args: "--dry-run --max 5", want: RedriveOptions{DryRun: true, Max: 5, Concurrency: 8}},
		{args: "-y --concurrency 16", want: RedriveOptions{Yes: true, Concurrency: 16}},
		{args: "--yes --max 50", want: RedriveOptions{Yes: true, Max: 50, Concurrency: 8}},
		{args: "--native --rate 100", want: RedriveOptions{Native: true, Rate: 100, Concurrency: 8}},
		{args: "--native --dry-run", want: RedriveOptions{Native: true, DryRun: true, Concurrency: 8}},
		{args: "--native --max 5", wantErr: "--max cannot be used with --native"},
		{args: "--native --concurrency 4", wantErr: "--concurrency applies to the client-side move"},
		{args: "--rate 10", wantErr: "--rate applies to --native"},
		{args: "--native --rate 501", wantErr: "--rate must be between 1 and 500"},
		{args: "--max -1", wantErr: "--max must be 0"},
		{args: "--concurrency 0", wantErr: "--concurrency must be between 1 and 64"},
		{args: "--concurrency 65", wantErr: "--concurrency must be between 1 and 64"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			f, _ := cmdtest.Factory(t, nil)
			var got *RedriveOptions
			cmd := NewCmdRedrive(f, func(o *RedriveOptions) error { got = o; return nil })
			err := execute(cmd, context.Background(), strings.Fields(tc.args)...)
			if tc.wantErr != "" {
				var flagErr *cmdutil.FlagError
				if !errors.As(err, &flagErr) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want a FlagError containing %q", err, tc.wantErr)
				}
				if got != nil {
					t.Error("run function called despite the error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.DryRun != tc.want.DryRun || got.Max != tc.want.Max || got.Yes != tc.want.Yes || got.Native != tc.want.Native ||
				got.Concurrency != tc.want.Concurrency || got.Rate != tc.want.Rate {
				t.Errorf("options = %+v, want %+v", *got, tc.want)
			}
		})
	}
	f, _ := cmdtest.Factory(t, nil)
	if err := execute(NewCmdRedrive(f, func(*RedriveOptions) error { return nil }), context.Background(), "extra"); err == nil {
		t.Error("an argument was accepted")
	}
}

func execute(cmd *cobra.Command, ctx context.Context, args ...string) error {
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cmdutil.FlagError{Err: err} })
	return cmd.ExecuteContext(ctx)
}

type env struct {
	f         *cmdutil.Factory
	streams   *cmdtest.Streams
	api       *sqs.Client
	main, dlq string
}

func setup(t *testing.T, n int) *env {
	t.Helper()
	api := awstest.SQS(t)
	mainURL, dlqURL := queuetest.Queues(t, api)
	queuetest.Seed(t, api, dlqURL, n)
	f, streams := cmdtest.Factory(t, map[string]string{"DLQ_URL": dlqURL, "MAIN_QUEUE_URL": mainURL})
	return &env{f: f, streams: streams, api: api, main: mainURL, dlq: dlqURL}
}

// run parses args with the real command, then runs redriveRun with the SQS
// client optionally wrapped.
func (e *env) run(ctx context.Context, wrap func(queue.API) queue.API, args ...string) error {
	var opts *RedriveOptions
	if err := execute(NewCmdRedrive(e.f, func(o *RedriveOptions) error { opts = o; return nil }), ctx, args...); err != nil {
		return err
	}
	if wrap != nil {
		inner := opts.SQS
		opts.SQS = func(ctx context.Context) (queue.API, error) {
			api, err := inner(ctx)
			if err != nil {
				return nil, err
			}
			return wrap(api), nil
		}
	}
	return redriveRun(opts)
}

func (e *env) tty(stdin string) {
	e.f.IOStreams.SetStdinTTY(true)
	e.f.IOStreams.SetStdoutTTY(true)
	e.f.IOStreams.SetStderrTTY(true)
	e.streams.In.WriteString(stdin)
}

func (e *env) audit(t *testing.T) []audit.Record {
	t.Helper()
	fh, err := os.Open(e.f.Getenv("NEXUS_AUDIT_LOG"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var out []audit.Record
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		var r audit.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// untouchable fails the test on any SQS call.
type untouchable struct {
	queue.API
	t *testing.T
}

func (u untouchable) GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	u.t.Error("GetQueueAttributes called")
	return nil, errors.New("no")
}

func (u untouchable) ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	u.t.Error("ReceiveMessage called")
	return nil, errors.New("no")
}

func TestRedriveRunOffTTYWithoutYesRefuses(t *testing.T) {
	t.Parallel()
	e := setup(t, 20)
	err := e.run(context.Background(), func(api queue.API) queue.API { return untouchable{API: api, t: t} })
	if code := cmdutil.ExitCode(err); code != cmdutil.ExitUsage {
		t.Fatalf("exit %d (%v), want %d", code, err, cmdutil.ExitUsage)
	}
	if !strings.Contains(err.Error(), "--yes") || !strings.Contains(err.Error(), "--dry-run") {
		t.Errorf("error %q does not say what to do", err)
	}
	if len(e.audit(t)) != 0 {
		t.Error("a refused run was audited as an action")
	}
	if got := queuetest.Drain(t, e.api, e.main); len(got) != 0 {
		t.Errorf("%d messages moved", len(got))
	}
	queuetest.CheckExactlyOnce(t, queuetest.Drain(t, e.api, e.dlq), queuetest.Range(0, 20))
}

func TestRedriveRunYesOffTTY(t *testing.T) {
	t.Parallel()
	e := setup(t, 60)
	e.f.Flags.Output = "json"
	if err := e.run(context.Background(), nil, "--yes", "--concurrency", "4"); err != nil {
		t.Fatal(err)
	}
	var s Summary
	if err := json.Unmarshal(e.streams.Out.Bytes(), &s); err != nil {
		t.Fatalf("stdout is not the JSON summary: %v\n%s", err, e.streams.Out)
	}
	if s.Moved != 60 || s.Failed != 0 || s.Mode != "client" || s.Environment == "" || s.Left == nil {
		t.Errorf("summary = %+v", s)
	}
	errOut := e.streams.ErrOut.String()
	if !strings.Contains(errOut, "audit: ") || !strings.Contains(errOut, "dlq.redrive result=ok") || !strings.Contains(errOut, "moved=60") {
		t.Errorf("stderr lacks the audit line:\n%s", errOut)
	}
	if strings.Contains(errOut, "redriving") || strings.Contains(errOut, "\r") {
		t.Errorf("progress drawn off a terminal:\n%q", errOut)
	}
	recs := e.audit(t)
	if len(recs) != 1 || recs[0].Action != "dlq.redrive" || recs[0].Result != "ok" || recs[0].DryRun || recs[0].Details["moved"] != float64(60) {
		t.Errorf("audit log = %+v", recs)
	}
	queuetest.CheckExactlyOnce(t, queuetest.Drain(t, e.api, e.main), queuetest.Range(0, 60))
	if left := queuetest.Drain(t, e.api, e.dlq); len(left) != 0 {
		t.Errorf("%d left in the DLQ", len(left))
	}
}

func TestRedriveRunTTYAsksFirst(t *testing.T) {
	t.Parallel()
	e := setup(t, 40)
	e.tty("y\n")
	if err := e.run(context.Background(), nil, "--max", "30"); err != nil {
		t.Fatal(err)
	}
	errOut, out := e.streams.ErrOut.String(), e.streams.Out.String()
	if !strings.Contains(errOut, "Move about 30 messages from "+queue.NameFromURL(e.dlq)+" to "+queue.NameFromURL(e.main)) {
		t.Errorf("no confirmation asked:\n%s", errOut)
	}
	if !strings.Contains(out, "moved:") || !strings.Contains(out, "30 from") {
		t.Errorf("summary:\n%s", out)
	}
	moved, left := queuetest.Drain(t, e.api, e.main), queuetest.Drain(t, e.api, e.dlq)
	if len(moved) != 30 || len(left) != 10 {
		t.Errorf("main %d, DLQ %d; want 30 and 10", len(moved), len(left))
	}
	queuetest.CheckExactlyOnce(t, append(moved, left...), queuetest.Range(0, 40))
}

func TestRedriveRunTTYDeclined(t *testing.T) {
	t.Parallel()
	e := setup(t, 10)
	e.tty("n\n")
	err := e.run(context.Background(), nil)
	if code := cmdutil.ExitCode(err); code != cmdutil.ExitInterrupted {
		t.Fatalf("exit %d (%v), want %d", code, err, cmdutil.ExitInterrupted)
	}
	if got := queuetest.Drain(t, e.api, e.main); len(got) != 0 {
		t.Errorf("%d messages moved after a no", len(got))
	}
	if len(e.audit(t)) != 0 {
		t.Error("a declined run was audited")
	}
}

func TestRedriveRunDryRun(t *testing.T) {
	t.Parallel()
	e := setup(t, 25)
	var mutating atomic.Int32
	err := e.run(context.Background(), func(api queue.API) queue.API { return &countMutations{API: api, n: &mutating} }, "--dry-run", "--max", "10")
	if err != nil {
		t.Fatal(err)
	}
	out := e.streams.Out.String()
	for _, want := range []string{"dry run\t", "would move\tabout 10 messages (--max 10)", "sample\tnexus dlq peek"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if mutating.Load() != 0 {
		t.Errorf("dry run made %d mutating calls", mutating.Load())
	}
	if recs := e.audit(t); len(recs) != 1 || !recs[0].DryRun {
		t.Errorf("audit = %+v", recs)
	}
	if got := queuetest.Drain(t, e.api, e.main); len(got) != 0 {
		t.Errorf("dry run moved %d", len(got))
	}
	queuetest.CheckExactlyOnce(t, queuetest.Drain(t, e.api, e.dlq), queuetest.Range(0, 25))
}

type countMutations struct {
	queue.API
	n *atomic.Int32
}

func (c *countMutations) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, o ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	c.n.Add(1)
	return c.API.ReceiveMessage(ctx, in, o...)
}

func (c *countMutations) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, o ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	c.n.Add(1)
	return c.API.SendMessageBatch(ctx, in, o...)
}

func (c *countMutations) DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, o ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	c.n.Add(1)
	return c.API.DeleteMessageBatch(ctx, in, o...)
}

func (c *countMutations) StartMessageMoveTask(ctx context.Context, in *sqs.StartMessageMoveTaskInput, o ...func(*sqs.Options)) (*sqs.StartMessageMoveTaskOutput, error) {
	c.n.Add(1)
	return c.API.StartMessageMoveTask(ctx, in, o...)
}

// interrupter cancels the run's context (as Ctrl-C does) once a number of
// sends have happened.
type interrupter struct {
	queue.API
	sends  atomic.Int32
	after  int32
	cancel context.CancelFunc
}

func (i *interrupter) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, o ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	if i.sends.Add(1) == i.after {
		i.cancel()
	}
	return i.API.SendMessageBatch(ctx, in, o...)
}

func TestRedriveRunInterrupted(t *testing.T) {
	t.Parallel()
	e := setup(t, 300)
	e.f.Flags.Output = "json"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := e.run(ctx, func(api queue.API) queue.API { return &interrupter{API: api, after: 5, cancel: cancel} }, "--yes")
	if code := cmdutil.ExitCode(err); code != cmdutil.ExitInterrupted {
		t.Fatalf("exit %d (%v), want %d", code, err, cmdutil.ExitInterrupted)
	}
	var s Summary
	if err := json.Unmarshal(e.streams.Out.Bytes(), &s); err != nil {
		t.Fatalf("no JSON summary: %v\n%s", err, e.streams.Out)
	}
	if !s.Interrupted || s.Moved == 0 || s.Moved == 300 {
		t.Errorf("summary = %+v", s)
	}
	if !strings.Contains(e.streams.ErrOut.String(), "Interrupted: ") || !strings.Contains(e.streams.ErrOut.String(), "result=interrupted") {
		t.Errorf("stderr:\n%s", e.streams.ErrOut)
	}
	moved, left := queuetest.Drain(t, e.api, e.main), queuetest.Drain(t, e.api, e.dlq)
	if len(moved) != s.Moved {
		t.Errorf("main holds %d, summary says %d moved", len(moved), s.Moved)
	}
	queuetest.CheckExactlyOnce(t, append(moved, left...), queuetest.Range(0, 300))
}

// failSome reports the messages of every fourth job as failed by the
// request (so they are not retried), without sending them.
type failSome struct{ queue.API }

func (f failSome) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, o ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	out := &sqs.SendMessageBatchOutput{}
	var pass []types.SendMessageBatchRequestEntry
	for _, e := range in.Entries {
		if strings.HasSuffix(strings.SplitN(aws.ToString(e.MessageBody), `"`, 5)[3], "0") {
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InvalidParameterValue"), Message: aws.String("injected"), SenderFault: true})
		} else {
			pass = append(pass, e)
		}
	}
	if len(pass) > 0 {
		cp := *in
		cp.Entries = pass
		real, err := f.API.SendMessageBatch(ctx, &cp, o...)
		if err != nil {
			return nil, err
		}
		out.Successful = real.Successful
		out.Failed = append(out.Failed, real.Failed...)
	}
	return out, nil
}

func TestRedriveRunInjectedSendFailureExitsOne(t *testing.T) {
	t.Parallel()
	e := setup(t, 30) // job-00000 … job-00029: 00000, 00010, 00020 fail
	err := e.run(context.Background(), func(api queue.API) queue.API { return failSome{api} }, "--yes")
	if code := cmdutil.ExitCode(err); code != cmdutil.ExitError || !strings.Contains(err.Error(), "3 messages could not be moved") {
		t.Fatalf("exit %d: %v", code, err)
	}
	if !strings.Contains(e.streams.ErrOut.String(), "injected") || !strings.Contains(e.streams.ErrOut.String(), "result=partial") {
		t.Errorf("stderr:\n%s", e.streams.ErrOut)
	}
	queuetest.CheckExactlyOnce(t, queuetest.Drain(t, e.api, e.dlq), []int{0, 10, 20})
	var good []int
	for i := range 30 {
		if i%10 != 0 {
			good = append(good, i)
		}
	}
	queuetest.CheckExactlyOnce(t, queuetest.Drain(t, e.api, e.main), good)
}

func TestRedriveRunNative(t *testing.T) {
	t.Parallel()
	e := setup(t, 15)
	if err := e.run(context.Background(), nil, "--native", "--yes"); err != nil {
		t.Fatal(err)
	}
	if out := e.streams.Out.String(); !strings.Contains(out, "mode\tSQS move task ") || !strings.Contains(out, "moved\t15 from") {
		t.Errorf("summary:\n%s", out)
	}
	queuetest.CheckExactlyOnce(t, queuetest.Drain(t, e.api, e.main), queuetest.Range(0, 15))
}

func TestRedriveRunQueueNotFound(t *testing.T) {
	t.Parallel()
	awstest.Endpoint(t, "SQS")
	f, _ := cmdtest.Factory(t, map[string]string{"NEXUS_DLQ_NAME": awstest.UniqueName(t, "missing")})
	var opts *RedriveOptions
	if err := execute(NewCmdRedrive(f, func(o *RedriveOptions) error { opts = o; return nil }), context.Background(), "--dry-run"); err != nil {
		t.Fatal(err)
	}
	err := redriveRun(opts)
	if code := cmdutil.ExitCode(err); code != cmdutil.ExitNotFound {
		t.Fatalf("exit %d (%v), want %d", code, err, cmdutil.ExitNotFound)
	}
	for _, want := range []string{"nexus db bootstrap", "nexus config set dlq_url", "DLQ_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
