package runbooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/nexus-compliance/nexus/aws/dynamo"
	"github.com/nexus-compliance/nexus/pipeline"
)

// requeuesAttr counts how often a runbook sent a FAILED job back to the
// queue, so a job that fails the same way every time is not retried forever.
const requeuesAttr = "requeue_count"

// failedJobs finds MappingJobs that FAILED within with.window whose
// error_message (or error object) matches with.pattern, a case-insensitive
// regular expression. Each is a problem; one requeued with.max_requeues
// times already is still reported, but marked so requeue-job leaves it.
func failedJobs(r *run, s Step, sr *StepResult) error {
	window := r.argDuration(s, "window", time.Hour)
	pattern := r.argString(s, "pattern", ".")
	re, err := regexp.Compile("(?i)" + pattern)
	if err != nil {
		return fmt.Errorf("pattern %q: %w", pattern, err)
	}
	maxRequeues := r.argInt(s, "max_requeues", 3)
	limit := r.argInt(s, "limit", 1000)
	now := r.deps.Now()
	matched := 0
	res, err := r.scanJobs(pipeline.JobFailed, "failed_at", false, window, limit, func(j *pipeline.Job, it dynamo.Item) {
		why := j.ErrorMessage
		if len(j.Error) > 0 {
			b, _ := json.Marshal(j.Error)
			why += " " + string(b)
		}
		if !re.MatchString(why) {
			return
		}
		matched++
		requeues, _ := strconv.Atoi(dynamo.Text(it[requeuesAttr]))
		detail := oneLine(j.ErrorMessage)
		if detail == "" {
			detail = oneLine(why)
		}
		if requeues > 0 {
			detail += fmt.Sprintf(" (requeued %d time(s) before)", requeues)
		}
		item := Item{JobID: j.JobID, Status: string(j.Status), Age: age(now, j.FailedAt), Problem: true, Detail: detail, job: j}
		if requeues >= maxRequeues {
			item.retryLimit = fmt.Sprintf("requeued %d time(s) already (max_requeues %d): find out why it keeps failing", requeues, maxRequeues)
		}
		sr.Items = append(sr.Items, item)
	})
	if err != nil {
		return err
	}
	sort.Slice(sr.Items, func(i, j int) bool { return sr.Items[i].job.FailedAt < sr.Items[j].job.FailedAt })
	for _, it := range sr.Items {
		sr.Evidence = append(sr.Evidence, fmt.Sprintf("%s  failed %s ago  %s", it.JobID, it.Age, it.Detail))
	}
	sr.Summary = fmt.Sprintf("%d job(s) FAILED in the last %s with an error matching %q (scanned %d)", matched, window, pattern, res.Scanned)
	if res.Truncated {
		sr.Summary += fmt.Sprintf("; stopped at limit %d", limit)
	}
	return nil
}

// requeueFailed sends body to the main queue for a FAILED job. The record
// goes back to PENDING first — its error kept as previous_error_message and
// requeue_count raised — so the API shows it queued again and the SQS
// trigger takes it from there; if the send is refused the record is put
// back as it was. The status condition makes a job that moved on
// meanwhile an error, not a silent overwrite.
func (r *run) requeueFailed(jobID, body string) error {
	api, err := r.deps.DynamoDB(r.ctx)
	if err != nil {
		return err
	}
	key := dynamo.Item{dynamo.JobID: dynamo.S(jobID)}
	table := aws.String(r.deps.Env.Tables.Jobs)
	now := r.deps.Now().UTC().Format(time.RFC3339)
	failed, pending := dynamo.S(string(pipeline.JobFailed)), dynamo.S(string(pipeline.JobPending))
	b := dynamo.NewBuilder()
	update := "SET " + b.Name("status") + " = " + b.Value(pending) + ", " +
		b.Name("updated_at") + " = " + b.Value(dynamo.S(now)) + ", " + b.Name("requeued_at") + " = " + b.Value(dynamo.S(now)) + ", " +
		b.Name("previous_error_message") + " = if_not_exists(" + b.Name("error_message") + ", " + b.Value(dynamo.S("")) + "), " +
		b.Name(requeuesAttr) + " = if_not_exists(" + b.Name(requeuesAttr) + ", " + b.Value(dynamo.N("0")) + ") + " + b.Value(dynamo.N("1")) +
		" REMOVE " + b.Name("failed_at") + ", " + b.Name("error_message")
	out, err := api.UpdateItem(r.ctx, &dynamodb.UpdateItemInput{TableName: table, Key: key, UpdateExpression: aws.String(update),
		ConditionExpression: aws.String(b.Equal("status", failed)), ExpressionAttributeNames: b.Names(),
		ExpressionAttributeValues: b.Values(), ReturnValues: types.ReturnValueAllOld})
	if err != nil {
		var cf *types.ConditionalCheckFailedException
		if errors.As(err, &cf) {
			return fmt.Errorf("job %s is no longer FAILED; left as it is", jobID)
		}
		return err
	}
	old := out.Attributes
	qapi, mainURL, _, err := r.queues()
	if err == nil {
		var sent *sqs.SendMessageBatchOutput
		sent, err = qapi.SendMessageBatch(r.ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(mainURL),
			Entries: []sqstypes.SendMessageBatchRequestEntry{{Id: aws.String("0"), MessageBody: aws.String(body)}}})
		if err == nil && len(sent.Failed) > 0 {
			err = fmt.Errorf("send refused: %s: %s", aws.ToString(sent.Failed[0].Code), aws.ToString(sent.Failed[0].Message))
		}
	}
	if err == nil {
		return nil
	}
	b = dynamo.NewBuilder()
	restore := "SET " + b.Name("status") + " = " + b.Value(failed) + ", " + b.Name(requeuesAttr) + " = " + b.Name(requeuesAttr) + " - " + b.Value(dynamo.N("1"))
	for _, k := range []string{"failed_at", "error_message", "updated_at"} {
		if v, ok := old[k]; ok {
			restore += ", " + b.Name(k) + " = " + b.Value(v)
		}
	}
	_, rerr := api.UpdateItem(r.ctx, &dynamodb.UpdateItemInput{TableName: table, Key: key, UpdateExpression: aws.String(restore),
		ConditionExpression: aws.String(b.Equal("status", pending)), ExpressionAttributeNames: b.Names(),
		ExpressionAttributeValues: b.Values()})
	if rerr != nil {
		return fmt.Errorf("%s; and putting job %s back to FAILED failed too (it is PENDING with no message: the stuck-pending runbook requeues it): %s", describe(err), jobID, describe(rerr))
	}
	// Not wrapped: the step's evidence shows this whole sentence, not just the AWS error inside it.
	return fmt.Errorf("%s (job %s put back to FAILED)", describe(err), jobID)
}
