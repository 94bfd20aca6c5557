package logs

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nexus-compliance/nexus/aws/awsfake"
	awslogs "github.com/nexus-compliance/nexus/aws/logs"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
	"github.com/nexus-compliance/nexus/commands/settings"
)

var t0 = time.Date(2025, 12, 4, 10, 0, 0, 0, time.UTC)

func ms(d time.Duration) int64 { return t0.Add(d).UnixMilli() }

func setup(t *testing.T) (*cmdutil.Factory, *cmdtest.Streams, *awsfake.LogsServer) {
	f, st := cmdtest.Factory(t, map[string]string{"NEXUS_LOG_GROUP_ECS_SERVICE": "/ecs/dev-science"})
	f.Now = func() time.Time { return t0.Add(time.Hour) }
	s := awsfake.NewLogsServer(t)
	s.SetLogsPageSize(1)
	for _, c := range settings.Components {
		s.AddLogsGroup(c.DefaultGroup)
	}
	s.AddLogsGroup("/ecs/dev-science")
	s.AddLogsEvents("/aws/lambda/NexusAsyncAPIHandlerLambda",
		awsfake.LogsEvent{Timestamp: ms(time.Minute), Message: "created job job-1"},
		awsfake.LogsEvent{Timestamp: ms(3 * time.Minute), Message: `{"level":"INFO","job_id":"job-2"}`})
	s.AddLogsEvents("/ecs/dev-science",
		awsfake.LogsEvent{Timestamp: ms(2 * time.Minute), Message: "embed job-1 took 40ms"},
		awsfake.LogsEvent{Timestamp: ms(4 * time.Minute), Message: "rerank job-2"})
	return f, st, s
}

func deps(f *cmdutil.Factory, s *awsfake.LogsServer) Deps {
	d := NewDeps(f)
	d.Logs = func(context.Context) (awslogs.API, error) { return s.LogsClient(), nil }
	return d
}

func TestComponentsJSONOnFake(t *testing.T) {
	f, st, _ := setup(t)
	f.Flags.Output = "json"
	cmd := NewCmdComponents(f, nil)
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	var comps []Component
	if err := json.Unmarshal(st.Out.Bytes(), &comps); err != nil || len(comps) != 12 {
		t.Fatalf("%v %s", err, st.Out)
	}
	if comps[9].Key != "ecs_service" || comps[9].LogGroup != "/ecs/dev-science" || comps[11].Name != "NexusMappingWorkflow" {
		t.Fatalf("%+v", comps)
	}
}

func runTail(t *testing.T, f *cmdutil.Factory, s *awsfake.LogsServer, args ...string) error {
	cmd := NewCmdTail(f, func(o *TailOptions) error {
		o.Deps = deps(f, s)
		o.pollInterval = 5 * time.Millisecond
		o.limiter = awslogs.NewLimiter(1000, 10)
		o.backoff = awslogs.Backoff{Initial: time.Millisecond}
		return tailRun(o)
	})
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	return cmd.Execute()
}

func TestTailMergesComponentsOffTTYOnFake(t *testing.T) {
	f, st, s := setup(t)
	if err := runTail(t, f, s, "--since", "2025-12-04T10:00:00Z"); err != nil {
		t.Fatal(err)
	}
	want := `10:01:00.000 async_api            created job job-1
10:02:00.000 ecs_service          embed job-1 took 40ms
10:03:00.000 async_api            {"level":"INFO","job_id":"job-2"}
10:04:00.000 ecs_service          rerank job-2
`
	if st.Out.String() != want {
		t.Fatalf("got\n%s", st.Out)
	}
	if n := len(s.LogsRequests("FilterLogEvents")); n != 12+2 { // every component, one page per event
		t.Fatalf("%d calls", n)
	}
}

func TestTailJobFilterAndTTYOnFake(t *testing.T) {
	f, st, s := setup(t)
	f.IOStreams.SetStdoutTTY(true)
	if err := runTail(t, f, s, "async_api", "NexusECSService", "--job", "job-2", "--since", "2h", "--format", "detailed"); err != nil {
		t.Fatal(err)
	}
	want := "2025-12-04T10:03:00.000Z async_api   stream-1 {\n  \"level\": \"INFO\",\n  \"job_id\": \"job-2\"\n}\n" +
		"2025-12-04T10:04:00.000Z ecs_service stream-1 rerank job-2\n"
	if st.Out.String() != want {
		t.Fatalf("got\n%q", st.Out)
	}
	for _, r := range s.LogsRequests("FilterLogEvents") {
		if r["filterPattern"] != `"job-2"` {
			t.Fatalf("pattern %v", r["filterPattern"])
		}
	}

	st.Out.Reset()
	if err := runTail(t, f, s, "async_api", "--grep", `job_id`, "--format", "json", "--since", "2h"); err != nil {
		t.Fatal(err)
	}
	var line map[string]string
	if err := json.Unmarshal(st.Out.Bytes(), &line); err != nil || line["component"] != "async_api" || line["message"] != `{"level":"INFO","job_id":"job-2"}` {
		t.Fatalf("%v %s", err, st.Out)
	}
}

