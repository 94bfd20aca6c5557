package health

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/awsfake"
	"github.com/nexus-compliance/nexus/aws/awstest"
	"github.com/nexus-compliance/nexus/aws/cw"
	"github.com/nexus-compliance/nexus/aws/dynamo/dynamotest"
	"github.com/nexus-compliance/nexus/aws/ecsx"
	"github.com/nexus-compliance/nexus/aws/queue/queuetest"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
	"github.com/nexus-compliance/nexus/pipeline"
)

func execute(cmd *cobra.Command, args ...string) error {
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cmdutil.FlagError{Err: err} })
	return cmd.ExecuteContext(context.Background())
}

func TestNewCmdHealthFlags(t *testing.T) {
	f, _ := cmdtest.Factory(t, nil)
	var got *Options
	if err := execute(NewCmdHealth(f, func(o *Options) error { got = o; return nil }), "--only", "ecs,dlq", "--stuck-warn", "2", "--stuck-fail", "5"); err != nil || got == nil {
		t.Fatalf("%v", err)
	}
	if strings.Join(got.Only, "|") != "ecs|dlq" || got.StuckWarn != 2 || got.StuckFail != 5 || got.StuckAge != 30*time.Minute {
		t.Errorf("opts = %+v", got)
	}
	for _, args := range [][]string{{"--only", "bogus"}, {"--stuck-warn", "5", "--stuck-fail", "2"}, {"extra"}, {"--check-timeout", "0s"}} {
		if err := execute(NewCmdHealth(f, func(*Options) error { return nil }), args...); cmdutil.ExitCode(err) != cmdutil.ExitUsage && err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

// env is a healthy environment: fakes for CloudWatch and ECS, the emulators
// for SQS and DynamoDB, and an in-test science and Strands service.
type env struct {
	opts    *Options
	streams *cmdtest.Streams
	f       *cmdutil.Factory
	cw      *awsfake.CWServer
	ecs     *awsfake.ECSServer
	dlqURL  string
	ready   *atomic.Bool
}

func setup(t *testing.T, args ...string) *env {
	t.Helper()
	sqsAPI := awstest.SQS(t)
	mainURL, dlqURL := queuetest.Queues(t, sqsAPI)
	ddb, tables := dynamotest.Setup(t)
	now := time.Now().UTC()
	dynamotest.Put(t, ddb, tables.Jobs,
		pipeline.Job{JobID: "fresh", Status: pipeline.JobPending, CreatedAt: now.Add(-time.Minute).Format(time.RFC3339)},
		pipeline.Job{JobID: "done", Status: pipeline.JobCompleted, CreatedAt: now.Add(-2 * time.Hour).Format(time.RFC3339)})

	ready := new(atomic.Bool)
	ready.Store(true)
	svc := cmdtest.Service(t, ready)

	cwSrv := awsfake.NewCWServer(t)
	cwSrv.SetAlarms(awsfake.CWAlarm{Name: "nexus-queue-backlog", State: "OK", Updated: now, Namespace: "AWS/SQS", MetricName: "ApproximateNumberOfMessagesVisible",
		Statistic: "Average", Comparison: "GreaterThanThreshold", Threshold: 100, Period: 300, Evaluation: 1})
	cwSrv.PutMetric("AWS/SQS", "ApproximateAgeOfOldestMessage", map[string]string{"QueueName": queueName(mainURL)}, awsfake.CWDatapoint{Time: now.Add(-2 * time.Minute), Value: 42})
	ecsSrv := awsfake.NewECSServer(t)
	for _, name := range []string{"NexusECSService", "NexusStrandsAgentService"} {
		ecsSrv.SetService(awsfake.ECSService{Cluster: "nexus", Name: name, Desired: 2, Running: 2,
			Deployments: []awsfake.ECSDeployment{{ID: "ecs-svc/1", Status: "PRIMARY", RolloutState: "COMPLETED", Desired: 2, Running: 2}}})
	}

	vars := dynamotest.Vars(tables)
	vars["MAIN_QUEUE_URL"], vars["DLQ_URL"] = mainURL, dlqURL
	vars["SCIENCE_API_ENDPOINT"], vars["STRANDS_SERVICE_ENDPOINT"] = svc.URL, svc.URL
	f, streams := cmdtest.Factory(t, vars)
	var opts *Options
	pre := []string{"--skip", "executions"} // no Step Functions unless a test asks for exactly that check
	if slices.Contains(args, "executions") {
		pre = nil
	}
	if err := execute(NewCmdHealth(f, func(o *Options) error { opts = o; return nil }), append(pre, args...)...); err != nil {
		t.Fatal(err)
	}
	fast := func(o *cloudwatch.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
		})
	}
	opts.CloudWatch = func(context.Context) (cw.API, error) { return cwSrv.CWClient(fast), nil }
	opts.ECS = func(context.Context) (ecsx.API, error) { return ecsSrv.ECSClient(), nil }
	return &env{opts: opts, streams: streams, f: f, cw: cwSrv, ecs: ecsSrv, dlqURL: dlqURL, ready: ready}
}

