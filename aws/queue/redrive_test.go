package queue_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/nexus-compliance/nexus/aws/awstest"
	"github.com/nexus-compliance/nexus/aws/queue"
	"github.com/nexus-compliance/nexus/aws/queue/queuetest"
)

func newQueues(t *testing.T, api queue.API) (mainURL, dlqURL string) {
	t.Helper()
	return queuetest.Queues(t, api)
}

func TestRedriveMovesEveryMessageExactlyOnce(t *testing.T) {
	t.Parallel()
	api := awstest.SQS(t)
	mainURL, dlqURL := newQueues(t, api)
	const n = 1000
	queuetest.Seed(t, api, dlqURL, n)

	var calls []queue.RedriveProgress
	res, err := queue.Redrive(context.Background(), api, queue.RedriveOptions{
		SourceURL: dlqURL, DestinationURL: mainURL,
		OnProgress: func(p queue.RedriveProgress) { calls = append(calls, p) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Moved != n || res.Failed != 0 || res.Duplicated != 0 || res.Interrupted || res.Mode != queue.ModeClient {
		t.Errorf("result = %+v", res)
	}
	if len(calls) == 0 || calls[len(calls)-1].Moved != n {
		t.Errorf("progress ended at %+v, want %d moved", calls[len(calls)-1], n)
	}
	for i := 1; i < len(calls); i++ {
		if calls[i].Moved < calls[i-1].Moved {
			t.Fatalf("progress went backwards: %+v then %+v", calls[i-1], calls[i])
		}
	}
	queuetest.CheckExactlyOnce(t, queuetest.Drain(t, api, mainURL), queuetest.Range(0, n))
	if left := queuetest.Drain(t, api, dlqURL); len(left) != 0 {
		t.Errorf("%d messages left in the DLQ", len(left))
	}
}

// recorder counts the calls made through it.
type recorder struct {
	queue.API
	mu    sync.Mutex
	calls map[string]int
}

func (r *recorder) note(op string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls == nil {
		r.calls = map[string]int{}
	}
	r.calls[op]++
}

func (r *recorder) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, o ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	r.note("ReceiveMessage")
	return r.API.ReceiveMessage(ctx, in, o...)
}

func (r *recorder) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, o ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	r.note("SendMessageBatch")
	return r.API.SendMessageBatch(ctx, in, o...)
}

func (r *recorder) DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, o ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	r.note("DeleteMessageBatch")
	return r.API.DeleteMessageBatch(ctx, in, o...)
}

func (r *recorder) ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, o ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	r.note("ChangeMessageVisibilityBatch")
	return r.API.ChangeMessageVisibilityBatch(ctx, in, o...)
}

func (r *recorder) StartMessageMoveTask(ctx context.Context, in *sqs.StartMessageMoveTaskInput, o ...func(*sqs.Options)) (*sqs.StartMessageMoveTaskOutput, error) {
	r.note("StartMessageMoveTask")
	return r.API.StartMessageMoveTask(ctx, in, o...)
}

func (r *recorder) SetQueueAttributes(ctx context.Context, in *sqs.SetQueueAttributesInput, o ...func(*sqs.Options)) (*sqs.SetQueueAttributesOutput, error) {
	r.note("SetQueueAttributes")
	return r.API.SetQueueAttributes(ctx, in, o...)
}

func (r *recorder) CreateQueue(ctx context.Context, in *sqs.CreateQueueInput, o ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error) {
	r.note("CreateQueue")
	return r.API.CreateQueue(ctx, in, o...)
}

