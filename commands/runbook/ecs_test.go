package runbook

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nexus-compliance/nexus/aws/awsfake"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
)

type ecsEnv struct {
	*env
	fk           fakes
	scienceReady *atomic.Bool
	scienceURL   string
}

func ecsSetup(t *testing.T, strandsRunning int, scienceReady bool) *ecsEnv {
	t.Helper()
	var sciReady, strReady atomic.Bool
	sciReady.Store(scienceReady)
	strReady.Store(true)
	sci, str := cmdtest.Service(t, &sciReady), cmdtest.Service(t, &strReady)
	ecsSrv := awsfake.NewECSServer(t)
	for name, running := range map[string]int{"NexusECSService": 2, "NexusStrandsAgentService": strandsRunning} {
		ecsSrv.SetService(awsfake.ECSService{Cluster: "nexus", Name: name, Desired: 2, Running: running,
			Deployments: []awsfake.ECSDeployment{{ID: "ecs-svc/1", Status: "PRIMARY", RolloutState: "COMPLETED", Desired: 2, Running: running}}})
	}
	logsSrv := awsfake.NewLogsServer(t)
	logsSrv.AddLogsGroup("/ecs/NexusECSService")
	logsSrv.AddLogsGroup("/ecs/NexusStrandsAgentService")
	cwSrv := awsfake.NewCWServer(t)
	sfnSrv := awsfake.NewSFNServer(t)
	// The fake knows a state machine by its executions.
	sfnSrv.AddExecution(awsfake.SFNExecution{ARN: "arn:aws:states:us-east-1:123456789012:execution:NexusMapping:job-ok", Name: "job-ok",
		StateMachineARN: stateMachine, Status: "SUCCEEDED", Start: time.Now().Add(-time.Hour), Stop: time.Now().Add(-59 * time.Minute), Input: `{"job_id":"job-ok"}`})
	e := &env{vars: map[string]string{"SCIENCE_API_ENDPOINT": sci.URL, "STRANDS_SERVICE_ENDPOINT": str.URL, "STATE_MACHINE_ARN": stateMachine}}
	return &ecsEnv{env: e, fk: fakes{ecs: ecsSrv, logs: logsSrv, cw: cwSrv, sfn: sfnSrv}, scienceReady: &sciReady, scienceURL: sci.URL}
}

const stateMachine = "arn:aws:states:us-east-1:123456789012:stateMachine:NexusMapping"

// failedExecution adds a FAILED execution of job whose failing Lambda
// raised errType: msg.
func failedExecution(s *awsfake.SFNServer, job, errType, msg string, at time.Time) string {
	arn := "arn:aws:states:us-east-1:123456789012:execution:NexusMapping:" + job
	cause := `{"errorType":"` + errType + `","errorMessage":"` + msg + `","stackTrace":[]}`
	s.AddExecution(awsfake.SFNExecution{ARN: arn, Name: job, StateMachineARN: stateMachine, Status: "FAILED", Start: at.Add(-time.Minute), Stop: at,
		Input: `{"job_id":"` + job + `","control_key":"AWS.EC2#1.0#PR.1","target_framework_key":"NIST-SP-800-53#R5"}`, Error: errType, Cause: cause,
		Events: []awsfake.SFNEvent{
			{Type: "ExecutionStarted", Time: at.Add(-time.Minute)},
			{Type: "TaskStateEntered", Time: at.Add(-50 * time.Second), Previous: 1, Details: map[string]any{"name": "RunScienceModel"}},
			{Type: "LambdaFunctionFailed", Time: at, Previous: 2, Details: map[string]any{"error": errType, "cause": cause}},
			{Type: "ExecutionFailed", Time: at, Previous: 3, Details: map[string]any{"error": errType, "cause": cause}},
		}})
	return arn
}

