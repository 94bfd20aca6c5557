package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// nativeRedrive starts an SQS message-move task from the source to the
// destination and polls it until it ends. Cancelling ctx cancels the task.
func nativeRedrive(ctx context.Context, api API, o RedriveOptions, srcARN, dstARN string, res *RedriveResult) error {
	in := &sqs.StartMessageMoveTaskInput{SourceArn: aws.String(srcARN), DestinationArn: aws.String(dstARN)}
	if o.MaxPerSecond > 0 {
		in.MaxNumberOfMessagesPerSecond = aws.Int32(o.MaxPerSecond)
	}
	started := time.Now()
	out, err := api.StartMessageMoveTask(ctx, in)
	if err != nil {
		return fmt.Errorf("starting a move task from %s to %s: %w", res.Source, res.Destination, err)
	}
	res.TaskHandle = aws.ToString(out.TaskHandle)
	last := -1
	for {
		task, err := findTask(ctx, api, srcARN, dstARN, res.TaskHandle, started)
		if err != nil && ctx.Err() == nil {
			return err
		}
		if task != nil {
			res.Moved = int(task.Moved)
			if o.OnProgress != nil && res.Moved != last {
				last = res.Moved
				o.OnProgress(RedriveProgress{Moved: res.Moved})
			}
			switch task.Status {
			case TaskCompleted:
				return nil
			case TaskFailed:
				return fmt.Errorf("move task from %s failed after moving %d messages: %s", res.Source, task.Moved, task.FailureReason)
			case TaskCancelled:
				res.Interrupted = true
				return fmt.Errorf("move task from %s was cancelled after moving %d messages", res.Source, task.Moved)
			}
		}
		if !sleep(ctx, o.PollInterval) || ctx.Err() != nil {
			res.Interrupted = true
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.FinishTimeout)
			defer cancel()
			c, cerr := api.CancelMessageMoveTask(cctx, &sqs.CancelMessageMoveTaskInput{TaskHandle: aws.String(res.TaskHandle)})
			if cerr != nil {
				return fmt.Errorf("%w; cancelling move task %s also failed (it may still be running): %v", ctx.Err(), res.TaskHandle, cerr)
			}
			res.Moved = int(c.ApproximateNumberOfMessagesMoved)
			return ctx.Err()
		}
	}
}

// findTask finds our task among the source's recent tasks: by handle while
// it runs, else (SQS drops the handle of finished tasks) the newest task to
// the same destination started no earlier than ours.
func findTask(ctx context.Context, api API, srcARN, dstARN, handle string, started time.Time) (*MoveTask, error) {
	tasks, err := ListMoveTasks(ctx, api, srcARN)
	if err != nil {
		return nil, err
	}
	for _, t := range tasks {
		if t.Handle == handle {
			return &t, nil
		}
	}
	for _, t := range tasks {
		if t.DestinationARN == dstARN && !t.Started.Before(started.Add(-5*time.Second)) {
			return &t, nil
		}
	}
	return nil, nil
}
