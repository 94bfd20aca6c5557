package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// Defaults of RedriveOptions.
const (
	DefaultConcurrency       = 8
	MaxConcurrency           = 64
	DefaultVisibilityTimeout = 60 // seconds a received message stays hidden while it is moved
	DefaultEmptyWait         = 1  // seconds of long poll that confirm the source is drained
	DefaultFinishTimeout     = 15 * time.Second
	DefaultSendAttempts      = 4
	DefaultPollInterval      = time.Second
	MaxNativeRate            = 500 // SQS's ceiling on MaxNumberOfMessagesPerSecond

	// maxBatchBytes bounds the payload of one SendMessageBatch. SQS allows
	// 256 KiB (1 MiB since 2025); the lower figure works everywhere.
	maxBatchBytes = 256 * 1024
	// maxFailures bounds the failures a result lists (the counts are exact).
	maxFailures = 20
)

// Modes of a redrive.
const (
	ModeClient = "client" // receive, send, delete from this process
	ModeNative = "native" // an SQS message-move task
)

// RedriveOptions say what to move and how.
type RedriveOptions struct {
	SourceURL      string // the DLQ
	DestinationURL string // the main queue

	// Max bounds how many messages are taken from the source; 0 takes all.
	// A message that fails to move still counts against it. Client mode only:
	// SQS move tasks cannot be limited to a number of messages.
	Max int
	// Concurrency is how many receive→send→delete loops run at once
	// (client mode; default DefaultConcurrency).
	Concurrency int
	// VisibilityTimeout (seconds) hides a received message while it is
	// being moved, and hides failed messages until the run ends, so that no
	// run retries a failing message forever (default 60).
	VisibilityTimeout int32
	// EmptyWait (seconds) is the long poll that confirms the source is
	// empty after a short poll returned nothing (default 1).
	EmptyWait int32
	// FinishTimeout bounds how long batches already being sent may take to
	// finish once ctx is cancelled (default 15s).
	FinishTimeout time.Duration
	// SendAttempts bounds the sends of an entry that SQS failed without
	// blaming the request (default 4).
	SendAttempts int

	// DryRun reads queue attributes only and reports what would move.
	DryRun bool

	// Native starts an SQS message-move task instead of moving messages
	// from this process, and follows it to the end.
	Native bool
	// MaxPerSecond is the move task's MaxNumberOfMessagesPerSecond
	// (1–500; 0 lets SQS choose). Native mode only.
	MaxPerSecond int32
	// PollInterval is how often a move task is polled (default 1s).
	PollInterval time.Duration

	// OnProgress, when set, is called after each batch (client mode) or
	// poll (native mode). Calls never overlap.
	OnProgress func(RedriveProgress)
}

// RedriveProgress is a running count.
type RedriveProgress struct {
	Moved  int
	Failed int
}

// Failure says why one message was not moved (or not removed).
type Failure struct {
	MessageID string `json:"message_id"`
	Stage     string `json:"stage"` // "send" or "delete"
	Code      string `json:"code,omitempty"`
	Reason    string `json:"reason"`
}

// RedriveResult is what a redrive did.
type RedriveResult struct {
	Mode           string `json:"mode"`
	DryRun         bool   `json:"dry_run"`
	Source         string `json:"source"`
	SourceURL      string `json:"source_url"`
	Destination    string `json:"destination"`
	DestinationURL string `json:"destination_url"`
	Max            int    `json:"max,omitempty"`

	// Before the run, approximately: messages that can be moved (visible or
	// about to be), and messages in flight (received by someone, hidden).
	Available int `json:"available"`
	InFlight  int `json:"in_flight"`
	// WouldMove is the dry run's answer (approximate).
	WouldMove int `json:"would_move,omitempty"`

	// Moved were sent to the destination and deleted from the source.
	Moved int `json:"moved"`
	// Failed were not sent (or their send outcome is unknown) and remain in
	// the source.
	Failed int `json:"failed"`
	// Duplicated were sent but could not be deleted from the source: they
	// are now in both queues.
	Duplicated int `json:"duplicated"`
	// Left is the approximate number of messages in the source afterwards
	// (nil when it could not be read).
	Left *int `json:"left"`

	Interrupted    bool      `json:"interrupted"`
	Failures       []Failure `json:"failures,omitempty"`
	ElapsedSeconds float64   `json:"elapsed_seconds"`
	// TaskHandle names the SQS move task (native mode).
	TaskHandle string `json:"task_handle,omitempty"`
}

