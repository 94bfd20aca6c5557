package runbook

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nexus-compliance/nexus/aws/awsfake"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
)

// service is an in-test science or Strands service: /health always 200,
// /ready 200 or 503 as ready says.
func service(t *testing.T, ready *atomic.Bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/health":
			_, _ = w.Write([]byte(`{"status":"ok"}`))
		case r.URL.Path == "/ready" && ready.Load():
			_, _ = w.Write([]byte(`{"status":"ready"}`))
		case r.URL.Path == "/ready":
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"loading"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

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
	sci, str := service(t, &sciReady), service(t, &strReady)
	ecsSrv := awsfake.NewECSServer(t)
	for name, running := range map[string]int{"NexusECSService": 2, "NexusStrandsAgentService": strandsRunning} {
		ecsSrv.SetService(awsfake.ECSService{Cluster: "nexus", Name: name, Desired: 2, Running: running,
			Deployments: []awsfake.ECSDeployment{{ID: "ecs-svc/1", Status: "PRIMARY", RolloutState: "COMPLETED", Desired: 2, Running: running}}})
	}
	logsSrv := awsfake.NewLogsServer(t)
	logsSrv.AddLogsGroup("/ecs/NexusECSService")
	logsSrv.AddLogsGroup("/ecs/NexusStrandsAgentService")
	e := &env{vars: map[string]string{"SCIENCE_API_ENDPOINT": sci.URL, "STRANDS_SERVICE_ENDPOINT": str.URL}}
	return &ecsEnv{env: e, fk: fakes{ecs: ecsSrv, logs: logsSrv}, scienceReady: &sciReady, scienceURL: sci.URL}
}

func TestECSNotRespondingEndToEnd(t *testing.T) {
	t.Parallel()
	e := ecsSetup(t, 1, false) // Strands 1/2 running; science running but /ready 503
	now := time.Now()
	e.fk.logs.AddLogsEvents("/ecs/NexusStrandsAgentService",
		awsfake.LogsEvent{Timestamp: now.Add(-time.Minute).UnixMilli(), Message: "ERROR reasoning failed: timeout"},
		awsfake.LogsEvent{Timestamp: now.Add(-time.Minute).UnixMilli(), Message: "INFO all fine"})

	code, out, errOut := e.run(t, e.fk.tweak, "run", "ecs-not-responding", "--dry-run")
	if code != cmdutil.ExitProblems {
		t.Fatalf("dry run exit = %d, want 3\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"2 of 2 service(s) in cluster nexus unhealthy", "GET " + e.scienceURL + "/ready: HTTP 503 loading",
		"NexusStrandsAgentService is unhealthy: 1 of 2 task(s) running", "/ecs/NexusStrandsAgentService: 1 event(s) matching \"ERROR\"",
		"latest: ERROR reasoning failed: timeout", "would force a new deployment of ECS service NexusECSService",
		"would force a new deployment of ECS service NexusStrandsAgentService", "nexus gpu check", "Dry run: 2 change(s) planned, none made"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry-run output lacks %q:\n%s", want, out)
		}
	}
	if u := e.fk.ecs.Updates(); len(u) != 0 {
		t.Errorf("dry run called UpdateService: %+v", u)
	}

	code, out, errOut = e.run(t, e.fk.tweak, "run", "ecs-not-responding", "--yes")
	if code != cmdutil.ExitOK {
		t.Fatalf("--yes exit = %d, want 0\n%s\n%s", code, out, errOut)
	}
	u := e.fk.ecs.Updates()
	if len(u) != 2 || !u[0].ForceNewDeployment || !u[1].ForceNewDeployment || u[0].Cluster != "nexus" ||
		u[0].Service+","+u[1].Service != "NexusECSService,NexusStrandsAgentService" {
		t.Errorf("UpdateService calls = %+v", u)
	}
	if !strings.Contains(errOut, "runbook.ecs-not-responding result=ok") || !strings.Contains(errOut, "changed=2") {
		t.Errorf("audit line:\n%s", errOut)
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
}

func TestECSNotRespondingHealthy(t *testing.T) {
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
