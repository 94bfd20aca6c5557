package runbooks

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/smithy-go"

	"github.com/nexus-compliance/nexus/aws/cw"
	"github.com/nexus-compliance/nexus/aws/dynamo"
	"github.com/nexus-compliance/nexus/aws/queue"
	"github.com/nexus-compliance/nexus/aws/sfnx"
	"github.com/nexus-compliance/nexus/pipeline"
)

type probe struct {
	help string
	run  func(r *run, s Step, sr *StepResult) error
}

var probes map[string]probe

func init() {
	probes = map[string]probe{
		"stuck-jobs": {"MappingJobs in PENDING created more than with.older_than ago", stuckJobs},
		"queue-messages": {"the stuck jobs (with.jobs) whose message waits in the main queue: backlogged, not a problem",
			func(r *run, s Step, sr *StepResult) error { return queueMessages(r, s, sr, false) }},
		"dlq-messages": {"the jobs (with.jobs; all when absent) whose message is in the DLQ: a problem each",
			func(r *run, s Step, sr *StepResult) error { return queueMessages(r, s, sr, true) }},
		"execution-for-job": {"the Step Functions execution of each job (with.jobs less with.except); failed ones are problems", executionForJob},
		"failed-jobs": {"MappingJobs FAILED within with.window whose error matches with.pattern (case-insensitive regexp): a problem each; requeue-job leaves those requeued with.max_requeues times",
			failedJobs},
		"alarms": {"CloudWatch alarms in ALARM named with.prefix* (all when empty): a problem each", alarms},
		"failed-executions": {"executions FAILED, TIMED_OUT or ABORTED within with.window whose error or cause (from the history) matches with.pattern: a problem each, redrivable with redrive-execution",
			failedExecutions},
		"queue-depth": {"messages in with.queue (main or dlq) above with.max, or an oldest message older than with.max_age (CloudWatch): a problem",
			queueDepth},
		"lost-jobs": {"jobs (with.jobs less with.except) with no message in either queue and no execution: a problem each", lostJobs},
		"dynamodb-throttling": {"DynamoDB throttle events of each Nexus table and GSI (with.billing: only that billing mode) over with.window; more than with.threshold is a problem",
			dynamoThrottling},
		"ecs-services": {"ECS state (ACTIVE, running = desired, no failed deployment) and GET /health, /ready of the services of with.service (all, science, strands); an unhealthy service is a problem",
			ecsServices},
		"log-errors": {"events matching with.pattern in the log groups of with.components over with.window; a group with more than with.threshold is a problem",
			logErrors},
		"bedrock-metrics": {"AWS/Bedrock throttles and errors of with.model_id (empty: all models) over with.window; more than with.threshold throttles is a problem",
			bedrockMetrics},
		"stage-latency": {"p95 latency of each mapping stage (Logs Insights slow-mappings) over with.window against with.threshold / with.thresholds; a slower stage is a problem",
			stageLatency},
		"slow-stages": {"how many of with.stages are slow in with.from (for notes; not problems of their own)", slowStages},
		"queue-age":   {"the main queue's ApproximateAgeOfOldestMessage; older than with.max_age is a problem", queueAge},
	}
}

// ProbeNames lists the built-in probes.
func ProbeNames() []string {
	n := make([]string, 0, len(probes))
	for k := range probes {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// describe is an error in one line, with the AWS error code first when
// there is one (AccessDenied…), so a refused call reads as such.
func describe(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		msg := ae.ErrorMessage()
		if strings.Contains(strings.ToLower(ae.ErrorCode()), "accessdenied") {
			return fmt.Sprintf("%s: %s (missing IAM permission?)", ae.ErrorCode(), msg)
		}
		return fmt.Sprintf("%s: %s", ae.ErrorCode(), msg)
	}
	var nf *queue.NotFoundError
	if errors.As(err, &nf) {
		return fmt.Sprintf("queue %q not found", nf.Name)
	}
	return strings.SplitN(err.Error(), "\n", 2)[0]
}

// timeLayouts are the ISO-8601 shapes the Nexus Lambdas write.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"}

func parseTime(s string) (time.Time, bool) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, strings.TrimSpace(s)); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func age(now time.Time, ts string) string {
	t, ok := parseTime(ts)
	if !ok {
		return "-"
	}
	return now.Sub(t).Round(time.Second).String()
}

