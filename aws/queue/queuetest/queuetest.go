// Package queuetest seeds and drains queues on the local-aws-sqs emulator for
// the tests of aws/queue and commands/dlq. It is imported by tests only.
package queuetest

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/nexus-compliance/nexus/aws/awstest"
	"github.com/nexus-compliance/nexus/aws/queue"
)

// Queues creates a fresh main queue and DLQ with the Nexus settings (through
// queue.EnsureQueues) and returns their URLs.
func Queues(t testing.TB, api queue.API) (mainURL, dlqURL string) {
	t.Helper()
	res, err := queue.EnsureQueues(context.Background(), api, awstest.UniqueName(t, "main"), awstest.UniqueName(t, "dlq"))
	if err != nil {
		t.Fatalf("EnsureQueues: %v", err)
	}
	return res[1].URL, res[0].URL
}

// Body is the body of the i-th seeded message: a Nexus job message.
func Body(i int) string {
	return fmt.Sprintf(`{"job_id":"job-%05d","control_key":"AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED","target_framework_key":"NIST-SP-800-53#R5","target_control_ids":["AC-1","AC-2"]}`, i)
}

// Attributes are the message attributes of the i-th seeded message: every
// data type, including custom ones and bytes that are not valid UTF-8.
func Attributes(i int) map[string]types.MessageAttributeValue {
	return map[string]types.MessageAttributeValue{
		"source":  {DataType: aws.String("String"), StringValue: aws.String("nexus-test ✓ " + strconv.Itoa(i))},
		"attempt": {DataType: aws.String("Number"), StringValue: aws.String(strconv.Itoa(i) + ".5")},
		"tenant":  {DataType: aws.String("String.tenant"), StringValue: aws.String("acme")},
		"payload": {DataType: aws.String("Binary"), BinaryValue: []byte{byte(i), 0, 0xff, 0xfe, byte(i >> 8)}},
		"digest":  {DataType: aws.String("Binary.sha"), BinaryValue: []byte(fmt.Sprintf("d%d\x00\x80", i))},
	}
}

// Seed sends n messages (Body(i), Attributes(i) for i in [0, n)) to url and
// returns the bodies.
func Seed(t testing.TB, api queue.API, url string, n int) []string {
	t.Helper()
	return SeedFrom(t, api, url, 0, n)
}

// SeedFrom is Seed for i in [from, from+n).
func SeedFrom(t testing.TB, api queue.API, url string, from, n int) []string {
	t.Helper()
	bodies := make([]string, n)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, 8)
	)
	for start := 0; start < n; start += queue.MaxBatch {
		end := min(start+queue.MaxBatch, n)
		entries := make([]types.SendMessageBatchRequestEntry, 0, end-start)
		for i := start; i < end; i++ {
			bodies[i] = Body(from + i)
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i - start)), MessageBody: aws.String(bodies[i]), MessageAttributes: Attributes(from + i)})
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out, err := api.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
			if err == nil && len(out.Failed) > 0 {
				err = fmt.Errorf("%d entries failed: %s", len(out.Failed), aws.ToString(out.Failed[0].Message))
			}
			if err != nil {
				mu.Lock()
				first = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first != nil {
		t.Fatalf("seeding %s: %v", queue.NameFromURL(url), first)
	}
	return bodies
}

// Drain receives every message visible in url, hiding each for five minutes
// so none is received twice, and returns them. It stops after two empty
// receives in a row.
func Drain(t testing.TB, api queue.API, url string) []types.Message {
	t.Helper()
	var out []types.Message
	empty := 0
	for empty < 2 {
		res, err := api.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 300,
			MessageAttributeNames: []string{"All"},
			AttributeNames:        []types.QueueAttributeName{types.QueueAttributeNameAll}, //nolint:staticcheck
		})
		if err != nil {
			t.Fatalf("draining %s: %v", queue.NameFromURL(url), err)
		}
		if len(res.Messages) == 0 {
			empty++
			continue
		}
		empty = 0
		out = append(out, res.Messages...)
	}
	return out
}

// Bodies returns the sorted bodies of msgs.
func Bodies(msgs []types.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = aws.ToString(m.Body)
	}
	sort.Strings(out)
	return out
}

// CheckExactlyOnce fails the test unless msgs are exactly the seeded
// messages with indices in want, each once, with their attributes intact.
func CheckExactlyOnce(t testing.TB, msgs []types.Message, want []int) {
	t.Helper()
	byBody := map[string]int{}
	for _, i := range want {
		byBody[Body(i)] = i
	}
	seen := map[string]int{}
	bad := 0
	for _, m := range msgs {
		body := aws.ToString(m.Body)
		seen[body]++
		i, ok := byBody[body]
		if !ok {
			t.Errorf("unexpected message %q", body)
			bad++
		} else if err := SameAttributes(Attributes(i), m.MessageAttributes); err != nil {
			t.Errorf("message %d: %v", i, err)
			bad++
		}
		if bad > 5 {
			t.Fatalf("too many bad messages")
		}
	}
	for body, n := range seen {
		if n > 1 {
			t.Errorf("message %q arrived %d times", body, n)
		}
	}
	if len(seen) != len(byBody) {
		t.Errorf("got %d distinct messages, want %d", len(seen), len(byBody))
	}
}

// SameAttributes compares message attributes exactly: type, string and bytes.
func SameAttributes(want, got map[string]types.MessageAttributeValue) error {
	if len(want) != len(got) {
		return fmt.Errorf("%d attributes, want %d (%v)", len(got), len(want), keys(got))
	}
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			return fmt.Errorf("attribute %s missing", k)
		case aws.ToString(g.DataType) != aws.ToString(w.DataType):
			return fmt.Errorf("attribute %s has type %q, want %q", k, aws.ToString(g.DataType), aws.ToString(w.DataType))
		case aws.ToString(g.StringValue) != aws.ToString(w.StringValue):
			return fmt.Errorf("attribute %s is %q, want %q", k, aws.ToString(g.StringValue), aws.ToString(w.StringValue))
		case !bytes.Equal(g.BinaryValue, w.BinaryValue):
			return fmt.Errorf("attribute %s is %x, want %x", k, g.BinaryValue, w.BinaryValue)
		}
	}
	return nil
}

func keys(m map[string]types.MessageAttributeValue) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Range returns [from, to).
func Range(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// Eventually retries check every 50ms until it passes or d elapses.
func Eventually(t testing.TB, d time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
