// Package queue is nexus's SQS layer: the small set of SQS calls nexus makes
// (resolve, bootstrap, inspect, peek) and the DLQ redrive engine, all typed,
// context-aware and free of terminal concerns. Callers pass any value with
// the methods of API — a *sqs.Client, or a test's wrapper around one.
package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// API is the part of the SQS client this package uses. *sqs.Client
// implements it.
type API interface {
	GetQueueUrl(context.Context, *sqs.GetQueueUrlInput, ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
	CreateQueue(context.Context, *sqs.CreateQueueInput, ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error)
	GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	SetQueueAttributes(context.Context, *sqs.SetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.SetQueueAttributesOutput, error)
	ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	DeleteMessageBatch(context.Context, *sqs.DeleteMessageBatchInput, ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibilityBatch(context.Context, *sqs.ChangeMessageVisibilityBatchInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
	StartMessageMoveTask(context.Context, *sqs.StartMessageMoveTaskInput, ...func(*sqs.Options)) (*sqs.StartMessageMoveTaskOutput, error)
	ListMessageMoveTasks(context.Context, *sqs.ListMessageMoveTasksInput, ...func(*sqs.Options)) (*sqs.ListMessageMoveTasksOutput, error)
	CancelMessageMoveTask(context.Context, *sqs.CancelMessageMoveTaskInput, ...func(*sqs.Options)) (*sqs.CancelMessageMoveTaskOutput, error)
}

var _ API = (*sqs.Client)(nil)

// MaxBatch is the most entries one SQS batch call takes.
const MaxBatch = 10

// NotFoundError says a queue named in the configuration does not exist. It
// unwraps to the SQS error, so exit-code mapping sees QueueDoesNotExist.
type NotFoundError struct {
	Name string
	Err  error
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("queue %q not found\nCreate the queues with `nexus db bootstrap`, or point nexus at existing ones: "+
		"`nexus config set queue_url URL` / `nexus config set dlq_url URL` (or MAIN_QUEUE_URL / DLQ_URL).", e.Name)
}

func (e *NotFoundError) Unwrap() error { return e.Err }

// IsNotExist reports whether err is SQS saying a queue does not exist.
func IsNotExist(err error) bool {
	var nf *NotFoundError
	if errors.As(err, &nf) {
		return true
	}
	var qdne *types.QueueDoesNotExist
	if errors.As(err, &qdne) {
		return true
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist":
			return true
		}
	}
	return false
}

// Resolve returns the URL of a queue: url when it is set (no call is made),
// else the URL SQS gives for name. A missing queue is a *NotFoundError.
func Resolve(ctx context.Context, api API, url, name string) (string, error) {
	if url != "" {
		return url, nil
	}
	if name == "" {
		return "", errors.New("no queue URL or name configured")
	}
	out, err := api.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		if IsNotExist(err) {
			return "", &NotFoundError{Name: name, Err: err}
		}
		return "", fmt.Errorf("resolving queue %q: %w", name, err)
	}
	return aws.ToString(out.QueueUrl), nil
}

// NameFromURL returns the last path element of a queue URL (its name).
func NameFromURL(url string) string {
	url = strings.TrimRight(url, "/")
	if i := strings.LastIndexByte(url, '/'); i >= 0 {
		return url[i+1:]
	}
	return url
}

// NameFromARN returns the queue name at the end of an SQS ARN.
func NameFromARN(arn string) string {
	if i := strings.LastIndexByte(arn, ':'); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

// attributes fetches the named attributes of a queue (All when none named).
func attributes(ctx context.Context, api API, url string, names ...types.QueueAttributeName) (map[string]string, error) {
	if len(names) == 0 {
		names = []types.QueueAttributeName{types.QueueAttributeNameAll}
	}
	out, err := api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: names})
	if err != nil {
		if IsNotExist(err) {
			return nil, &NotFoundError{Name: NameFromURL(url), Err: err}
		}
		return nil, fmt.Errorf("reading attributes of queue %s: %w", NameFromURL(url), err)
	}
	if out.Attributes == nil {
		return map[string]string{}, nil
	}
	return out.Attributes, nil
}

// ARN returns a queue's ARN.
func ARN(ctx context.Context, api API, url string) (string, error) {
	attrs, err := attributes(ctx, api, url, types.QueueAttributeNameQueueArn)
	if err != nil {
		return "", err
	}
	arn := attrs[string(types.QueueAttributeNameQueueArn)]
	if arn == "" {
		return "", fmt.Errorf("queue %s has no QueueArn attribute", NameFromURL(url))
	}
	return arn, nil
}

// RedrivePolicy is a queue's RedrivePolicy attribute.
type RedrivePolicy struct {
	DeadLetterTargetARN string `json:"dead_letter_target_arn"`
	MaxReceiveCount     int    `json:"max_receive_count"`
}

// ParseRedrivePolicy decodes the RedrivePolicy attribute. SQS writes
// maxReceiveCount as a number or, from some implementations, a string.
func ParseRedrivePolicy(s string) (*RedrivePolicy, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var raw struct {
		DeadLetterTargetArn string          `json:"deadLetterTargetArn"`
		MaxReceiveCount     json.RawMessage `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf("RedrivePolicy %q is not valid JSON: %w", s, err)
	}
	n, err := strconv.Atoi(strings.Trim(string(raw.MaxReceiveCount), `"`))
	if err != nil {
		return nil, fmt.Errorf("RedrivePolicy %q: maxReceiveCount is not a number", s)
	}
	return &RedrivePolicy{DeadLetterTargetARN: raw.DeadLetterTargetArn, MaxReceiveCount: n}, nil
}

// String is the attribute value SQS expects.
func (p RedrivePolicy) String() string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep an ARN placeholder's <region> readable
	_ = enc.Encode(map[string]any{"deadLetterTargetArn": p.DeadLetterTargetARN, "maxReceiveCount": p.MaxReceiveCount})
	return strings.TrimSpace(b.String())
}

// epochMillis parses an SQS timestamp attribute (milliseconds since the epoch).
func epochMillis(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