// Rate is messages moved per second.
func (r RedriveResult) Rate() float64 {
	if r.ElapsedSeconds <= 0 {
		return 0
	}
	return float64(r.Moved) / r.ElapsedSeconds
}

// ErrMoveTaskRunning is returned when the source already has a running
// message-move task.
var ErrMoveTaskRunning = errors.New("a message move task is already running on this queue")

// Redrive moves messages from the source queue (the DLQ) to the destination
// queue (the main queue).
//
// In client mode (the default) it receives batches of ten, sends each batch
// to the destination with body, message attributes and trace header intact,
// and only then deletes from the source the messages whose send succeeded.
// Entries SQS fails are retried while that can help, else left in the
// source; a message whose send outcome is unknown is never deleted. Batches
// run in Concurrency loops. When ctx is cancelled no new batch is received,
// a received batch not yet sent is released, and batches being sent finish
// (within FinishTimeout) so their messages are deleted exactly when sent;
// the result then has Interrupted set and the error is ctx's.
//
// In native mode it starts an SQS message-move task and follows it; a
// cancelled ctx cancels the task.
func Redrive(ctx context.Context, api API, o RedriveOptions) (RedriveResult, error) {
	start := time.Now()
	res := RedriveResult{Mode: ModeClient, DryRun: o.DryRun, SourceURL: o.SourceURL, DestinationURL: o.DestinationURL,
		Source: NameFromURL(o.SourceURL), Destination: NameFromURL(o.DestinationURL), Max: o.Max}
	if o.Native {
		res.Mode = ModeNative
	}
	if err := o.validate(); err != nil {
		return res, err
	}
	src, err := GetStats(ctx, api, o.SourceURL)
	if err != nil {
		return res, err
	}
	dst, err := GetStats(ctx, api, o.DestinationURL)
	if err != nil {
		return res, err
	}
	// Delayed messages become receivable within DelaySeconds: count them.
	res.Available, res.InFlight = src.Visible+src.Delayed, src.InFlight
	if task, err := RunningMoveTask(ctx, api, src.ARN); err != nil && !errors.Is(err, ErrMoveTasksUnsupported) {
		return res, err
	} else if task != nil {
		return res, fmt.Errorf("%w: %s is being moved by task started %s (%d moved so far); wait for it, or cancel it with `aws sqs cancel-message-move-task --task-handle %s`",
			ErrMoveTaskRunning, src.Name, task.Started.Format(time.RFC3339), task.Moved, task.Handle)
	}
	if o.DryRun {
		res.WouldMove = res.Available
		if o.Max > 0 {
			res.WouldMove = min(o.Max, res.Available)
		}
		left := src.Total()
		res.Left = &left
		res.ElapsedSeconds = time.Since(start).Seconds()
		return res, nil
	}
	if o.Native {
		err = nativeRedrive(ctx, api, o, src.ARN, dst.ARN, &res)
	} else {
		err = clientRedrive(ctx, api, o, &res)
	}
	res.ElapsedSeconds = time.Since(start).Seconds()
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if after, serr := GetStats(lctx, api, o.SourceURL); serr == nil {
		left := after.Total()
		res.Left = &left
	}
	return res, err
}

