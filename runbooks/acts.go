package runbooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/nexus-compliance/nexus/aws/dynamo"
	"github.com/nexus-compliance/nexus/aws/queue"
	"github.com/nexus-compliance/nexus/aws/sfnx"
	"github.com/nexus-compliance/nexus/pipeline"
)

// planned is one change an act will make.
type planned struct {
	target   string // job id, execution ARN, "DLQ"
	describe string // the sentence printed, after "would" under --dry-run
	item     Item
	fail     bool // redrive-execution: fall back to fail-job
	// skip, when set, says why this target is left alone: reported, never applied.
	skip string
}

type action struct {
	verb  string
	help  string
	plan  func(r *run, s Step) ([]planned, error)
	apply func(r *run, s Step, plan []planned) []error
}

var actions map[string]action

func init() {
	actions = map[string]action{
		"redrive-dlq": {"move DLQ messages back to the main queue",
			"with.jobs: only those jobs' messages (else the whole DLQ, at most with.max)", planRedriveDLQ, applyRedriveDLQ},
		"requeue-job": {"send job messages to the main queue",
			"a message built from each job record (job_id, control_key, target_framework_key, target_control_ids); a FAILED job is set back to PENDING first (error kept as previous_error_message, requeue_count raised)", planRequeue, applyRequeue},
		"redrive-execution": {"redrive failed executions",
			"RedriveExecution each failed execution of with.from; one that is not redrivable is marked FAILED (with.fallback fail-job) or left alone", planRedriveExec, applyRedriveExec},
		"fail-job": {"mark jobs FAILED",
			"status FAILED, failed_at, error_message = with.reason; only while the job is still PENDING", planFail, applyFail},
		"raise-table-capacity": {"raise provisioned DynamoDB capacity",
			"UpdateTable each throttled PROVISIONED table or GSI of with.from: read and write capacity × with.factor, at most with.max_capacity", planRaiseCapacity, applyRaiseCapacity},
		"force-new-deployment": {"force new ECS deployments",
			"UpdateService forceNewDeployment for each unhealthy service of with.from, or for with.services (all, science, strands) whatever their health; a service already rolling out is left alone", planForceDeployment, applyForceDeployment},
	}
}

// ActionNames lists the built-in actions.
func ActionNames() []string {
	n := make([]string, 0, len(actions))
	for k := range actions {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

func planRedriveDLQ(r *run, s Step) ([]planned, error) {
	env := r.deps.Env
	if _, ok := s.With["jobs"]; !ok {
		max := r.argInt(s, "max", 0)
		what := "every DLQ message"
		if max > 0 {
			what = fmt.Sprintf("at most %d DLQ messages", max)
		}
		return []planned{{target: "DLQ", describe: fmt.Sprintf("move %s from %s to %s", what, env.DLQName, env.QueueName)}}, nil
	}
	items := r.jobItems(s)
	if max := r.argInt(s, "max", 0); max > 0 && len(items) > max {
		items = items[:max]
	}
	var out []planned
	for _, it := range items {
		out = append(out, planned{target: it.JobID, item: it,
			describe: fmt.Sprintf("move the message of job %s (message %s) from the DLQ to the main queue", it.JobID, it.MessageID)})
	}
	return out, nil
}

func applyRedriveDLQ(r *run, s Step, plan []planned) []error {
	errsOut := make([]error, len(plan))
	api, mainURL, dlqURL, err := r.queues()
	if err != nil {
		for i := range errsOut {
			errsOut[i] = err
		}
		return errsOut
	}
	if len(plan) == 1 && plan[0].target == "DLQ" {
		res, err := queue.Redrive(r.ctx, api, queue.RedriveOptions{SourceURL: dlqURL, DestinationURL: mainURL, Max: r.argInt(s, "max", 0)})
		if err == nil && (res.Failed > 0 || res.Duplicated > 0) {
			err = fmt.Errorf("%d moved, %d failed, %d in both queues", res.Moved, res.Failed, res.Duplicated)
		}
		errsOut[0] = err
		return errsOut
	}
	want := map[string]int{}
	for i, p := range plan {
		want[p.target] = i
		errsOut[i] = errors.New("its message is no longer in the DLQ")
	}
	moved, err := moveJobMessages(r.ctx, api, dlqURL, mainURL, want)
	for i := range plan {
		if e, ok := moved[i]; ok {
			errsOut[i] = e
		} else if err != nil {
			errsOut[i] = err
		}
	}
	return errsOut
}

// moveJobMessages receives the whole of src (hiding what it read), sends the
// messages of the wanted jobs to dst with body and attributes unchanged,
// deletes from src exactly those SQS confirmed, and makes every other
// message visible again. moved maps a plan index to its outcome (nil: moved).
func moveJobMessages(ctx context.Context, api queue.API, src, dst string, want map[string]int) (map[int]error, error) {
	moved := map[int]error{}
	var others []string
	var take []sqstypes.Message
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		restore(rctx, api, src, others)
	}()
	for len(moved)+len(take) < len(want) {
		out, err := api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(src), MaxNumberOfMessages: queue.MaxBatch,
			VisibilityTimeout: 60, MessageAttributeNames: []string{"All"}})
		if err != nil {
			return moved, fmt.Errorf("receiving from %s: %w", queue.NameFromURL(src), err)
		}
		if len(out.Messages) == 0 {
			break
		}
		for _, m := range out.Messages {
			j, ok := queue.DecodeJob(aws.ToString(m.Body))
			if _, wanted := want[jobOf(j, ok)]; wanted && !taken(take, jobOf(j, ok)) {
				take = append(take, m)
			} else {
				others = append(others, aws.ToString(m.ReceiptHandle))
			}
		}
	}
	for start := 0; start < len(take); start += queue.MaxBatch {
		chunk := take[start:min(start+queue.MaxBatch, len(take))]
		entries := make([]sqstypes.SendMessageBatchRequestEntry, len(chunk))
		for i, m := range chunk {
			entries[i] = sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: m.Body, MessageAttributes: m.MessageAttributes}
		}
		out, err := api.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(dst), Entries: entries})
		if err != nil {
			for _, m := range chunk {
				j, ok := queue.DecodeJob(aws.ToString(m.Body))
				moved[want[jobOf(j, ok)]] = fmt.Errorf("sending to %s: %w", queue.NameFromURL(dst), err)
				others = append(others, aws.ToString(m.ReceiptHandle))
			}
			continue
		}
		failed := map[string]string{}
		for _, f := range out.Failed {
			failed[aws.ToString(f.Id)] = aws.ToString(f.Code) + ": " + aws.ToString(f.Message)
		}
		var del []sqstypes.DeleteMessageBatchRequestEntry
		for i, m := range chunk {
			j, ok := queue.DecodeJob(aws.ToString(m.Body))
			idx := want[jobOf(j, ok)]
			if why, bad := failed[strconv.Itoa(i)]; bad {
				moved[idx] = errors.New("send refused: " + why)
				others = append(others, aws.ToString(m.ReceiptHandle))
				continue
			}
			moved[idx] = nil
			del = append(del, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
		if len(del) == 0 {
			continue
		}
		dout, err := api.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(src), Entries: del})
		if err != nil {
			return moved, fmt.Errorf("sent to %s but not deleted from %s (the job may run twice): %w", queue.NameFromURL(dst), queue.NameFromURL(src), err)
		}
		for _, f := range dout.Failed {
			i, _ := strconv.Atoi(aws.ToString(f.Id))
			j, ok := queue.DecodeJob(aws.ToString(chunk[i].Body))
			moved[want[jobOf(j, ok)]] = fmt.Errorf("sent but not deleted from the DLQ (in both queues): %s", aws.ToString(f.Message))
		}
	}
	return moved, nil
}

