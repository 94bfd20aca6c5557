package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// Stats are a queue's approximate depth and settings. SQS counts are
// approximate (eventually consistent); they are never used to decide what is
// moved or deleted.
type Stats struct {
	Name              string         `json:"name"`
	URL               string         `json:"url"`
	ARN               string         `json:"arn"`
	Visible           int            `json:"visible"`
	InFlight          int            `json:"in_flight"`
	Delayed           int            `json:"delayed"`
	OldestAgeSeconds  *int           `json:"oldest_age_seconds"` // nil: SQS did not say
	VisibilityTimeout int            `json:"visibility_timeout_seconds"`
	RetentionSeconds  int            `json:"retention_seconds"`
	DelaySeconds      int            `json:"delay_seconds"`
	Encryption        string         `json:"encryption"` // "sqs-managed", "kms:<key>", "none"
	RedrivePolicy     *RedrivePolicy `json:"redrive_policy,omitempty"`
}

// Total is every message the queue holds, visible or not.
func (s Stats) Total() int { return s.Visible + s.InFlight + s.Delayed }

// GetStats reads a queue's attributes.
func GetStats(ctx context.Context, api API, url string) (Stats, error) {
	attrs, err := attributes(ctx, api, url)
	if err != nil {
		return Stats{}, err
	}
	s := Stats{
		Name:              NameFromURL(url),
		URL:               url,
		ARN:               attrs[string(types.QueueAttributeNameQueueArn)],
		Visible:           atoi(attrs[string(types.QueueAttributeNameApproximateNumberOfMessages)]),
		InFlight:          atoi(attrs[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)]),
		Delayed:           atoi(attrs[string(types.QueueAttributeNameApproximateNumberOfMessagesDelayed)]),
		VisibilityTimeout: atoi(attrs[string(types.QueueAttributeNameVisibilityTimeout)]),
		RetentionSeconds:  atoi(attrs[string(types.QueueAttributeNameMessageRetentionPeriod)]),
		DelaySeconds:      atoi(attrs[string(types.QueueAttributeNameDelaySeconds)]),
		Encryption:        "none",
	}
	// ApproximateAgeOfOldestMessage is a CloudWatch metric; SQS proper does
	// not return it as an attribute, but some implementations do.
	if v, ok := attrs["ApproximateAgeOfOldestMessage"]; ok {
		if n, err := strconv.Atoi(v); err == nil {
			s.OldestAgeSeconds = &n
		}
	}
	if k := attrs[string(types.QueueAttributeNameKmsMasterKeyId)]; k != "" {
		s.Encryption = "kms:" + k
	} else if attrs[string(types.QueueAttributeNameSqsManagedSseEnabled)] == "true" {
		s.Encryption = "sqs-managed"
	}
	if s.RedrivePolicy, err = ParseRedrivePolicy(attrs[string(types.QueueAttributeNameRedrivePolicy)]); err != nil {
		return s, err
	}
	return s, nil
}

// Move task statuses, as SQS reports them.
const (
	TaskRunning    = "RUNNING"
	TaskCompleted  = "COMPLETED"
	TaskCancelling = "CANCELLING"
	TaskCancelled  = "CANCELLED"
	TaskFailed     = "FAILED"
)

// MoveTask is one SQS message-move task (a native redrive).
type MoveTask struct {
	Handle         string    `json:"handle,omitempty"` // only while running
	Status         string    `json:"status"`
	SourceARN      string    `json:"source_arn"`
	DestinationARN string    `json:"destination_arn,omitempty"` // empty: back to the original sources
	Moved          int64     `json:"moved"`
	ToMove         *int64    `json:"to_move,omitempty"`
	MaxPerSecond   *int32    `json:"max_per_second,omitempty"`
	Started        time.Time `json:"started"`
	FailureReason  string    `json:"failure_reason,omitempty"`
}

// Running reports whether the task is still moving messages.
func (t MoveTask) Running() bool { return t.Status == TaskRunning || t.Status == TaskCancelling }

// ErrMoveTasksUnsupported is returned by ListMoveTasks when the SQS endpoint
// does not implement message-move tasks (some emulators).
var ErrMoveTasksUnsupported = errors.New("this SQS endpoint does not support message move tasks")

// ListMoveTasks returns the most recent move tasks (up to 10, newest first)
// whose source is the queue with the given ARN.
func ListMoveTasks(ctx context.Context, api API, sourceARN string) ([]MoveTask, error) {
	out, err := api.ListMessageMoveTasks(ctx, &sqs.ListMessageMoveTasksInput{SourceArn: aws.String(sourceARN), MaxResults: aws.Int32(10)})
	if err != nil {
		var unsupported *types.UnsupportedOperation
		var apiErr smithy.APIError
		if errors.As(err, &unsupported) || (errors.As(err, &apiErr) &&
			(apiErr.ErrorCode() == "InvalidAction" || apiErr.ErrorCode() == "UnknownOperationException")) {
			return nil, fmt.Errorf("%w: %v", ErrMoveTasksUnsupported, err)
		}
		return nil, fmt.Errorf("listing move tasks of %s: %w", NameFromARN(sourceARN), err)
	}
	tasks := make([]MoveTask, 0, len(out.Results))
	for _, r := range out.Results {
		tasks = append(tasks, MoveTask{
			Handle:         aws.ToString(r.TaskHandle),
			Status:         aws.ToString(r.Status),
			SourceARN:      aws.ToString(r.SourceArn),
			DestinationARN: aws.ToString(r.DestinationArn),
			Moved:          r.ApproximateNumberOfMessagesMoved,
			ToMove:         r.ApproximateNumberOfMessagesToMove,
			MaxPerSecond:   r.MaxNumberOfMessagesPerSecond,
			Started:        epochMillis(strconv.FormatInt(r.StartedTimestamp, 10)),
			FailureReason:  aws.ToString(r.FailureReason),
		})
	}
	return tasks, nil
}

// RunningMoveTask returns the running move task of a source queue, if any.
func RunningMoveTask(ctx context.Context, api API, sourceARN string) (*MoveTask, error) {
	tasks, err := ListMoveTasks(ctx, api, sourceARN)
	if err != nil {
		return nil, err
	}
	for _, t := range tasks {
		if t.Running() {
			return &t, nil
		}
	}
	return nil, nil
}
