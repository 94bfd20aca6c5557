package runbook

import (
	"strings"
	"testing"
	"time"

	"github.com/nexus-compliance/nexus/aws/awsfake"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
)

func TestBedrockRateLimit(t *testing.T) {
	t.Parallel()
	now := time.Now()
	cwSrv := awsfake.NewCWServer(t)
	cwSrv.PutMetric("AWS/Bedrock", "InvocationThrottles", nil, awsfake.CWDatapoint{Time: now.Add(-3 * time.Minute), Value: 8},
		awsfake.CWDatapoint{Time: now.Add(-2 * time.Minute), Value: 4})
	cwSrv.PutMetric("AWS/Bedrock", "InvocationServerErrors", nil, awsfake.CWDatapoint{Time: now.Add(-2 * time.Minute), Value: 1})
	cwSrv.PutMetric("AWS/Bedrock", "InvocationServerErrors", map[string]string{"ModelId": "anthropic.claude-v2"},
		awsfake.CWDatapoint{Time: now.Add(-2 * time.Minute), Value: 3})
	logsSrv := awsfake.NewLogsServer(t)
	logsSrv.AddLogsGroup("/ecs/NexusStrandsAgentService")
	logsSrv.AddLogsEvents("/ecs/NexusStrandsAgentService",
		awsfake.LogsEvent{Timestamp: now.Add(-time.Minute).UnixMilli(), Message: "botocore.errorfactory.ThrottlingException: Too many requests"},
		awsfake.LogsEvent{Timestamp: now.Add(-time.Minute).UnixMilli(), Message: "INFO reasoning done"})
	e := &env{vars: map[string]string{}}
	fk := fakes{cw: cwSrv, logs: logsSrv}

	code, out, errOut := e.run(t, fk.tweak, "run", "bedrock-rate-limit")
	if code != cmdutil.ExitProblems {
		t.Fatalf("exit = %d, want 3\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"all models: 12 throttled, 0 client error(s), 1 server error(s) in the last 15m0s",
		"/ecs/NexusStrandsAgentService: 1 event(s) matching \"ThrottlingException\"", "/aws/lambda/NexusReasoningAgentLambda: log group not found",
		"Service Quotas", "MaxConcurrency 5", "exponential backoff", "A hard quota was hit: not needed", "Summary: problems — 2 problem(s)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "runbook.bedrock-rate-limit result=ok") {
		t.Errorf("audit line:\n%s", errOut)
	}

	// Above the threshold nothing counts; the server errors still show.
	code, out, _ = e.run(t, fk.tweak, "run", "bedrock-rate-limit", "--param", "threshold=12")
	if code != cmdutil.ExitOK || !strings.Contains(out, "Summary: healthy") || !strings.Contains(out, "1 invocation error(s)") {
		t.Errorf("threshold=12: exit %d\n%s", code, out)
	}
	// One model: its own series.
	code, out, _ = e.run(t, fk.tweak, "run", "bedrock-rate-limit", "--param", "model_id=anthropic.claude-v2", "--param", "threshold=5")
	if code != cmdutil.ExitOK || !strings.Contains(out, "anthropic.claude-v2: 0 throttled, 0 client error(s), 3 server error(s)") {
		t.Errorf("model_id: exit %d\n%s", code, out)
	}
	if code, _, errOut := e.run(t, fk.tweak, "run", "bedrock-rate-limit", "--param", "model_id=a b"); code != cmdutil.ExitUsage || !strings.Contains(errOut, "does not match") {
		t.Errorf("bad model id: exit %d\n%s", code, errOut)
	}
}

func latencySetup(t *testing.T, rows []map[string]string, queueAge float64) (*env, fakes) {
	t.Helper()
	cwSrv := awsfake.NewCWServer(t)
	cwSrv.PutMetric("AWS/SQS", "ApproximateAgeOfOldestMessage", map[string]string{"QueueName": "MappingRequestQueue"},
		awsfake.CWDatapoint{Time: time.Now().Add(-2 * time.Minute), Value: queueAge})
	logsSrv := awsfake.NewLogsServer(t)
	logsSrv.SetLogsQueryResults("duration_ms", rows)
	ecsSrv := awsfake.NewECSServer(t)
	for _, name := range []string{"NexusECSService", "NexusStrandsAgentService"} {
		ecsSrv.SetService(awsfake.ECSService{Cluster: "nexus", Name: name, Desired: 2, Running: 2,
			Deployments: []awsfake.ECSDeployment{{ID: "ecs-svc/1", Status: "PRIMARY", RolloutState: "COMPLETED", Desired: 2, Running: 2}}})
	}
	return &env{vars: map[string]string{}}, fakes{cw: cwSrv, logs: logsSrv, ecs: ecsSrv}
}

func TestHighLatency(t *testing.T) {
	t.Parallel()
	e, fk := latencySetup(t, []map[string]string{
		{"stage": "reason", "n": "10", "avg_ms": "20000", "p95_ms": "40000", "max_ms": "45000"},
		{"stage": "embed", "n": "10", "avg_ms": "9000", "p95_ms": "25000.5", "max_ms": "30000"},
		{"stage": "validate", "n": "10", "avg_ms": "20", "p95_ms": "50", "max_ms": "80"},
	}, 1200)
	code, out, errOut := e.run(t, fk.tweak, "run", "high-latency")
	if code != cmdutil.ExitProblems {
		t.Fatalf("exit = %d, want 3\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"slowest stage: reason (p95 40s, threshold 1m0s); 1 of 3 stage(s) above their threshold in the last 1h0m0s",
		"embed: p95 25.001s (threshold 10s), avg 9s, max 30s over 10 call(s)", "MappingRequestQueue: oldest message 20m0s old",
		"0 of 2 service(s) in cluster nexus unhealthy", "Slow GPU stages (embed, retrieve, rerank): slow: embed",
		"nexus gpu check", "Bedrock stages are slow: not needed", "DynamoDB-bound stages are slow: not needed",
		"Requests wait longer than 15m0s", "Summary: problems — 2 problem(s)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if len(fk.ecs.Updates()) != 0 {
		t.Errorf("high-latency changed a service: %+v", fk.ecs.Updates())
	}
	// A stricter reason threshold makes it slow too.
	code, out, _ = e.run(t, fk.tweak, "run", "high-latency", "--param", "stage_thresholds=reason=30s", "--param", "max_queue_age=1h")
	if code != cmdutil.ExitProblems || !strings.Contains(out, "2 of 3 stage(s)") || !strings.Contains(out, "Bedrock stages are slow: enrich and reason") {
		t.Errorf("stage_thresholds: exit %d\n%s", code, out)
	}
	if code, _, errOut := e.run(t, fk.tweak, "run", "high-latency", "--param", "stage_thresholds=reason"); code != cmdutil.ExitUsage || !strings.Contains(errOut, "does not match") {
		t.Errorf("bad stage_thresholds: exit %d\n%s", code, errOut)
	}
}

func TestHighLatencyHealthy(t *testing.T) {
	t.Parallel()
	e, fk := latencySetup(t, []map[string]string{{"stage": "embed", "n": "3", "avg_ms": "100", "p95_ms": "200", "max_ms": "250"}}, 5)
	code, out, errOut := e.run(t, fk.tweak, "run", "high-latency", "-o", "json")
	if code != cmdutil.ExitOK || !strings.Contains(out, `"result": "healthy"`) {
		t.Errorf("healthy: exit %d\n%s\n%s", code, out, errOut)
	}
}