func jobOf(j *pipeline.JobMessage, ok bool) string {
	if !ok {
		return ""
	}
	return j.JobID
}

func taken(msgs []sqstypes.Message, job string) bool {
	for _, m := range msgs {
		if j, ok := queue.DecodeJob(aws.ToString(m.Body)); ok && j.JobID == job {
			return true
		}
	}
	return false
}

func restore(ctx context.Context, api queue.API, url string, handles []string) {
	for start := 0; start < len(handles); start += queue.MaxBatch {
		chunk := handles[start:min(start+queue.MaxBatch, len(handles))]
		entries := make([]sqstypes.ChangeMessageVisibilityBatchRequestEntry, len(chunk))
		for i, h := range chunk {
			entries[i] = sqstypes.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(h), VisibilityTimeout: 0}
		}
		_, _ = api.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(url), Entries: entries})
	}
}

func jobMessage(j *pipeline.Job) string {
	b, _ := json.Marshal(pipeline.JobMessage{JobID: j.JobID, ControlKey: j.ControlKey, TargetFrameworkKey: j.TargetFrameworkKey, TargetControlIDs: j.TargetControlIDs})
	return string(b)
}

func planRequeue(r *run, s Step) ([]planned, error) {
	var out []planned
	for _, it := range r.jobItems(s) {
		if it.job == nil {
			return nil, fmt.Errorf("job %s: its record was not read by an earlier stuck-jobs or failed-jobs step", it.JobID)
		}
		p := planned{target: it.JobID, item: it, skip: it.retryLimit,
			describe: fmt.Sprintf("send %s to %s", jobMessage(it.job), r.deps.Env.QueueName)}
		if it.job.Status == pipeline.JobFailed {
			p.describe = fmt.Sprintf("set job %s from FAILED back to PENDING and send %s to %s", it.JobID, jobMessage(it.job), r.deps.Env.QueueName)
		}
		out = append(out, p)
	}
	return out, nil
}