func (o *RedriveOptions) validate() error {
	switch {
	case o.SourceURL == "" || o.DestinationURL == "":
		return errors.New("redrive needs both a source and a destination queue")
	case o.SourceURL == o.DestinationURL:
		return fmt.Errorf("source and destination are the same queue (%s)", NameFromURL(o.SourceURL))
	case o.Max < 0:
		return fmt.Errorf("max must be 0 (all) or more, not %d", o.Max)
	case o.Concurrency < 0 || o.Concurrency > MaxConcurrency:
		return fmt.Errorf("concurrency must be between 1 and %d, not %d", MaxConcurrency, o.Concurrency)
	case o.Native && o.Max > 0:
		return errors.New("an SQS move task cannot be limited to a number of messages; use client mode for max")
	case o.MaxPerSecond < 0 || o.MaxPerSecond > MaxNativeRate:
		return fmt.Errorf("max messages per second must be between 1 and %d, not %d", MaxNativeRate, o.MaxPerSecond)
	case !o.Native && o.MaxPerSecond > 0:
		return errors.New("a messages-per-second rate applies to native (move task) redrives only")
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.VisibilityTimeout <= 0 {
		o.VisibilityTimeout = DefaultVisibilityTimeout
	}
	if o.EmptyWait <= 0 {
		o.EmptyWait = DefaultEmptyWait
	}
	if o.FinishTimeout <= 0 {
		o.FinishTimeout = DefaultFinishTimeout
	}
	if o.SendAttempts <= 0 {
		o.SendAttempts = DefaultSendAttempts
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	return nil
}

// mover is the shared state of one client-mode redrive.
type mover struct {
	api API
	o   RedriveOptions
	res *RedriveResult

	mu       sync.Mutex
	budget   int               // messages that may still be taken; <0: unlimited
	held     map[string]string // message id → receipt handle of messages not moved, released at the end
	sent     map[string]bool   // ids of messages this run has sent
	progress sync.Mutex        // serialises OnProgress
}

func clientRedrive(ctx context.Context, api API, o RedriveOptions, res *RedriveResult) error {
	m := &mover{api: api, o: o, res: res, budget: -1, held: map[string]string{}, sent: map[string]bool{}}
	if o.Max > 0 {
		m.budget = o.Max
	}
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Go(func() {
			if err := m.loop(runCtx); err != nil {
				stop(err)
			}
		})
	}
	wg.Wait()
	m.releaseHeld(ctx)
	if err := ctx.Err(); err != nil {
		res.Interrupted = true
		return err
	}
	if err := context.Cause(runCtx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// loop receives and moves batches until the source is drained, the budget
// is spent, ctx is cancelled or a call fails outright.
func (m *mover) loop(ctx context.Context) error {
	wait := int32(0)
	for ctx.Err() == nil {
		n := m.reserve()
		if n == 0 {
			return nil
		}
		msgs, err := m.receive(ctx, n, wait)
		if err != nil {
			m.unreserve(n)
			return err
		}
		msgs, again := m.fresh(msgs)
		m.unreserve(n - len(msgs))
		if len(again) > 0 {
			// SQS delivered a message this run already sent (standard queues
			// deliver at least once): remove the copy, do not send it twice.
			m.deleteRedelivered(ctx, again)
		}
		if ctx.Err() != nil {
			// Received after the stop: abandon the batch, visibly.
			m.hold(msgs)
			return nil
		}
		if len(msgs) == 0 {
			if wait == 0 {
				wait = m.o.EmptyWait // a short poll can miss messages; confirm with a long one
				continue
			}
			return nil
		}
		wait = 0
		if err := m.move(ctx, msgs); err != nil {
			return err
		}
	}
	return nil
}

func (m *mover) reserve() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.budget < 0 {
		return MaxBatch
	}
	n := min(MaxBatch, m.budget)
	m.budget -= n
	return n
}

func (m *mover) unreserve(n int) {
	if n <= 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.budget >= 0 {
		m.budget += n
	}
}

// receive runs on a context detached from cancellation: a receive that has
// started completes, so no message is left hidden by a request whose answer
// was thrown away.
func (m *mover) receive(ctx context.Context, n int, wait int32) ([]types.Message, error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Duration(wait)*time.Second+m.o.FinishTimeout)
	defer cancel()
	out, err := m.api.ReceiveMessage(rctx, receiveInput(m.o.SourceURL, int32(n), m.o.VisibilityTimeout, wait))
	if err != nil {
		return nil, fmt.Errorf("receiving from %s: %w", NameFromURL(m.o.SourceURL), err)
	}
	return out.Messages, nil
}

// fresh sorts a received batch: messages to move, and messages this run
// already sent (delivered again). Messages that already failed in this run
// (back after their visibility timeout) are dropped, keeping their newest
// receipt handle for the release at the end.
func (m *mover) fresh(msgs []types.Message) (move, again []types.Message) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, msg := range msgs {
		id := aws.ToString(msg.MessageId)
		switch _, failed := m.held[id]; {
		case failed:
			m.held[id] = aws.ToString(msg.ReceiptHandle)
		case m.sent[id]:
			again = append(again, msg)
		default:
			move = append(move, msg)
		}
	}
	return move, again
}

// deleteRedelivered deletes copies of messages already sent, best effort:
// a copy that stays is moved by the next run, as SQS's at-least-once
// delivery allows.
func (m *mover) deleteRedelivered(ctx context.Context, msgs []types.Message) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.o.FinishTimeout)
	defer cancel()
	entries := make([]types.DeleteMessageBatchRequestEntry, len(msgs))
	for i, msg := range msgs {
		entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: msg.ReceiptHandle}
	}
	_, _ = m.api.DeleteMessageBatch(dctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(m.o.SourceURL), Entries: entries})
}