func TestRedriveDryRunMakesNoMutatingCall(t *testing.T) {
	t.Parallel()
	api := awstest.SQS(t)
	mainURL, dlqURL := newQueues(t, api)
	queuetest.Seed(t, api, dlqURL, 30)
	for _, native := range []bool{false, true} {
		rec := &recorder{API: api}
		res, err := queue.Redrive(context.Background(), rec, queue.RedriveOptions{SourceURL: dlqURL, DestinationURL: mainURL, DryRun: true, Native: native})
		if err != nil {
			t.Fatal(err)
		}
		if !res.DryRun || res.Moved != 0 || res.WouldMove != 30 {
			t.Errorf("native=%v: result = %+v", native, res)
		}
		if len(rec.calls) != 0 {
			t.Errorf("native=%v: dry run made calls %v", native, rec.calls)
		}
	}
	res, err := queue.Redrive(context.Background(), api, queue.RedriveOptions{SourceURL: dlqURL, DestinationURL: mainURL, DryRun: true, Max: 7})
	if err != nil || res.WouldMove != 7 {
		t.Errorf("dry run with max 7: %+v, %v", res, err)
	}
	if got := queuetest.Drain(t, api, mainURL); len(got) != 0 {
		t.Errorf("dry run moved %d messages", len(got))
	}
	queuetest.CheckExactlyOnce(t, queuetest.Drain(t, api, dlqURL), queuetest.Range(0, 30))
}

func TestRedriveMaxMovesExactlyThatMany(t *testing.T) {
	t.Parallel()
	api := awstest.SQS(t)
	mainURL, dlqURL := newQueues(t, api)
	queuetest.Seed(t, api, dlqURL, 100)
	res, err := queue.Redrive(context.Background(), api, queue.RedriveOptions{SourceURL: dlqURL, DestinationURL: mainURL, Max: 25, Concurrency: 8})
	if err != nil {
		t.Fatal(err)
	}
	if res.Moved != 25 {
		t.Errorf("moved %d, want 25", res.Moved)
	}
	moved, left := queuetest.Drain(t, api, mainURL), queuetest.Drain(t, api, dlqURL)
	if len(moved) != 25 || len(left) != 75 {
		t.Errorf("main holds %d, DLQ %d; want 25 and 75", len(moved), len(left))
	}
	queuetest.CheckExactlyOnce(t, append(moved, left...), queuetest.Range(0, 100))
}

func TestRedriveCancelledLosesNothing(t *testing.T) {
	t.Parallel()
	api := awstest.SQS(t)
	mainURL, dlqURL := newQueues(t, api)
	const n = 1000
	queuetest.Seed(t, api, dlqURL, n)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := queue.Redrive(ctx, api, queue.RedriveOptions{
		SourceURL: dlqURL, DestinationURL: mainURL, Concurrency: 16,
		OnProgress: func(p queue.RedriveProgress) {
			if p.Moved >= 200 {
				cancel() // as Ctrl-C would, while other batches are in flight
			}
		},
	})
	if !errors.Is(err, context.Canceled) || !res.Interrupted {
		t.Fatalf("err = %v, result = %+v; want context.Canceled and interrupted", err, res)
	}
	if res.Moved < 200 || res.Moved >= n || res.Failed != 0 || res.Duplicated != 0 {
		t.Errorf("result = %+v", res)
	}
	moved, left := queuetest.Drain(t, api, mainURL), queuetest.Drain(t, api, dlqURL)
	if len(moved) != res.Moved {
		t.Errorf("main holds %d messages, result says %d moved", len(moved), res.Moved)
	}
	t.Logf("interrupted after %d moved; %d left in the DLQ", len(moved), len(left))
	queuetest.CheckExactlyOnce(t, append(moved, left...), queuetest.Range(0, n))
}

// faultySend reports chosen SendMessageBatch entries as Failed without
// sending them, and sends the rest through the real client.
type faultySend struct {
	queue.API
	fail func(body string) *types.BatchResultErrorEntry
}

func (f *faultySend) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, o ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	var pass []types.SendMessageBatchRequestEntry
	var failed []types.BatchResultErrorEntry
	for _, e := range in.Entries {
		if fe := f.fail(aws.ToString(e.MessageBody)); fe != nil {
			fe.Id = e.Id
			failed = append(failed, *fe)
		} else {
			pass = append(pass, e)
		}
	}
	out := &sqs.SendMessageBatchOutput{}
	if len(pass) > 0 {
		cp := *in
		cp.Entries = pass
		real, err := f.API.SendMessageBatch(ctx, &cp, o...)
		if err != nil {
			return nil, err
		}
		out.Successful, out.Failed = real.Successful, real.Failed
	}
	out.Failed = append(out.Failed, failed...)
	return out, nil
}

