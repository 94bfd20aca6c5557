package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/nexus-compliance/nexus/pipeline"
)

// Attribute is one message attribute as received.
type Attribute struct {
	DataType    string `json:"data_type"`
	StringValue string `json:"string_value,omitempty"`
	BinaryValue []byte `json:"binary_value,omitempty"` // base64 in JSON
}

// Message is a received message with its system attributes decoded and its
// body decoded as a Nexus job message when it is one.
type Message struct {
	ID            string               `json:"message_id"`
	Body          string               `json:"body"`
	Job           *pipeline.JobMessage `json:"job,omitempty"` // nil: the body is not a job message
	ReceiveCount  int                  `json:"receive_count"`
	FirstReceived time.Time            `json:"first_received,omitzero"`
	Sent          time.Time            `json:"sent,omitzero"`
	Attributes    map[string]Attribute `json:"attributes,omitempty"`
}

// DecodeJob decodes a message body as the job message the async API
// publishes. It reports false for anything else (not JSON, not an object,
// no job_id), which callers show raw.
func DecodeJob(body string) (*pipeline.JobMessage, bool) {
	var m pipeline.JobMessage
	dec := json.NewDecoder(strings.NewReader(body))
	if err := dec.Decode(&m); err != nil || dec.More() || strings.TrimSpace(m.JobID) == "" {
		return nil, false
	}
	return &m, true
}

// receiveInput asks for every system and message attribute, naming system
// attributes both the current way (MessageSystemAttributeNames) and the older
// one (AttributeNames), since some SQS implementations honour only one.
func receiveInput(url string, max, visibility, wait int32) *sqs.ReceiveMessageInput {
	return &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(url),
		MaxNumberOfMessages:         max,
		VisibilityTimeout:           visibility,
		WaitTimeSeconds:             wait,
		MessageAttributeNames:       []string{"All"},
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		AttributeNames:              []types.QueueAttributeName{types.QueueAttributeNameAll}, //nolint:staticcheck // deliberately both
	}
}

func decodeMessage(m types.Message) Message {
	msg := Message{
		ID:            aws.ToString(m.MessageId),
		Body:          aws.ToString(m.Body),
		ReceiveCount:  atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)]),
		FirstReceived: epochMillis(m.Attributes[string(types.MessageSystemAttributeNameApproximateFirstReceiveTimestamp)]),
		Sent:          epochMillis(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)]),
	}
	msg.Job, _ = DecodeJob(msg.Body)
	if len(m.MessageAttributes) > 0 {
		msg.Attributes = make(map[string]Attribute, len(m.MessageAttributes))
		for k, v := range m.MessageAttributes {
			msg.Attributes[k] = Attribute{DataType: aws.ToString(v.DataType), StringValue: aws.ToString(v.StringValue), BinaryValue: v.BinaryValue}
		}
	}
	return msg
}

// Peek returns up to n messages of a queue without consuming them: they are
// received (which SQS counts as a receive), held invisible until all n are
// read so none is read twice, and then made visible again at once. The
// restore runs even when ctx is cancelled.
func Peek(ctx context.Context, api API, url string, n int) ([]Message, error) {
	if n <= 0 {
		return nil, nil
	}
	var (
		msgs    []Message
		handles []string
		seen    = map[string]bool{}
		recvErr error
	)
	for len(msgs) < n {
		if err := ctx.Err(); err != nil {
			recvErr = err
			break
		}
		out, err := api.ReceiveMessage(ctx, receiveInput(url, int32(min(MaxBatch, n-len(msgs))), 30, 0))
		if err != nil {
			recvErr = fmt.Errorf("receiving from %s: %w", NameFromURL(url), err)
			break
		}
		fresh := 0
		for _, m := range out.Messages {
			handles = append(handles, aws.ToString(m.ReceiptHandle))
			if seen[aws.ToString(m.MessageId)] {
				continue
			}
			seen[aws.ToString(m.MessageId)] = true
			msgs = append(msgs, decodeMessage(m))
			fresh++
		}
		if fresh == 0 {
			break
		}
	}
	restoreCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	failed, err := changeVisibility(restoreCtx, api, url, handles, 0)
	if recvErr != nil {
		return msgs, recvErr
	}
	if err != nil {
		return msgs, fmt.Errorf("making peeked messages visible again: %w", err)
	}
	if failed > 0 {
		return msgs, fmt.Errorf("%d peeked messages could not be made visible again; they reappear within 30 s", failed)
	}
	return msgs, nil
}

// changeVisibility sets the visibility timeout of received messages, in
// batches of ten. It returns how many entries SQS refused.
func changeVisibility(ctx context.Context, api API, url string, handles []string, seconds int32) (int, error) {
	failed := 0
	for start := 0; start < len(handles); start += MaxBatch {
		chunk := handles[start:min(start+MaxBatch, len(handles))]
		entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(chunk))
		for i, h := range chunk {
			entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), ReceiptHandle: aws.String(h), VisibilityTimeout: seconds}
		}
		out, err := api.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(url), Entries: entries})
		if err != nil {
			return failed + len(handles) - start, err
		}
		failed += len(out.Failed)
	}
	return failed, nil
}

// sizeOf is the size SQS counts against the batch payload limit: body plus
// each attribute's name, type and value.
func sizeOf(m types.Message) int {
	n := len(aws.ToString(m.Body))
	for k, v := range m.MessageAttributes {
		n += len(k) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue)) + len(v.BinaryValue)
	}
	return n
}

// copyAttributes returns the message attributes to send, unchanged.
func copyAttributes(in map[string]types.MessageAttributeValue) map[string]types.MessageAttributeValue {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]types.MessageAttributeValue, len(in))
	for k, v := range in {
		out[k] = types.MessageAttributeValue{
			DataType:    v.DataType,
			StringValue: v.StringValue,
			BinaryValue: bytes.Clone(v.BinaryValue),
		}
	}
	return out
}
