package queue_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/nexus-compliance/nexus/aws/awstest"
	"github.com/nexus-compliance/nexus/aws/queue"
)

func TestEnsureQueues(t *testing.T) {
	api := awstest.SQS(t)
	ctx := context.Background()
	mainName, dlqName := awstest.UniqueName(t, "main"), awstest.UniqueName(t, "dlq")

	plan, err := queue.PlanQueues(ctx, api, mainName, dlqName)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range plan {
		if r.Action != queue.ActionWouldCreate {
			t.Errorf("plan %s: %s, want %s", r.Name, r.Action, queue.ActionWouldCreate)
		}
	}
	if _, err := queue.Resolve(ctx, api, "", dlqName); !queue.IsNotExist(err) {
		t.Fatalf("PlanQueues created something: Resolve err = %v", err)
	}

	res, err := queue.EnsureQueues(ctx, api, mainName, dlqName)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Name != dlqName || res[1].Name != mainName {
		t.Fatalf("resources = %+v", res)
	}
	for _, r := range res {
		if r.Action != queue.ActionCreated || r.URL == "" || r.Kind == "" {
			t.Errorf("first run: %+v", r)
		}
	}
	dlq, err := queue.GetStats(ctx, api, res[0].URL)
	if err != nil {
		t.Fatal(err)
	}
	main, err := queue.GetStats(ctx, api, res[1].URL)
	if err != nil {
		t.Fatal(err)
	}
	if dlq.RetentionSeconds != 1209600 || dlq.Encryption != "sqs-managed" || dlq.RedrivePolicy != nil {
		t.Errorf("DLQ = %+v", dlq)
	}
	if main.VisibilityTimeout != 60 || main.RetentionSeconds != 604800 || main.DelaySeconds != 0 || main.Encryption != "sqs-managed" {
		t.Errorf("main = %+v", main)
	}
	if p := main.RedrivePolicy; p == nil || p.DeadLetterTargetARN != dlq.ARN || p.MaxReceiveCount != 3 {
		t.Errorf("main redrive policy = %+v, want → %s after 3", p, dlq.ARN)
	}

	again, err := queue.EnsureQueues(ctx, api, mainName, dlqName)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range again {
		if r.Action != queue.ActionUnchanged || r.URL != res[i].URL {
			t.Errorf("second run: %+v", r)
		}
	}

	// Drift: someone shortened retention on the DLQ and changed the main
	// queue's visibility timeout and receive count.
	if _, err := api.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(res[0].URL),
		Attributes: map[string]string{"MessageRetentionPeriod": "345600"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(res[1].URL),
		Attributes: map[string]string{"VisibilityTimeout": "30", "RedrivePolicy": queue.RedrivePolicy{DeadLetterTargetARN: dlq.ARN, MaxReceiveCount: 5}.String()}}); err != nil {
		t.Fatal(err)
	}
	plan, err = queue.PlanQueues(ctx, api, mainName, dlqName)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range plan {
		if r.Action != queue.ActionWouldUpdate {
			t.Errorf("plan after drift: %+v", r)
		}
	}
	fixed, err := queue.EnsureQueues(ctx, api, mainName, dlqName)
	if err != nil {
		t.Fatal(err)
	}
	if r := fixed[0]; r.Action != queue.ActionUpdated || !strings.Contains(r.Detail, "MessageRetentionPeriod 345600 → 1209600") {
		t.Errorf("DLQ after drift: %+v", r)
	}
	if r := fixed[1]; r.Action != queue.ActionUpdated || !strings.Contains(r.Detail, "VisibilityTimeout 30 → 60") || !strings.Contains(r.Detail, "RedrivePolicy") {
		t.Errorf("main after drift: %+v", r)
	}
	for _, r := range must(queue.EnsureQueues(ctx, api, mainName, dlqName))(t) {
		if r.Action != queue.ActionUnchanged {
			t.Errorf("after repair: %+v", r)
		}
	}
}

func TestResolve(t *testing.T) {
	api := awstest.SQS(t)
	ctx := context.Background()
	if got, err := queue.Resolve(ctx, api, "http://example/1/q", "ignored"); err != nil || got != "http://example/1/q" {
		t.Errorf("URL given: %q, %v", got, err)
	}
	mainURL, _ := newQueues(t, api)
	if got, err := queue.Resolve(ctx, api, "", queue.NameFromURL(mainURL)); err != nil || got != mainURL {
		t.Errorf("by name: %q, %v; want %q", got, err, mainURL)
	}
	_, err := queue.Resolve(ctx, api, "", "NoSuchQueue-nexus")
	var nf *queue.NotFoundError
	if !errors.As(err, &nf) || nf.Name != "NoSuchQueue-nexus" {
		t.Fatalf("missing queue: %v", err)
	}
	for _, hint := range []string{"nexus db bootstrap", "nexus config set dlq_url"} {
		if !strings.Contains(err.Error(), hint) {
			t.Errorf("error %q does not mention %q", err, hint)
		}
	}
	if !queue.IsNotExist(err) {
		t.Error("IsNotExist(NotFoundError) = false")
	}
}

func TestParseRedrivePolicy(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want *queue.RedrivePolicy
	}{
		{`{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:d","maxReceiveCount":3}`, &queue.RedrivePolicy{DeadLetterTargetARN: "arn:aws:sqs:us-east-1:1:d", MaxReceiveCount: 3}},
		{`{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:d","maxReceiveCount":"5"}`, &queue.RedrivePolicy{DeadLetterTargetARN: "arn:aws:sqs:us-east-1:1:d", MaxReceiveCount: 5}},
		{``, nil},
	} {
		got, err := queue.ParseRedrivePolicy(tc.in)
		if err != nil || (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
			t.Errorf("ParseRedrivePolicy(%q) = %+v, %v", tc.in, got, err)
		}
	}
	if _, err := queue.ParseRedrivePolicy(`{"maxReceiveCount":"x"}`); err == nil {
		t.Error("bad maxReceiveCount accepted")
	}
}

func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
