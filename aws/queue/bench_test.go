package queue_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/nexus-compliance/nexus/aws/awstest"
	"github.com/nexus-compliance/nexus/aws/queue"
	"github.com/nexus-compliance/nexus/aws/queue/queuetest"
)

// BenchmarkRedrive measures DLQ redrive throughput against local-aws-sqs:
// nexus's batched, concurrent client-side move versus the seed Lambda's loop
// (receive one, send one, delete one), on the same number of messages with
// attributes, in the same run. Both are told the count, as the Lambda is.
// ns/op is the batched redrive of one set of messages.
//
//	.ci/emulators.sh go test -run '^$' -bench Redrive -benchtime 1x ./aws/queue/
func BenchmarkRedrive(b *testing.B) {
	const n = 500
	api := awstest.SQS(b)
	ctx := context.Background()
	var batched, serial time.Duration
	for b.Loop() {
		b.StopTimer()
		mainA, dlqA := seeded(b, api, n)
		mainB, dlqB := seeded(b, api, n)
		b.StartTimer()

		start := time.Now()
		res, err := queue.Redrive(ctx, api, queue.RedriveOptions{SourceURL: dlqA, DestinationURL: mainA, Max: n})
		batched += time.Since(start)
		if err != nil || res.Moved != n {
			b.Fatalf("batched redrive: moved %d of %d: %v", res.Moved, n, err)
		}

		b.StopTimer()
		start = time.Now()
		moved, err := oneAtATime(ctx, api, dlqB, mainB, n)
		serial += time.Since(start)
		if err != nil || moved != n {
			b.Fatalf("one-at-a-time redrive: moved %d of %d: %v", moved, n, err)
		}
		b.StartTimer()
	}
	ratio := serial.Seconds() / batched.Seconds()
	total := float64(n * b.N)
	b.ReportMetric(ratio, "x-faster")
	b.ReportMetric(total/batched.Seconds(), "msgs/s")
	b.ReportMetric(total/serial.Seconds(), "serial-msgs/s")
	b.Logf("redrive of %d messages: batched+concurrent %.0f msg/s, one at a time %.0f msg/s: %.1fx faster",
		n, total/batched.Seconds(), total/serial.Seconds(), ratio)
}

// seeded makes a queue pair whose DLQ holds n messages, all receivable.
func seeded(b *testing.B, api *sqs.Client, n int) (mainURL, dlqURL string) {
	mainURL, dlqURL = queuetest.Queues(b, api)
	queuetest.Seed(b, api, dlqURL, n)
	// local-aws-sqs counts a just-sent message as delayed for a moment.
	queuetest.Eventually(b, 5*time.Second, func() error {
		s, err := queue.GetStats(context.Background(), api, dlqURL)
		if err == nil && s.Visible != n {
			err = fmt.Errorf("DLQ shows %d of %d visible", s.Visible, n)
		}
		return err
	})
	return mainURL, dlqURL
}

// oneAtATime is the seed NexusDlqRedriveLambda's loop: receive one message,
// send it, delete it, until max are moved or the DLQ is empty.
func oneAtATime(ctx context.Context, api *sqs.Client, dlqURL, mainURL string, max int) (int, error) {
	moved := 0
	for moved < max {
		out, err := api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlqURL), MaxNumberOfMessages: 1, MessageAttributeNames: []string{"All"}})
		if err != nil {
			return moved, err
		}
		if len(out.Messages) == 0 {
			return moved, nil
		}
		m := out.Messages[0]
		if _, err := api.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(mainURL), MessageBody: m.Body, MessageAttributes: m.MessageAttributes}); err != nil {
			return moved, err
		}
		if _, err := api.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(dlqURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
			return moved, err
		}
		moved++
	}
	return moved, nil
}