var jobNumber = regexp.MustCompile(`job-(\d+)`)

func index(body string) int {
	m := jobNumber.FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	i, _ := strconv.Atoi(m[1])
	return i
}

func TestRedriveInjectedSendFailureDeletesNothingUnsent(t *testing.T) {
	t.Parallel()
	api := awstest.SQS(t)
	mainURL, dlqURL := newQueues(t, api)
	const n = 200
	queuetest.Seed(t, api, dlqURL, n)
	var attempts sync.Map // index → sends attempted
	wrapped := &faultySend{API: api, fail: func(body string) *types.BatchResultErrorEntry {
		i := index(body)
		v, _ := attempts.LoadOrStore(i, new(atomic.Int32))
		k := v.(*atomic.Int32).Add(1)
		switch {
		case i%11 == 0: // the request is at fault: never retried
			return &types.BatchResultErrorEntry{Code: aws.String("InvalidParameterValue"), Message: aws.String("injected"), SenderFault: true}
		case i%7 == 0: // SQS at fault every time: retried, then left
			return &types.BatchResultErrorEntry{Code: aws.String("InternalError"), Message: aws.String("injected"), SenderFault: false}
		case i%5 == 0 && k == 1: // SQS at fault once: the retry moves it
			return &types.BatchResultErrorEntry{Code: aws.String("ServiceUnavailable"), Message: aws.String("injected"), SenderFault: false}
		}
		return nil
	}}
	res, err := queue.Redrive(context.Background(), wrapped, queue.RedriveOptions{SourceURL: dlqURL, DestinationURL: mainURL, SendAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	var bad, good []int
	for i := range n {
		if i%11 == 0 || i%7 == 0 {
			bad = append(bad, i)
		} else {
			good = append(good, i)
		}
	}
	if res.Moved != len(good) || res.Failed != len(bad) || res.Duplicated != 0 || len(res.Failures) == 0 {
		t.Errorf("result: moved %d failed %d duplicated %d failures %d; want %d, %d, 0, some",
			res.Moved, res.Failed, res.Duplicated, len(res.Failures), len(good), len(bad))
	}
	for _, i := range bad {
		v, _ := attempts.Load(i)
		got, want := v.(*atomic.Int32).Load(), int32(3)
		if i%11 == 0 {
			want = 1
		}
		if got != want {
			t.Errorf("message %d was attempted %d times, want %d", i, got, want)
		}
	}
	queuetest.CheckExactlyOnce(t, queuetest.Drain(t, api, mainURL), good)
	// Failed messages are released at the end of the run, so they are
	// visible in the DLQ at once.
	queuetest.CheckExactlyOnce(t, queuetest.Drain(t, api, dlqURL), bad)
}

// lostReply sends for real but, on the chosen call, reports a transport
// error: the send outcome is unknown to the caller.
type lostReply struct {
	queue.API
	calls, failOn atomic.Int32
}

func (l *lostReply) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, o ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	out, err := l.API.SendMessageBatch(ctx, in, o...)
	if l.calls.Add(1) == l.failOn.Load() {
		return nil, errors.New("read tcp: connection reset by peer")
	}
	return out, err
}

func TestRedriveUnknownSendOutcomeIsNeverDeleted(t *testing.T) {
	t.Parallel()
	api := awstest.SQS(t)
	mainURL, dlqURL := newQueues(t, api)
	queuetest.Seed(t, api, dlqURL, 50)
	wrapped := &lostReply{API: api}
	wrapped.failOn.Store(3)
	res, err := queue.Redrive(context.Background(), wrapped, queue.RedriveOptions{SourceURL: dlqURL, DestinationURL: mainURL, Concurrency: 1})
	if err == nil {
		t.Fatal("a send with an unknown outcome did not stop the run")
	}
	if res.Moved != 20 || res.Failed != 10 {
		t.Errorf("moved %d, failed %d; want 20 and 10", res.Moved, res.Failed)
	}
	moved, left := queuetest.Drain(t, api, mainURL), queuetest.Drain(t, api, dlqURL)
	// The third batch reached the main queue, but nexus could not know, so
	// it is also still in the DLQ: the one duplicate an unknown outcome forces.
	if len(moved) != 30 || len(left) != 30 {
		t.Errorf("main holds %d, DLQ %d; want 30 and 30", len(moved), len(left))
	}
	inMain := map[string]bool{}
	for _, b := range queuetest.Bodies(moved) {
		inMain[b] = true
	}
	both := 0
	for _, b := range queuetest.Bodies(left) {
		if inMain[b] {
			both++
		}
	}
	if both != 10 {
		t.Errorf("%d messages are in both queues, want the 10 of the unknown batch", both)
	}
	all := slices.Concat(moved, left)
	seen := map[string]bool{}
	for _, b := range queuetest.Bodies(all) {
		seen[b] = true
	}
	if len(seen) != 50 {
		t.Errorf("%d distinct messages survive, want 50", len(seen))
	}
}

func TestRedriveNative(t *testing.T) {
	t.Parallel()
	api := awstest.SQS(t)
	mainURL, dlqURL := newQueues(t, api)
	queuetest.Seed(t, api, dlqURL, 40)
	ctx := context.Background()
	if _, err := queue.Redrive(ctx, api, queue.RedriveOptions{SourceURL: dlqURL, DestinationURL: mainURL, Native: true, Max: 5}); err == nil {
		t.Error("native with max accepted")
	}
	if _, err := queue.Redrive(ctx, api, queue.RedriveOptions{SourceURL: dlqURL, DestinationURL: mainURL, MaxPerSecond: 5}); err == nil {
		t.Error("a rate without native accepted")
	}
	var last queue.RedriveProgress
	res, err := queue.Redrive(ctx, api, queue.RedriveOptions{SourceURL: dlqURL, DestinationURL: mainURL, Native: true,
		PollInterval: 100 * time.Millisecond, OnProgress: func(p queue.RedriveProgress) { last = p }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != queue.ModeNative || res.Moved != 40 || res.TaskHandle == "" || last.Moved != 40 {
		t.Errorf("result = %+v, last progress %+v", res, last)
	}
	queuetest.CheckExactlyOnce(t, queuetest.Drain(t, api, mainURL), queuetest.Range(0, 40))
	arn, err := queue.ARN(ctx, api, dlqURL)
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := queue.ListMoveTasks(ctx, api, arn)
	if err != nil || len(tasks) == 0 || tasks[0].Status != queue.TaskCompleted {
		t.Errorf("move tasks = %+v, %v", tasks, err)
	}
}

func TestRedriveRefusesWhileMoveTaskRuns(t *testing.T) {
	t.Parallel()
	api := awstest.SQS(t)
	mainURL, dlqURL := newQueues(t, api)
	queuetest.Seed(t, api, dlqURL, 30)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan queue.RedriveResult)
	go func() {
		res, _ := queue.Redrive(ctx, api, queue.RedriveOptions{SourceURL: dlqURL, DestinationURL: mainURL, Native: true, MaxPerSecond: 1, PollInterval: 50 * time.Millisecond})
		done <- res
	}()
	arn, _ := queue.ARN(context.Background(), api, dlqURL)
	queuetest.Eventually(t, 5*time.Second, func() error {
		task, err := queue.RunningMoveTask(context.Background(), api, arn)
		if err == nil && task == nil {
			err = errors.New("no running task yet")
		}
		return err
	})
	_, err := queue.Redrive(context.Background(), api, queue.RedriveOptions{SourceURL: dlqURL, DestinationURL: mainURL})
	if !errors.Is(err, queue.ErrMoveTaskRunning) {
		t.Errorf("client redrive during a move task: %v", err)
	}
	cancel()
	res := <-done
	if !res.Interrupted || res.Moved >= 30 {
		t.Errorf("cancelled native redrive: %+v", res)
	}
	queuetest.Eventually(t, 5*time.Second, func() error {
		task, err := queue.RunningMoveTask(context.Background(), api, arn)
		if err == nil && task != nil {
			err = errors.New("task still running after cancel: " + task.Status)
		}
		return err
	})
	moved, left := queuetest.Drain(t, api, mainURL), queuetest.Drain(t, api, dlqURL)
	queuetest.CheckExactlyOnce(t, append(moved, left...), queuetest.Range(0, 30))
}

func TestPeekLeavesMessagesVisible(t *testing.T) {
	t.Parallel()
	api := awstest.SQS(t)
	_, dlqURL := newQueues(t, api)
	queuetest.Seed(t, api, dlqURL, 12)
	if _, err := api.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(dlqURL), MessageBody: aws.String("not a job <xml/>")}); err != nil {
		t.Fatal(err)
	}
	msgs, err := queue.Peek(context.Background(), api, dlqURL, 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 13 {
		t.Fatalf("peeked %d messages, want 13", len(msgs))
	}
	raw := 0
	for _, m := range msgs {
		if m.ReceiveCount < 1 || m.Sent.IsZero() || m.FirstReceived.IsZero() {
			t.Errorf("system attributes missing: %+v", m)
		}
		if m.Job == nil {
			raw++
			if m.Body != "not a job <xml/>" {
				t.Errorf("raw body = %q", m.Body)
			}
			continue
		}
		if m.Job.ControlKey != "AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED" || m.Job.TargetFrameworkKey != "NIST-SP-800-53#R5" || len(m.Attributes) != 5 {
			t.Errorf("decoded = %+v", m)
		}
	}
	if raw != 1 {
		t.Errorf("%d raw messages, want 1", raw)
	}
	small, err := queue.Peek(context.Background(), api, dlqURL, 3)
	if err != nil || len(small) != 3 {
		t.Errorf("peek 3: %d, %v", len(small), err)
	}
	// Right after, every message can be received again.
	if got := queuetest.Drain(t, api, dlqURL); len(got) != 13 {
		t.Errorf("after peeking, %d of 13 messages are visible", len(got))
	}
}

func TestDecodeJob(t *testing.T) {
	for body, ok := range map[string]bool{
		queuetest.Body(1):          true,
		`{"job_id":""}`:            false,
		`{"control_key":"x"}`:      false,
		`[1,2]`:                    false,
		`{"job_id":"a"} trailing`:  false,
		`not json`:                 false,
		`{"job_id":"a","extra":1}`: true,
	} {
		if _, got := queue.DecodeJob(body); got != ok {
			t.Errorf("DecodeJob(%q) = %v, want %v", body, got, ok)
		}
	}
}

// redeliver hands a message that was already received out again, as a
// standard queue may (at-least-once delivery).
type redeliver struct {
	queue.API
	mu    sync.Mutex
	calls int
	first *types.Message
}

func (r *redeliver) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, o ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	out, err := r.API.ReceiveMessage(ctx, in, o...)
	if err != nil {
		return out, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	switch {
	case r.calls == 1 && len(out.Messages) > 0:
		m := out.Messages[0]
		r.first = &m
	case r.calls == 4 && r.first != nil && len(out.Messages) > 0:
		out.Messages = append(out.Messages, *r.first)
	}
	return out, nil
}

func TestRedriveSendsARedeliveredMessageOnce(t *testing.T) {
	t.Parallel()
	api := awstest.SQS(t)
	mainURL, dlqURL := newQueues(t, api)
	queuetest.Seed(t, api, dlqURL, 60)
	res, err := queue.Redrive(context.Background(), &redeliver{API: api}, queue.RedriveOptions{SourceURL: dlqURL, DestinationURL: mainURL, Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Moved != 60 {
		t.Errorf("moved %d, want 60", res.Moved)
	}
	queuetest.CheckExactlyOnce(t, queuetest.Drain(t, api, mainURL), queuetest.Range(0, 60))
}