func TestECSNotRespondingEndToEndWithFakeECS(t *testing.T) {
	t.Parallel()
	e := ecsSetup(t, 1, false) // Strands 1/2 running; science running but /ready 503
	now := time.Now()
	e.fk.logs.AddLogsEvents("/ecs/NexusStrandsAgentService",
		awsfake.LogsEvent{Timestamp: now.Add(-time.Minute).UnixMilli(), Message: "ERROR reasoning failed: timeout"},
		awsfake.LogsEvent{Timestamp: now.Add(-time.Minute).UnixMilli(), Message: "INFO all fine"})
	e.fk.cw.SetAlarms(awsfake.CWAlarm{Name: "Nexus-ScienceService-Unhealthy", State: "ALARM", Reason: "Threshold Crossed: 1 datapoint [0.0] < 1.0",
		Updated: now.Add(-10 * time.Minute), Namespace: "AWS/ECS", MetricName: "RunningTaskCount", Statistic: "Minimum", Comparison: "LessThanThreshold", Threshold: 1, Period: 60, Evaluation: 1},
		awsfake.CWAlarm{Name: "Nexus-DLQ-NotEmpty", State: "OK", Namespace: "AWS/SQS", MetricName: "ApproximateNumberOfMessagesVisible", Statistic: "Maximum", Comparison: "GreaterThanThreshold", Period: 60, Evaluation: 1})
	down := failedExecution(e.fk.sfn, "job-down", "ConnectionError", "HTTPConnectionPool(host='science.nexus.local', port=8000): Max retries exceeded", now.Add(-20*time.Minute))
	bad := failedExecution(e.fk.sfn, "job-bad", "ControlNotFoundError", "Control AWS.EC2#1.0#PR.1 not found", now.Add(-15*time.Minute))

	code, out, errOut := e.run(t, e.fk.tweak, "run", "ecs-not-responding", "--dry-run")
	if code != cmdutil.ExitProblems {
		t.Fatalf("dry run exit = %d, want 3\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"2 of 2 service(s) in cluster nexus unhealthy", "GET " + e.scienceURL + "/ready: HTTP 503 loading",
		"NexusStrandsAgentService is unhealthy: 1 of 2 task(s) running", "/ecs/NexusStrandsAgentService: 1 event(s) matching \"ERROR\"",
		"latest: ERROR reasoning failed: timeout", "1 alarm(s) in ALARM among the account", "Nexus-ScienceService-Unhealthy in ALARM for 10m",
		"1 execution(s) failed, timed out or were aborted in the last 6h0m0s with an error matching", "job-down  job job-down  FAILED",
		"would force a new deployment of ECS service NexusECSService",
		"would force a new deployment of ECS service NexusStrandsAgentService", "held back: services.count = 2, > 0 is true",
		"nexus gpu check", "Dry run: 2 change(s) planned, none made"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry-run output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "job-bad") {
		t.Errorf("an execution that failed for another reason is listed:\n%s", out)
	}
	if u := e.fk.ecs.Updates(); len(u) != 0 {
		t.Errorf("dry run called UpdateService: %+v", u)
	}

	// --yes redeploys both services; the failed execution waits for them.
	code, out, errOut = e.run(t, e.fk.tweak, "run", "ecs-not-responding", "--yes")
	if code != cmdutil.ExitProblems || !strings.Contains(out, "held back: services.count = 2") {
		t.Fatalf("--yes exit = %d, want 3 (the replay waits)\n%s\n%s", code, out, errOut)
	}
	u := e.fk.ecs.Updates()
	if len(u) != 2 || !u[0].ForceNewDeployment || !u[1].ForceNewDeployment || u[0].Cluster != "nexus" ||
		u[0].Service+","+u[1].Service != "NexusECSService,NexusStrandsAgentService" {
		t.Errorf("UpdateService calls = %+v", u)
	}
	if !strings.Contains(errOut, "runbook.ecs-not-responding result=ok") || !strings.Contains(errOut, "changed=2") {
		t.Errorf("audit line:\n%s", errOut)
	}
	if x, _ := e.fk.sfn.Execution(down); x.Status != "FAILED" {
		t.Errorf("job-down's execution was redriven while the services were down: %s", x.Status)
	}

	// Only science asked for, with the log error threshold at 0: the
	// science service still fails /ready (a forced deployment is in progress
	// now), and the Strands log error counts.
	code, out, _ = e.run(t, e.fk.tweak, "run", "ecs-not-responding", "--dry-run", "--param", "service=science", "--param", "max_errors=0")
	if code != cmdutil.ExitProblems || !strings.Contains(out, "1 of 1 service(s)") || !strings.Contains(out, "rolling out") ||
		!strings.Contains(out, "1 of 2 log group(s) have more than 0") {
		t.Errorf("science only: exit %d\n%s", code, out)
	}
	if len(e.fk.ecs.Updates()) != 2 {
		t.Errorf("dry run called UpdateService: %+v", e.fk.ecs.Updates())
	}

	// The new tasks are up: the next run replays the execution the outage
	// failed, and only that one.
	e.scienceReady.Store(true)
	e.fk.ecs.SetService(awsfake.ECSService{Cluster: "nexus", Name: "NexusStrandsAgentService", Desired: 2, Running: 2,
		Deployments: []awsfake.ECSDeployment{{ID: "ecs-svc/2", Status: "PRIMARY", RolloutState: "COMPLETED", Desired: 2, Running: 2}}})
	code, out, errOut = e.run(t, e.fk.tweak, "run", "ecs-not-responding", "--yes")
	if code != cmdutil.ExitOK || !strings.Contains(out, "redrive failed executions: 1 done, 0 failed") {
		t.Fatalf("after recovery: exit %d\n%s\n%s", code, out, errOut)
	}
	if x, _ := e.fk.sfn.Execution(down); x.Status != "RUNNING" || x.RedriveCount != 1 {
		t.Errorf("job-down's execution after recovery = %s, redriven %d time(s)", x.Status, x.RedriveCount)
	}
	if x, _ := e.fk.sfn.Execution(bad); x.Status != "FAILED" {
		t.Errorf("job-bad's execution = %s; it did not fail on the outage", x.Status)
	}
	code, out, _ = e.run(t, e.fk.tweak, "run", "ecs-not-responding", "--yes")
	if code != cmdutil.ExitOK || !strings.Contains(out, "0 execution(s) failed") || len(e.fk.ecs.Updates()) != 2 {
		t.Errorf("third run: exit %d\n%s", code, out)
	}
}

func TestECSNotRespondingHealthyWithFakeECS(t *testing.T) {
	t.Parallel()
	e := ecsSetup(t, 2, true)
	code, out, errOut := e.run(t, e.fk.tweak, "run", "ecs-not-responding", "--yes")
	if code != cmdutil.ExitOK || !strings.Contains(out, "0 of 2 service(s)") || !strings.Contains(out, "Summary: healthy") {
		t.Errorf("healthy: exit %d\n%s\n%s", code, out, errOut)
	}
	if len(e.fk.ecs.Updates()) != 0 {
		t.Errorf("healthy run called UpdateService: %+v", e.fk.ecs.Updates())
	}
	e.fk.ecs.Deny()
	code, out, _ = e.run(t, e.fk.tweak, "run", "ecs-not-responding", "--dry-run")
	if code != cmdutil.ExitError || !strings.Contains(out, "could not check: AccessDeniedException") {
		t.Errorf("denied: exit %d\n%s", code, out)
	}
}
