package runbook

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/nexus-compliance/nexus/aws/awsfake"
	"github.com/nexus-compliance/nexus/aws/dynamo"
	"github.com/nexus-compliance/nexus/aws/dynamo/dynamotest"
	"github.com/nexus-compliance/nexus/aws/queue"
	"github.com/nexus-compliance/nexus/aws/queue/queuetest"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/pipeline"
)

// failedJob is a job that FAILED at failed with msg.
func failedJob(id string, failed time.Time, msg string) pipeline.Job {
	j := job(id, pipeline.JobFailed, failed.Add(-time.Minute))
	j.FailedAt, j.ErrorMessage = failed.UTC().Format(time.RFC3339), msg
	return j
}

func (e *env) jobRecord(t *testing.T, id string) dynamo.Item {
	t.Helper()
	out, err := e.ddb.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(e.jobs), Key: dynamo.Item{dynamo.JobID: dynamo.S(id)}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

// bedrockSetup seeds the jobs table (dynalite) with two jobs failed by a
// Bedrock throttle, one failed for another reason and one that completed,
// and the CloudWatch and Logs fakes with throttles 20 minutes ago that
// have since stopped.
func bedrockSetup(t *testing.T) (*env, fakes) {
	t.Helper()
	e := setup(t)
	now := time.Now()
	dynamotest.Put(t, e.ddb, e.jobs,
		failedJob("job-throttled-1", now.Add(-20*time.Minute), "ReasoningError: An error occurred (ThrottlingException) when calling the Converse operation: Too many requests, please wait before trying again."),
		failedJob("job-throttled-2", now.Add(-18*time.Minute), "EnrichmentError: Rate exceeded"),
		failedJob("job-bad-control", now.Add(-10*time.Minute), "ControlNotFoundError: Control not found in database"),
		failedJob("job-old-throttle", now.Add(-3*time.Hour), "ThrottlingException"), // outside the window
		job("job-done", pipeline.JobCompleted, now.Add(-30*time.Minute)))
	cwSrv := awsfake.NewCWServer(t)
	cwSrv.PutMetric("AWS/Bedrock", "InvocationThrottles", nil, awsfake.CWDatapoint{Time: now.Add(-20 * time.Minute), Value: 8},
		awsfake.CWDatapoint{Time: now.Add(-18 * time.Minute), Value: 4})
	cwSrv.PutMetric("AWS/Bedrock", "InvocationServerErrors", nil, awsfake.CWDatapoint{Time: now.Add(-18 * time.Minute), Value: 1})
	cwSrv.PutMetric("AWS/Bedrock", "InvocationServerErrors", map[string]string{"ModelId": "anthropic.claude-v2"},
		awsfake.CWDatapoint{Time: now.Add(-18 * time.Minute), Value: 3})
	logsSrv := awsfake.NewLogsServer(t)
	logsSrv.AddLogsGroup("/ecs/NexusStrandsAgentService")
	logsSrv.AddLogsEvents("/ecs/NexusStrandsAgentService",
		awsfake.LogsEvent{Timestamp: now.Add(-20 * time.Minute).UnixMilli(), Message: "botocore.errorfactory.ThrottlingException: Too many requests"},
		awsfake.LogsEvent{Timestamp: now.Add(-20 * time.Minute).UnixMilli(), Message: "INFO reasoning done"})
	return e, fakes{cw: cwSrv, logs: logsSrv}
}

func TestBedrockRateLimitEndToEndWithFakeCloudWatch(t *testing.T) {
	t.Parallel()
	e, fk := bedrockSetup(t)

	// Dry run: the two throttled jobs are problems; nothing changes.
	code, out, errOut := e.run(t, fk.tweak, "run", "bedrock-rate-limit", "--dry-run")
	if code != cmdutil.ExitProblems {
		t.Fatalf("dry run exit = %d, want 3\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"all models: 12 throttled, 0 client error(s), 1 server error(s) in the last 1h0m0s",
		"all models: 0 throttled, 0 client error(s), 0 server error(s) in the last 5m0s",
		"/ecs/NexusStrandsAgentService: 1 event(s) matching \"ThrottlingException\"", "/aws/lambda/NexusReasoningAgentLambda: log group not found",
		"2 job(s) FAILED in the last 1h0m0s", "job-throttled-1", "job-throttled-2",
		"would set job job-throttled-1 from FAILED back to PENDING", "Service Quotas", "MaxConcurrency 5", "exponential backoff",
		"Bedrock is still throttling: not needed", "A hard quota was hit: not needed", "Dry run: 2 change(s) planned, none made"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry-run output lacks %q:\n%s", want, out)
		}
	}
	for _, unwanted := range []string{"job-bad-control", "job-old-throttle", "job-done"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("dry run lists %s:\n%s", unwanted, out)
		}
	}
	if st := dynamo.Text(e.jobRecord(t, "job-throttled-1")["status"]); st != "FAILED" {
		t.Errorf("after dry run job-throttled-1 is %s", st)
	}
	if st, err := queue.GetStats(context.Background(), e.sq, e.mainURL); err != nil || st.Total() != 0 {
		t.Errorf("after dry run the main queue holds %+v (%v)", st, err)
	}

	// --yes requeues them: PENDING again, error kept, one message each.
	code, out, errOut = e.run(t, fk.tweak, "run", "bedrock-rate-limit", "--yes")
	if code != cmdutil.ExitOK {
		t.Fatalf("--yes exit = %d, want 0\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "runbook.bedrock-rate-limit result=ok") || !strings.Contains(errOut, "changed=2") {
		t.Errorf("audit line:\n%s", errOut)
	}
	rec := e.jobRecord(t, "job-throttled-2")
	var j pipeline.Job
	if err := attributevalue.UnmarshalMap(rec, &j); err != nil {
		t.Fatal(err)
	}
	if j.Status != pipeline.JobPending || j.FailedAt != "" || j.ErrorMessage != "" ||
		dynamo.Text(rec["previous_error_message"]) != "EnrichmentError: Rate exceeded" || dynamo.Text(rec["requeue_count"]) != "1" {
		t.Errorf("job-throttled-2 after --yes = %+v", rec)
	}
	if st := dynamo.Text(e.jobRecord(t, "job-bad-control")["status"]); st != "FAILED" {
		t.Errorf("job-bad-control is %s; only throttled jobs may be requeued", st)
	}
	var ids []string
	for _, m := range queuetest.Drain(t, e.sq, e.mainURL) {
		jm, _ := queue.DecodeJob(aws.ToString(m.Body))
		ids = append(ids, jm.JobID)
	}
	if strings.Join(ids, ",") != "job-throttled-1,job-throttled-2" && strings.Join(ids, ",") != "job-throttled-2,job-throttled-1" {
		t.Errorf("main queue after --yes held %v", ids)
	}

	// Second run: nothing left to do.
	code, out, errOut = e.run(t, fk.tweak, "run", "bedrock-rate-limit", "--yes")
	if code != cmdutil.ExitOK || !strings.Contains(out, "Summary: healthy") || !strings.Contains(out, "0 job(s) FAILED") {
		t.Errorf("second run: exit %d\n%s\n%s", code, out, errOut)
	}

	// A job that keeps failing on throttles is left FAILED after max_requeues.
	again := failedJob("job-throttled-1", time.Now().Add(-time.Minute), "ThrottlingException")
	dynamotest.Put(t, e.ddb, e.jobs, again)
	_, err := e.ddb.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String(e.jobs), Key: dynamo.Item{dynamo.JobID: dynamo.S("job-throttled-1")},
		UpdateExpression: aws.String("SET requeue_count = :n"), ExpressionAttributeValues: dynamo.Item{":n": dynamo.N("3")}})
	if err != nil {
		t.Fatal(err)
	}
	code, out, _ = e.run(t, fk.tweak, "run", "bedrock-rate-limit", "--yes")
	if code != cmdutil.ExitProblems || !strings.Contains(out, "left alone: set job job-throttled-1") || !strings.Contains(out, "requeued 3 time(s) already") {
		t.Errorf("at max_requeues: exit %d\n%s", code, out)
	}
	if st := dynamo.Text(e.jobRecord(t, "job-throttled-1")["status"]); st != "FAILED" {
		t.Errorf("at max_requeues job-throttled-1 is %s, want FAILED", st)
	}
}