// scanJobs calls fn for each MappingJobs record in status whose attr lies
// before (before true) or at or after the cut-off now-age. created_at and
// failed_at are ISO 8601 UTC: a cut-off without zone or fraction compares
// correctly as a string against any suffix.
func (r *run) scanJobs(status pipeline.JobStatus, attr string, before bool, age time.Duration, limit int, fn func(j *pipeline.Job, it dynamo.Item)) (dynamo.Result, error) {
	env := r.deps.Env
	if env == nil || env.Tables.Jobs == "" {
		return dynamo.Result{}, errors.New("no jobs table configured (tables.jobs / JOB_TABLE_NAME)")
	}
	api, err := r.deps.DynamoDB(r.ctx)
	if err != nil {
		return dynamo.Result{}, err
	}
	op := " >= "
	if before {
		op = " < "
	}
	cutoff := r.deps.Now().UTC().Add(-age).Format("2006-01-02T15:04:05")
	b := dynamo.NewBuilder()
	filter := dynamo.And(b.Equal("status", dynamo.S(string(status))), b.Name(attr)+op+b.Value(dynamo.S(cutoff)))
	req := dynamo.Request{Table: env.Tables.Jobs, Filter: filter, Names: b.Names(), Values: b.Values(), Limit: limit, KeyAttributes: []string{dynamo.JobID}}
	res, err := dynamo.Read(r.ctx, api, req, func(it dynamo.Item) error {
		var j pipeline.Job
		if err := attributevalue.UnmarshalMap(it, &j); err != nil {
			return fmt.Errorf("reading job %s: %w", dynamo.Text(it[dynamo.JobID]), err)
		}
		fn(&j, it)
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("scanning %s: %w", env.Tables.Jobs, err)
	}
	return res, nil
}

func stuckJobs(r *run, s Step, sr *StepResult) error {
	older := r.argDuration(s, "older_than", 30*time.Minute)
	limit := r.argInt(s, "limit", 1000)
	now := r.deps.Now()
	res, err := r.scanJobs(pipeline.JobPending, "created_at", true, older, limit, func(j *pipeline.Job, _ dynamo.Item) {
		sr.Items = append(sr.Items, Item{JobID: j.JobID, Status: string(j.Status), Age: age(now, j.CreatedAt), Detail: j.ControlKey + " → " + j.TargetFrameworkKey, job: j})
	})
	if err != nil {
		return err
	}
	env := r.deps.Env
	sort.Slice(sr.Items, func(i, j int) bool { return sr.Items[i].job.CreatedAt < sr.Items[j].job.CreatedAt })
	sr.Summary = fmt.Sprintf("%d PENDING job(s) older than %s in %s (scanned %d)", len(sr.Items), older, env.Tables.Jobs, res.Scanned)
	if res.Truncated {
		sr.Summary += fmt.Sprintf("; stopped at limit %d", limit)
	}
	for _, it := range sr.Items {
		sr.Evidence = append(sr.Evidence, fmt.Sprintf("%s  age %s  %s", it.JobID, it.Age, it.Detail))
	}
	// Being stuck is what the following checks explain; not a problem by itself.
	sr.Status = StatusOK
	if len(sr.Items) > 0 {
		sr.Status = StatusWarn
	}
	sr.Count = len(sr.Items)
	return nil
}

// queues resolves the main queue and DLQ of the environment, the first
// time it is asked in a run.
func (r *run) queues() (api queue.API, mainURL, dlqURL string, err error) {
	if q := r.sqs; q != nil {
		return q.api, q.mainURL, q.dlqURL, nil
	}
	env := r.deps.Env
	if api, err = r.deps.SQS(r.ctx); err != nil {
		return nil, "", "", err
	}
	if mainURL, err = queue.Resolve(r.ctx, api, env.QueueURL, env.QueueName); err != nil {
		return nil, "", "", err
	}
	if dlqURL, err = queue.Resolve(r.ctx, api, env.DLQURL, env.DLQName); err != nil {
		return nil, "", "", err
	}
	r.sqs = &resolvedQueues{api: api, mainURL: mainURL, dlqURL: dlqURL}
	return api, mainURL, dlqURL, nil
}

// oneLine is the first line of s, cut to 200 characters, for evidence.
func oneLine(s string) string {
	s = cw.FirstLine(s)
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}

// queueMessages peeks a queue (receive, then make visible again at once)
// and keeps the messages of the jobs of with.jobs (all job messages when
// with.jobs is absent).
func queueMessages(r *run, s Step, sr *StepResult, dlq bool) error {
	api, mainURL, dlqURL, err := r.queues()
	if err != nil {
		return err
	}
	url := mainURL
	if dlq {
		url = dlqURL
	}
	max := r.argInt(s, "max_messages", 1000)
	stats, err := queue.GetStats(r.ctx, api, url)
	if err != nil {
		return err
	}
	// A peek is a receive: on the main queue it counts towards the
	// redrive policy's maxReceiveCount, so read only a queue that holds
	// something.
	var msgs []queue.Message
	if stats.Visible+stats.Delayed > 0 {
		if msgs, err = queue.Peek(r.ctx, api, url, max); err != nil {
			return err
		}
	}
	var want map[string]bool
	if ref, ok := s.With["jobs"].(string); ok {
		want = map[string]bool{}
		for _, it := range r.res[ref].Items {
			want[it.JobID] = true
		}
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		if m.Job == nil || (want != nil && !want[m.Job.JobID]) || seen[m.Job.JobID] {
			continue
		}
		seen[m.Job.JobID] = true
		sr.Items = append(sr.Items, Item{JobID: m.Job.JobID, MessageID: m.ID, Problem: dlq,
			Detail: fmt.Sprintf("received %d time(s), sent %s", m.ReceiveCount, m.Sent.Format(time.RFC3339))})
	}
	name := queue.NameFromURL(url)
	sr.Evidence = append(sr.Evidence, fmt.Sprintf("%s: %d visible, %d in flight, %d delayed; peeked %d (made visible again)", name, stats.Visible, stats.InFlight, stats.Delayed, len(msgs)))
	if !dlq && len(msgs) > 0 && stats.RedrivePolicy != nil {
		sr.Evidence = append(sr.Evidence, fmt.Sprintf("note: peeking counted as one receive of each message (maxReceiveCount %d); do not run this check in a loop", stats.RedrivePolicy.MaxReceiveCount))
	}
	if stats.InFlight > 0 {
		sr.Evidence = append(sr.Evidence, fmt.Sprintf("%d message(s) in flight could not be read; run again once they are visible", stats.InFlight))
	}
	for _, it := range sr.Items {
		sr.Evidence = append(sr.Evidence, fmt.Sprintf("%s  message %s  %s", it.JobID, it.MessageID, it.Detail))
	}
	if dlq {
		sr.Summary = fmt.Sprintf("%d stuck job(s) have their message in the DLQ %s", len(sr.Items), name)
	} else {
		sr.Summary = fmt.Sprintf("%d stuck job(s) are merely backlogged: their message waits in %s for the SQS trigger", len(sr.Items), name)
		sr.Status = StatusOK
	}
	return nil
}

func executionForJob(r *run, s Step, sr *StepResult) error {
	jobs := r.jobItems(s)
	arn := r.deps.Env.StateMachineARN
	if arn == "" {
		sr.Status, sr.Summary = StatusOK, "skipped: no state machine configured (state_machine_arn / STATE_MACHINE_ARN), so executions were not looked up"
		return nil
	}
	if len(jobs) == 0 {
		sr.Summary = "no job left to look up"
		return nil
	}
	api, err := r.deps.SFN(r.ctx)
	if err != nil {
		return err
	}
	since := time.Time{}
	for _, j := range jobs {
		if t, ok := parseTime(j.job.CreatedAt); ok && (since.IsZero() || t.Before(since)) {
			since = t
		}
	}
	failed := 0
	for _, j := range jobs {
		e, err := sfnx.FindByJobID(r.ctx, api, arn, j.JobID, since, sfnx.DefaultConcurrency)
		if err != nil {
			return fmt.Errorf("looking up the execution of %s: %w", j.JobID, err)
		}
		if e == nil {
			continue
		}
		bad := e.Status == "FAILED" || e.Status == "TIMED_OUT" || e.Status == "ABORTED"
		if bad {
			failed++
		}
		detail := e.Status
		if e.Error != "" {
			detail += ": " + e.Error
		}
		if bad {
			detail += fmt.Sprintf(" (redrive status %s)", e.RedriveStatus)
		}
		sr.Items = append(sr.Items, Item{JobID: j.JobID, ExecutionARN: e.ARN, Status: e.Status, Problem: bad, Detail: detail, job: j.job, exec: e})
		sr.Evidence = append(sr.Evidence, fmt.Sprintf("%s  %s  %s", j.JobID, e.Name, detail))
	}
	sr.Summary = fmt.Sprintf("%d of %d job(s) have an execution; %d failed", len(sr.Items), len(jobs), failed)
	return nil
}

func lostJobs(r *run, s Step, sr *StepResult) error {
	for _, it := range r.jobItems(s) {
		it.Problem, it.Detail = true, "no message in either queue and no execution"
		sr.Items = append(sr.Items, it)
		sr.Evidence = append(sr.Evidence, it.JobID+"  "+it.Detail)
	}
	sr.Summary = fmt.Sprintf("%d job(s) are lost: their message is in neither queue and no execution started", len(sr.Items))
	return nil
}