// applyRequeue sends the PENDING jobs' messages in batches; a FAILED job
// goes one at a time, since its record changes with its message.
func applyRequeue(r *run, s Step, plan []planned) []error {
	errsOut := make([]error, len(plan))
	var pending []int
	for i, p := range plan {
		if p.item.job.Status == pipeline.JobFailed {
			errsOut[i] = r.requeueFailed(p.target, jobMessage(p.item.job))
		} else {
			pending = append(pending, i)
		}
	}
	if len(pending) == 0 {
		return errsOut
	}
	api, mainURL, _, err := r.queues()
	for start := 0; start < len(pending); start += queue.MaxBatch {
		chunk := pending[start:min(start+queue.MaxBatch, len(pending))]
		if err != nil {
			for _, i := range chunk {
				errsOut[i] = err
			}
			continue
		}
		entries := make([]sqstypes.SendMessageBatchRequestEntry, len(chunk))
		for n, i := range chunk {
			entries[n] = sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(n)), MessageBody: aws.String(jobMessage(plan[i].item.job))}
		}
		out, serr := api.SendMessageBatch(r.ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(mainURL), Entries: entries})
		if serr != nil {
			for _, i := range chunk {
				errsOut[i] = serr
			}
			continue
		}
		for _, f := range out.Failed {
			n, _ := strconv.Atoi(aws.ToString(f.Id))
			errsOut[chunk[n]] = fmt.Errorf("%s: %s", aws.ToString(f.Code), aws.ToString(f.Message))
		}
	}
	return errsOut
}

func planRedriveExec(r *run, s Step) ([]planned, error) {
	ref, _ := s.With["from"].(string)
	fallback := r.argString(s, "fallback", "")
	var out []planned
	for _, it := range r.res[ref].Items {
		if !it.Problem || it.exec == nil {
			continue
		}
		e := it.exec
		switch {
		case e.Redrivable():
			out = append(out, planned{target: it.ExecutionARN, item: it, describe: fmt.Sprintf("redrive execution %s of job %s (redrive %d)", e.Name, it.JobID, e.RedriveCount+1)})
		case fallback == "fail-job":
			out = append(out, planned{target: it.JobID, item: it, fail: true,
				describe: fmt.Sprintf("mark job %s FAILED: execution %s is %s and not redrivable (%s)", it.JobID, e.Name, e.Status, e.RedriveStatusReason)})
		default:
			out = append(out, planned{target: it.ExecutionARN, item: it, describe: fmt.Sprintf("redrive execution %s of job %s", e.Name, it.JobID),
				skip: fmt.Sprintf("%s and not redrivable (%s)", e.Status, e.RedriveStatusReason)})
		}
	}
	return out, nil
}

func applyRedriveExec(r *run, s Step, plan []planned) []error {
	errsOut := make([]error, len(plan))
	var api sfnx.API
	for i, p := range plan {
		e := p.item.exec
		if p.fail {
			reason := fmt.Sprintf("execution %s %s: %s %s; not redrivable: %s", e.Name, e.Status, e.Error, e.Cause, e.RedriveStatusReason)
			errsOut[i] = r.failJob(p.target, reason)
			continue
		}
		if api == nil {
			var err error
			if api, err = r.deps.SFN(r.ctx); err != nil {
				errsOut[i] = err
				continue
			}
		}
		_, errsOut[i] = sfnx.Redrive(r.ctx, api, p.target, e.RedriveCount)
	}
	return errsOut
}

func planFail(r *run, s Step) ([]planned, error) {
	reason := r.argString(s, "reason", "marked FAILED by nexus runbook "+r.rb.Name)
	var out []planned
	for _, it := range r.jobItems(s) {
		out = append(out, planned{target: it.JobID, item: it, describe: fmt.Sprintf("mark job %s FAILED (%s)", it.JobID, reason)})
	}
	return out, nil
}

func applyFail(r *run, s Step, plan []planned) []error {
	reason := r.argString(s, "reason", "marked FAILED by nexus runbook "+r.rb.Name)
	errsOut := make([]error, len(plan))
	for i, p := range plan {
		errsOut[i] = r.failJob(p.target, reason)
	}
	return errsOut
}

// failJob sets a PENDING job to FAILED with failed_at and error_message; a
// job that moved on meanwhile is left alone (condition on status).
func (r *run) failJob(jobID, reason string) error {
	api, err := r.deps.DynamoDB(r.ctx)
	if err != nil {
		return err
	}
	now := r.deps.Now().UTC().Format(time.RFC3339)
	b := dynamo.NewBuilder()
	update := "SET " + b.Name("status") + " = " + b.Value(dynamo.S(string(pipeline.JobFailed))) + ", " +
		b.Name("failed_at") + " = " + b.Value(dynamo.S(now)) + ", " + b.Name("updated_at") + " = " + b.Value(dynamo.S(now)) + ", " +
		b.Name("error_message") + " = " + b.Value(dynamo.S(reason))
	cond := b.Equal("status", dynamo.S(string(pipeline.JobPending)))
	_, err = api.UpdateItem(r.ctx, &dynamodb.UpdateItemInput{TableName: aws.String(r.deps.Env.Tables.Jobs),
		Key: dynamo.Item{dynamo.JobID: dynamo.S(jobID)}, UpdateExpression: aws.String(update), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames: b.Names(), ExpressionAttributeValues: b.Values()})
	return err
}