func TestBedrockStillThrottlingWithFakeCloudWatch(t *testing.T) {
	t.Parallel()
	e, fk := bedrockSetup(t)
	now := time.Now()
	fk.cw.PutMetric("AWS/Bedrock", "InvocationThrottles", nil, awsfake.CWDatapoint{Time: now.Add(-2 * time.Minute), Value: 5})
	fk.cw.PutMetric("AWS/Bedrock", "InvocationThrottles", map[string]string{"ModelId": "anthropic.claude-v2"}, awsfake.CWDatapoint{Time: now.Add(-2 * time.Minute), Value: 5})

	// Throttles in the last 5 minutes: the failed jobs are held back.
	code, out, errOut := e.run(t, fk.tweak, "run", "bedrock-rate-limit", "--yes")
	if code != cmdutil.ExitProblems {
		t.Fatalf("exit = %d, want 3\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"all models: 5 throttled, 0 client error(s), 0 server error(s) in the last 5m0s",
		"held back: now.count = 1, > 0 is true", "the jobs that failed on a throttle stay FAILED"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if st := dynamo.Text(e.jobRecord(t, "job-throttled-1")["status"]); st != "FAILED" {
		t.Errorf("job-throttled-1 is %s while Bedrock still throttles", st)
	}
	// A threshold above the recent throttles lets them through; one model: its own series.
	code, out, _ = e.run(t, fk.tweak, "run", "bedrock-rate-limit", "--dry-run", "--param", "model_id=anthropic.claude-v2", "--param", "threshold=5")
	if code != cmdutil.ExitProblems || !strings.Contains(out, "anthropic.claude-v2: 5 throttled, 0 client error(s), 3 server error(s) in the last 1h0m0s") ||
		!strings.Contains(out, "would set job job-throttled-1") {
		t.Errorf("model_id: exit %d\n%s", code, out)
	}
	if code, _, errOut := e.run(t, fk.tweak, "run", "bedrock-rate-limit", "--param", "model_id=a b"); code != cmdutil.ExitUsage || !strings.Contains(errOut, "does not match") {
		t.Errorf("bad model id: exit %d\n%s", code, errOut)
	}
}

func latencySetup(t *testing.T, rows []map[string]string, loggedAt time.Time, queueAge float64) (*env, fakes) {
	t.Helper()
	cwSrv := awsfake.NewCWServer(t)
	cwSrv.PutMetric("AWS/SQS", "ApproximateAgeOfOldestMessage", map[string]string{"QueueName": "MappingRequestQueue"},
		awsfake.CWDatapoint{Time: time.Now().Add(-2 * time.Minute), Value: queueAge})
	logsSrv := awsfake.NewLogsServer(t)
	logsSrv.SetLogsQueryResultsLoggedAt("duration_ms", loggedAt, rows)
	ecsSrv := awsfake.NewECSServer(t)
	for _, name := range []string{"NexusECSService", "NexusStrandsAgentService"} {
		ecsSrv.SetService(awsfake.ECSService{Cluster: "nexus", Name: name, Desired: 2, Running: 2,
			Deployments: []awsfake.ECSDeployment{{ID: "ecs-svc/1", Status: "PRIMARY", RolloutState: "COMPLETED", Desired: 2, Running: 2, Created: time.Now().Add(-48 * time.Hour)}}})
	}
	return &env{vars: map[string]string{}}, fakes{cw: cwSrv, logs: logsSrv, ecs: ecsSrv}
}

func TestHighLatencyEndToEndWithFakeLogsAndECS(t *testing.T) {
	t.Parallel()
	e, fk := latencySetup(t, []map[string]string{
		{"stage": "reason", "n": "10", "avg_ms": "20000", "p95_ms": "40000", "max_ms": "45000"},
		{"stage": "embed", "n": "10", "avg_ms": "9000", "p95_ms": "25000.5", "max_ms": "30000"},
		{"stage": "validate", "n": "10", "avg_ms": "20", "p95_ms": "50", "max_ms": "80"},
	}, time.Now().Add(-30*time.Minute), 1200)

	// Dry run: embed is slow (and requests wait in the queue); no service is touched.
	code, out, errOut := e.run(t, fk.tweak, "run", "high-latency", "--dry-run")
	if code != cmdutil.ExitProblems {
		t.Fatalf("exit = %d, want 3\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"slowest stage: reason (p95 40s, threshold 1m0s); 1 of 3 stage(s) above their threshold in the last 1h0m0s",
		"embed: p95 25.001s (threshold 10s), avg 9s, max 30s over 10 call(s)", "MappingRequestQueue: oldest message 20m0s old",
		"0 of 2 service(s) in cluster nexus unhealthy", "Slow GPU stages (embed, retrieve, rerank): slow: embed",
		"would force a new deployment of ECS service NexusECSService in cluster nexus (embed, retrieve or rerank p95 above its threshold)",
		"nexus gpu check", "Bedrock stages are slow: not needed", "DynamoDB-bound stages are slow: not needed",
		"Requests wait longer than 15m0s"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if len(fk.ecs.Updates()) != 0 {
		t.Errorf("dry run changed a service: %+v", fk.ecs.Updates())
	}
	// A stricter reason threshold makes it slow too.
	code, out, _ = e.run(t, fk.tweak, "run", "high-latency", "--dry-run", "--param", "stage_thresholds=reason=30s", "--param", "max_queue_age=1h")
	if code != cmdutil.ExitProblems || !strings.Contains(out, "2 of 3 stage(s)") || !strings.Contains(out, "Bedrock stages are slow: enrich and reason") {
		t.Errorf("stage_thresholds: exit %d\n%s", code, out)
	}
	if code, _, errOut := e.run(t, fk.tweak, "run", "high-latency", "--param", "stage_thresholds=reason"); code != cmdutil.ExitUsage || !strings.Contains(errOut, "does not match") {
		t.Errorf("bad stage_thresholds: exit %d\n%s", code, errOut)
	}

	// --yes replaces the science service's tasks, and only those. The
	// latency it measured is not fixed until the new tasks show it: exit 3.
	code, out, errOut = e.run(t, fk.tweak, "run", "high-latency", "--yes", "--param", "max_queue_age=1h")
	if code != cmdutil.ExitProblems || !strings.Contains(out, "force new ECS deployments: 1 done, 0 failed") {
		t.Fatalf("--yes exit = %d, want 3\n%s\n%s", code, out, errOut)
	}
	if u := fk.ecs.Updates(); len(u) != 1 || u[0].Service != "NexusECSService" || !u[0].ForceNewDeployment {
		t.Errorf("updates after --yes = %+v", u)
	}
	// Second run: only timings since the new deployment count, and there
	// are none slow → exit 0, nothing more forced.
	code, out, _ = e.run(t, fk.tweak, "run", "high-latency", "--yes", "--param", "max_queue_age=1h")
	if code != cmdutil.ExitOK || !strings.Contains(out, "no stage timings logged since") ||
		!strings.Contains(out, "timings since NexusECSService's deployment ecs-svc/forced-1 began") {
		t.Errorf("second run: exit %d\n%s", code, out)
	}
	if len(fk.ecs.Updates()) != 1 {
		t.Errorf("second run forced another deployment: %+v", fk.ecs.Updates())
	}

	// Slow again on the new tasks while their deployment still rolls out:
	// a second deployment is not forced on top of it.
	fk.logs.SetLogsQueryResultsLoggedAt("duration_ms", time.Now(), []map[string]string{{"stage": "rerank", "n": "4", "avg_ms": "12000", "p95_ms": "15000", "max_ms": "16000"}})
	code, out, _ = e.run(t, fk.tweak, "run", "high-latency", "--yes", "--param", "max_queue_age=1h")
	if code != cmdutil.ExitProblems || !strings.Contains(out, "left alone: force a new deployment of ECS service NexusECSService") ||
		!strings.Contains(out, "a deployment is already rolling out") {
		t.Errorf("while rolling out: exit %d\n%s", code, out)
	}
	if len(fk.ecs.Updates()) != 1 {
		t.Errorf("a deployment was forced during a rollout: %+v", fk.ecs.Updates())
	}
}

func TestHighLatencyHealthyWithFakeLogsAndECS(t *testing.T) {
	t.Parallel()
	e, fk := latencySetup(t, []map[string]string{{"stage": "embed", "n": "3", "avg_ms": "100", "p95_ms": "200", "max_ms": "250"}}, time.Now().Add(-time.Minute), 5)
	code, out, errOut := e.run(t, fk.tweak, "run", "high-latency", "--yes", "-o", "json")
	if code != cmdutil.ExitOK || !strings.Contains(out, `"result": "healthy"`) {
		t.Errorf("healthy: exit %d\n%s\n%s", code, out, errOut)
	}
}

// A requeue whose message cannot be sent puts the job back as it was:
// FAILED, with its error, and not counted as requeued.
func TestBedrockRequeueSendRefusedWithFakeCloudWatch(t *testing.T) {
	t.Parallel()
	e, fk := bedrockSetup(t)
	e.vars["NEXUS_QUEUE_NAME"] = "no-such-queue-" + t.Name()
	code, out, errOut := e.run(t, fk.tweak, "run", "bedrock-rate-limit", "--yes")
	if code != cmdutil.ExitProblems || !strings.Contains(out, "put back to FAILED") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	rec := e.jobRecord(t, "job-throttled-2")
	if dynamo.Text(rec["status"]) != "FAILED" || dynamo.Text(rec["error_message"]) != "EnrichmentError: Rate exceeded" ||
		dynamo.Text(rec["failed_at"]) == "" || dynamo.Text(rec["requeue_count"]) != "0" {
		t.Errorf("job-throttled-2 after a refused send = %+v", rec)
	}
	if !strings.Contains(errOut, "result=partial") || !strings.Contains(errOut, "changed=0 failed=2") {
		t.Errorf("audit line does not record the failure:\n%s", errOut)
	}
}