func queueName(url string) string { return url[strings.LastIndexByte(url, '/')+1:] }

func (e *env) report(t *testing.T) (Report, error) {
	t.Helper()
	e.f.Flags.Output = "json"
	err := healthRun(e.opts)
	var r Report
	if jerr := json.Unmarshal(e.streams.Out.Bytes(), &r); jerr != nil {
		t.Fatalf("%v\n%s", jerr, e.streams.Out)
	}
	return r, err
}

func find(t *testing.T, r Report, name string) Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %s in %+v", name, r.Checks)
	return Check{}
}

func TestHealthAllOKOnFake(t *testing.T) {
	t.Parallel()
	e := setup(t)
	if err := healthRun(e.opts); err != nil {
		t.Fatalf("%v\n%s", err, e.streams.Out)
	}
	out := e.streams.Out.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 11 {
		t.Fatalf("want 11 checks:\n%s", out)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "OK\t") {
			t.Errorf("not OK: %q", l)
		}
	}
	for _, want := range []string{"OK\tecs-science\t2/2 running, 0 pending\t(running = desired)", "OK\tqueue-age\t42s\t(> 3600 s)", "OK\tdlq\t0 messages\t(> 0)", "OK\tstuck-jobs\t0 PENDING > 30m0s"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestHealthJSONShapeAndDLQFailOnFake(t *testing.T) {
	t.Parallel()
	e := setup(t)
	queuetest.Seed(t, awstest.SQS(t), e.dlqURL, 1)
	e.f.Flags.Output = "json"
	if err := healthRun(e.opts); cmdutil.ExitCode(err) != cmdutil.ExitProblems || !strings.Contains(err.Error(), "dlq") {
		t.Fatalf("err = %v", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(e.streams.Out.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	if raw["status"] != "FAIL" || raw["environment"] != "default" {
		t.Errorf("top level = %v", raw)
	}
	checks := raw["checks"].([]any)
	first := checks[0].(map[string]any)
	for _, k := range []string{"name", "status", "value", "threshold", "detail"} {
		if _, ok := first[k]; !ok || len(first) != 5 {
			t.Errorf("check keys = %v", first)
		}
	}
	var r Report
	_ = json.Unmarshal(e.streams.Out.Bytes(), &r)
	if c := find(t, r, "dlq"); c.Status != StatusFail || c.Value != "1 messages" {
		t.Errorf("dlq = %+v", c)
	}
}

func TestHealthAlarmAndECSFailOnFake(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.cw.SetAlarms(awsfake.CWAlarm{Name: "nexus-dlq-not-empty", State: "ALARM", Updated: time.Now(), Namespace: "AWS/SQS", MetricName: "ApproximateNumberOfMessagesVisible",
		Statistic: "Maximum", Comparison: "GreaterThanThreshold", Period: 60, Evaluation: 1})
	e.ecs.SetService(awsfake.ECSService{Cluster: "nexus", Name: "NexusECSService", Desired: 2, Running: 1,
		Deployments: []awsfake.ECSDeployment{{ID: "ecs-svc/1", Status: "PRIMARY", RolloutState: "COMPLETED", Desired: 2, Running: 1}}})
	e.ecs.SetService(awsfake.ECSService{Cluster: "nexus", Name: "NexusStrandsAgentService", Desired: 1, Running: 1, Deployments: []awsfake.ECSDeployment{
		{ID: "ecs-svc/9", Status: "PRIMARY", RolloutState: "FAILED", Reason: "ECS deployment circuit breaker: tasks failed to start"},
		{ID: "ecs-svc/8", Status: "ACTIVE", RolloutState: "COMPLETED", Desired: 1, Running: 1}}})
	e.ready.Store(false)
	r, err := e.report(t)
	if cmdutil.ExitCode(err) != cmdutil.ExitProblems || r.Status != StatusFail {
		t.Fatalf("%v %+v", err, r)
	}
	if c := find(t, r, "alarms"); c.Status != StatusFail || c.Value != "1 in ALARM" || c.Detail != "nexus-dlq-not-empty" {
		t.Errorf("alarms = %+v", c)
	}
	if c := find(t, r, "ecs-science"); c.Status != StatusFail || c.Value != "1/2 running, 0 pending" || !strings.Contains(c.Detail, "1 task(s) missing") {
		t.Errorf("ecs-science = %+v", c)
	}
	if c := find(t, r, "ecs-strands"); c.Status != StatusFail || !strings.Contains(c.Detail, "circuit breaker") {
		t.Errorf("ecs-strands = %+v", c)
	}
	if c := find(t, r, "science-ready"); c.Status != StatusFail || c.Value != "HTTP 503 loading" {
		t.Errorf("science-ready = %+v", c)
	}
	if c := find(t, r, "science-health"); c.Status != StatusOK {
		t.Errorf("science-health = %+v", c)
	}
}

func TestHealthUnconfiguredAndUnavailableWarnOnFake(t *testing.T) {
	t.Parallel()
	e := setup(t, "--only", "endpoints,queue-age,ecs-science,executions", "--skip", "strands-ready")
	env, err := e.opts.Environment()
	if err != nil {
		t.Fatal(err)
	}
	env.StrandsURL, env.StateMachineARN = "", ""
	e.cw.Deny("GetMetricData")
	e.ecs.Deny()
	r, err := e.report(t)
	if err != nil || r.Status != StatusWarn {
		t.Fatalf("%v %+v", err, r)
	}
	names := []string{}
	for _, c := range r.Checks {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "ecs-science,science-health,science-ready,strands-health,queue-age" {
		t.Errorf("selected %v", names)
	}
	if c := find(t, r, "strands-health"); c.Status != StatusWarn || c.Value != "not configured" {
		t.Errorf("strands-health = %+v", c)
	}
	if c := find(t, r, "queue-age"); c.Status != StatusWarn || !strings.Contains(c.Detail, "AccessDenied") {
		t.Errorf("queue-age = %+v", c)
	}
	if c := find(t, r, "ecs-science"); c.Status != StatusWarn || !strings.Contains(c.Detail, "AccessDenied") {
		t.Errorf("ecs-science = %+v", c)
	}
}

func TestHealthThrottledAlarmsRetriedThenOKOnFake(t *testing.T) {
	t.Parallel()
	e := setup(t, "--only", "alarms")
	e.cw.Throttle("DescribeAlarms", 2)
	r, err := e.report(t)
	if err != nil || r.Status != StatusOK || len(r.Checks) != 1 || r.Checks[0].Value != "0 in ALARM" {
		t.Fatalf("%v %+v", err, r)
	}
	if n := e.cw.Calls("DescribeAlarms"); n != 3 {
		t.Errorf("DescribeAlarms calls = %d, want 2 throttled + 1", n)
	}
}

func TestHealthStuckJobsOnFake(t *testing.T) {
	t.Parallel()
	e := setup(t, "--only", "stuck-jobs", "--stuck-fail", "2")
	ddb := awstest.DynamoDB(t)
	env, _ := e.opts.Environment()
	old := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	dynamotest.Put(t, ddb, env.Tables.Jobs, pipeline.Job{JobID: "old-1", Status: pipeline.JobPending, CreatedAt: old})
	r, err := e.report(t)
	if err != nil || r.Checks[0].Status != StatusWarn || !strings.HasPrefix(r.Checks[0].Value, "1 PENDING") {
		t.Fatalf("%v %+v", err, r)
	}
	dynamotest.Put(t, ddb, env.Tables.Jobs, pipeline.Job{JobID: "old-2", Status: pipeline.JobPending, CreatedAt: old})
	e.streams.Out.Reset()
	r, err = e.report(t)
	if cmdutil.ExitCode(err) != cmdutil.ExitProblems || r.Checks[0].Status != StatusFail {
		t.Fatalf("%v %+v", err, r)
	}
}

// TestHealthFailedExecutionsWarn runs the executions check against the fake
// Step Functions endpoint (no emulator with executions runs here).
func TestHealthFailedExecutionsWarnOnFake(t *testing.T) {
	t.Parallel()
	const sm = "arn:aws:states:us-east-1:123456789012:stateMachine:NexusMapping"
	e := setup(t, "--only", "executions")
	env, err := e.opts.Environment()
	if err != nil {
		t.Fatal(err)
	}
	env.StateMachineARN = sm
	s := awsfake.NewSFNServer(t)
	now := time.Now().UTC()
	s.AddExecution(awsfake.SFNExecution{ARN: strings.Replace(sm, ":stateMachine:", ":execution:", 1) + ":job-1", Name: "job-1", StateMachineARN: sm,
		Status: "FAILED", Start: now.Add(-10 * time.Minute), Stop: now.Add(-9 * time.Minute), Input: `{"job_id":"job-1"}`})
	s.AddExecution(awsfake.SFNExecution{ARN: strings.Replace(sm, ":stateMachine:", ":execution:", 1) + ":job-0", Name: "job-0", StateMachineARN: sm,
		Status: "FAILED", Start: now.Add(-3 * time.Hour), Stop: now.Add(-3 * time.Hour), Input: `{"job_id":"job-0"}`})
	e.opts.SFN = func(context.Context) (ExecutionsAPI, error) { return s.SFNClient(), nil }
	r, err := e.report(t)
	if err != nil {
		t.Fatal(err)
	}
	c := find(t, r, "executions")
	if c.Status != StatusWarn || !strings.Contains(c.Value, "1") {
		t.Fatalf("executions check = %+v (only the failure of the last hour counts)", c)
	}
}