func (m *mover) markSent(msg types.Message) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent[aws.ToString(msg.MessageId)] = true
}

// hold keeps messages that were not moved, to be made visible at the end.
func (m *mover) hold(msgs []types.Message) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, msg := range msgs {
		m.held[aws.ToString(msg.MessageId)] = aws.ToString(msg.ReceiptHandle)
	}
}

func (m *mover) releaseHeld(ctx context.Context) {
	handles := make([]string, 0, len(m.held))
	for _, h := range m.held {
		handles = append(handles, h)
	}
	if len(handles) == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.o.FinishTimeout)
	defer cancel()
	// Best effort: a message not released reappears after VisibilityTimeout.
	_, _ = changeVisibility(rctx, m.api, m.o.SourceURL, handles, 0)
}

func (m *mover) fail(msg types.Message, stage, code, reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if stage == "send" {
		m.res.Failed++
		m.held[aws.ToString(msg.MessageId)] = aws.ToString(msg.ReceiptHandle)
	} else {
		m.res.Duplicated++
	}
	if len(m.res.Failures) < maxFailures {
		m.res.Failures = append(m.res.Failures, Failure{MessageID: aws.ToString(msg.MessageId), Stage: stage, Code: code, Reason: reason})
	}
}

// moved counts n more messages moved and reports progress. The snapshot is
// taken under the progress lock, so reports arrive in order.
func (m *mover) moved(n int) {
	m.progress.Lock()
	defer m.progress.Unlock()
	m.mu.Lock()
	m.res.Moved += n
	p := RedriveProgress{Moved: m.res.Moved, Failed: m.res.Failed}
	m.mu.Unlock()
	if m.o.OnProgress != nil {
		m.o.OnProgress(p)
	}
}

// move sends a batch and deletes what was sent. It runs on a context
// detached from cancellation, bounded by FinishTimeout, so an interrupted
// run never leaves a sent message undeleted for want of time; retries of
// failed entries stop as soon as ctx is cancelled.
func (m *mover) move(ctx context.Context, msgs []types.Message) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.o.FinishTimeout)
	defer cancel()
	sent, err := m.sendAll(ctx, wctx, msgs)
	derr := m.deleteAll(wctx, sent)
	m.moved(0) // report failures even when nothing moved
	if err != nil {
		return err
	}
	return derr
}

// sendAll sends msgs, retrying entries SQS failed through no fault of the
// request. It returns the messages SQS confirmed. Everything else is
// recorded as failed and held, never deleted.
func (m *mover) sendAll(ctx, wctx context.Context, msgs []types.Message) ([]types.Message, error) {
	var sent []types.Message
	pending := msgs
	for attempt := 1; len(pending) > 0; attempt++ {
		ok, retry, err := m.sendOnce(wctx, pending)
		sent = append(sent, ok...)
		if err != nil {
			return sent, err
		}
		if len(retry) == 0 {
			break
		}
		if attempt >= m.o.SendAttempts || ctx.Err() != nil || !sleep(ctx, time.Duration(50<<attempt)*time.Millisecond) {
			for _, r := range retry {
				m.fail(r.msg, "send", r.code, r.reason+" (gave up after "+strconv.Itoa(attempt)+" attempts)")
			}
			break
		}
		pending = pending[:0:0]
		for _, r := range retry {
			pending = append(pending, r.msg)
		}
	}
	return sent, nil
}

type retryEntry struct {
	msg          types.Message
	code, reason string
}