func TestTailUsageErrorsOnFake(t *testing.T) {
	f, _, s := setup(t)
	for _, args := range [][]string{{"nosuch"}, {"--since", "yesterday"}, {"--format", "xml"}, {"--grep", "("}} {
		if err := runTail(t, f, s, args...); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
			t.Fatalf("%v: %v", args, err)
		}
	}
	if err := runTail(t, f, s, "/aws/lambda/Gone"); cmdutil.ExitCode(err) != cmdutil.ExitNotFound {
		t.Fatalf("missing group: %v", err)
	}
}

func TestTailFollowFallsBackDedupesAndEndsCleanlyOnFake(t *testing.T) {
	f, st, s := setup(t)
	s.ThrottleLogs(2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	cmd := NewCmdTail(f, func(o *TailOptions) error {
		o.Deps = deps(f, s)
		o.pollInterval = 5 * time.Millisecond
		o.limiter = awslogs.NewLimiter(1000, 10)
		o.backoff = awslogs.Backoff{Initial: time.Millisecond}
		return tailRun(o)
	})
	cmd.SetArgs([]string{"async_api", "ecs_service", "-f", "--since", "2h"})
	go func() { done <- cmd.ExecuteContext(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for s.LogsCalls("FilterLogEvents") < 20 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("follow ended with %v, want nil (exit 0)", err)
	}
	out := st.Out.String()
	if strings.Count(out, "\n") != 4 || strings.Count(out, "rerank job-2") != 1 {
		t.Fatalf("each event once:\n%s", out)
	}
	if !strings.Contains(st.ErrOut.String(), "live tail unavailable") || s.LogsCalls("StartLiveTail") != 1 {
		t.Fatalf("stderr %q", st.ErrOut)
	}
}

func runQuery(t *testing.T, f *cmdutil.Factory, s *awsfake.LogsServer, args ...string) error {
	cmd := NewCmdQuery(f, func(o *QueryOptions) error {
		o.Deps = deps(f, s)
		o.pollInterval = time.Millisecond
		return queryRun(o)
	})
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	return cmd.Execute()
}

func TestQuerySavedAndRowsOnFake(t *testing.T) {
	f, st, s := setup(t)
	s.SetLogsQueryResults("stats count(*) as errors by @log", []map[string]string{
		{"@log": "123:/ecs/dev-science", "errors": "7"}, {"@log": "123:/aws/lambda/NexusJobUpdaterLambda", "errors": "2"}})
	if err := runQuery(t, f, s, "errors-by-component", "--since", "24h"); err != nil {
		t.Fatal(err)
	}
	if got := st.Out.String(); got != "123:/ecs/dev-science\t7\n123:/aws/lambda/NexusJobUpdaterLambda\t2\n" {
		t.Fatalf("table off tty: %q", got)
	}
	req := s.LogsRequests("StartQuery")[0]
	if len(req["logGroupNames"].([]any)) != 12 || req["startTime"] != float64(t0.Add(-23*time.Hour).Unix()) {
		t.Fatalf("StartQuery %v", req)
	}

	st.Out.Reset()
	f.Flags.Output = "json"
	s.SetLogsQueryResults(`like "job-9"`, []map[string]string{{"@timestamp": "2025-12-04 10:00:00.000", "@message": "x"}})
	if err := runQuery(t, f, s, "job-trail", "--job", "job-9", "--group", "async_api"); err != nil {
		t.Fatal(err)
	}
	var res awslogs.QueryResult
	if err := json.Unmarshal(st.Out.Bytes(), &res); err != nil || len(res.Rows) != 1 || res.Rows[0]["@message"] != "x" {
		t.Fatalf("%v %s", err, st.Out)
	}
	if g := s.LogsRequests("StartQuery")[1]["logGroupNames"].([]any); len(g) != 1 || g[0] != "/aws/lambda/NexusAsyncAPIHandlerLambda" {
		t.Fatalf("groups %v", g)
	}
	if err := runQuery(t, f, s, "job-trail"); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Fatalf("job-trail without --job: %v", err)
	}
	if err := runQuery(t, f, s, "nosuch"); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Fatalf("unknown: %v", err)
	}
}

func TestQueryListOnFake(t *testing.T) {
	f, st, s := setup(t)
	if err := runQuery(t, f, s, "--list"); err != nil {
		t.Fatal(err)
	}
	for _, q := range SavedQueries {
		if !strings.Contains(st.Out.String(), q.Name+"\t") {
			t.Fatalf("%s missing:\n%s", q.Name, st.Out)
		}
	}
}