// sendOnce sends msgs in as few SendMessageBatch calls as the size limit
// allows. A call that fails outright stops the batch: the send outcome of
// its messages is unknown (or, for an error SQS returned, they were not
// sent), so they are held, never deleted and not retried; later chunks are
// not attempted.
func (m *mover) sendOnce(ctx context.Context, msgs []types.Message) (sent []types.Message, retry []retryEntry, err error) {
	chunks := packBySize(msgs)
	for c, chunk := range chunks {
		entries := make([]types.SendMessageBatchRequestEntry, len(chunk))
		for i, msg := range chunk {
			entries[i] = types.SendMessageBatchRequestEntry{
				Id:                aws.String(strconv.Itoa(i)),
				MessageBody:       msg.Body,
				MessageAttributes: copyAttributes(msg.MessageAttributes),
			}
			if th := msg.Attributes[string(types.MessageSystemAttributeNameAWSTraceHeader)]; th != "" {
				entries[i].MessageSystemAttributes = map[string]types.MessageSystemAttributeValue{
					string(types.MessageSystemAttributeNameForSendsAWSTraceHeader): {DataType: aws.String("String"), StringValue: aws.String(th)},
				}
			}
		}
		out, cerr := m.api.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(m.o.DestinationURL), Entries: entries})
		if cerr != nil {
			reason, code := "send outcome unknown, so it was not deleted: "+cerr.Error(), ""
			var apiErr smithy.APIError
			if errors.As(cerr, &apiErr) {
				reason, code = "not sent: "+apiErr.ErrorMessage(), apiErr.ErrorCode()
			}
			for _, msg := range chunk {
				m.fail(msg, "send", code, reason)
			}
			for _, later := range chunks[c+1:] {
				for _, msg := range later {
					m.fail(msg, "send", "", "not sent: the run stopped after an earlier send failed")
				}
			}
			for _, r := range retry {
				m.fail(r.msg, "send", r.code, r.reason)
			}
			return sent, nil, fmt.Errorf("sending to %s: %w", NameFromURL(m.o.DestinationURL), cerr)
		}
		done := make([]bool, len(chunk))
		for _, s := range out.Successful {
			if i, ok := entryIndex(s.Id, len(chunk)); ok && !done[i] {
				done[i] = true
				sent = append(sent, chunk[i])
				m.markSent(chunk[i])
			}
		}
		for _, f := range out.Failed {
			i, ok := entryIndex(f.Id, len(chunk))
			if !ok || done[i] {
				continue
			}
			done[i] = true
			if f.SenderFault {
				m.fail(chunk[i], "send", aws.ToString(f.Code), aws.ToString(f.Message))
			} else {
				retry = append(retry, retryEntry{msg: chunk[i], code: aws.ToString(f.Code), reason: aws.ToString(f.Message)})
			}
		}
		for i, d := range done {
			if !d {
				m.fail(chunk[i], "send", "", "SQS reported neither success nor failure; send outcome unknown, so it was not deleted")
			}
		}
	}
	return sent, retry, nil
}

// deleteAll deletes sent messages from the source, retrying entries SQS
// fails. Those it cannot delete are now in both queues.
func (m *mover) deleteAll(ctx context.Context, sent []types.Message) error {
	for start := 0; start < len(sent); start += MaxBatch {
		pending := sent[start:min(start+MaxBatch, len(sent))]
		for attempt := 1; len(pending) > 0; attempt++ {
			entries := make([]types.DeleteMessageBatchRequestEntry, len(pending))
			for i, msg := range pending {
				entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: msg.ReceiptHandle}
			}
			out, err := m.api.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(m.o.SourceURL), Entries: entries})
			if err != nil {
				for _, msg := range slices.Concat(pending, sent[min(start+MaxBatch, len(sent)):]) {
					m.fail(msg, "delete", "", "sent, but deleting it from the source failed: "+err.Error())
				}
				return fmt.Errorf("deleting moved messages from %s: %w", NameFromURL(m.o.SourceURL), err)
			}
			m.moved(len(pending) - len(out.Failed))
			var again []types.Message
			for _, f := range out.Failed {
				i, ok := entryIndex(f.Id, len(pending))
				if !ok {
					continue
				}
				if f.SenderFault || attempt >= 3 {
					m.fail(pending[i], "delete", aws.ToString(f.Code), "sent, but not deleted from the source: "+aws.ToString(f.Message))
					continue
				}
				again = append(again, pending[i])
			}
			pending = again
		}
	}
	return nil
}

func entryIndex(id *string, n int) (int, bool) {
	i, err := strconv.Atoi(aws.ToString(id))
	return i, err == nil && i >= 0 && i < n
}

// packBySize splits msgs into batches of at most ten whose payload stays
// under maxBatchBytes. A single larger message travels alone.
func packBySize(msgs []types.Message) [][]types.Message {
	var out [][]types.Message
	var cur []types.Message
	size := 0
	for _, msg := range msgs {
		s := sizeOf(msg)
		if len(cur) > 0 && (len(cur) == MaxBatch || size+s > maxBatchBytes) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, msg)
		size += s
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// sleep waits d unless ctx ends first; it reports whether it slept.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
