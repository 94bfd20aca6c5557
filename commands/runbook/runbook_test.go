package runbook

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/nexus-compliance/nexus/aws/awstest"
	"github.com/nexus-compliance/nexus/aws/dynamo/dynamotest"
	"github.com/nexus-compliance/nexus/aws/queue"
	"github.com/nexus-compliance/nexus/aws/queue/queuetest"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/runbooks"
)

type env struct {
	vars map[string]string
	// tty makes stdin and stdout terminals, with stdin reading answers.
	tty             bool
	answers         string
	ddb             *dynamodb.Client
	sq              *sqs.Client
	mainURL, dlqURL string
	jobs            string
}

func setup(t *testing.T) *env {
	t.Helper()
	ddb, tables := dynamotest.Setup(t)
	sq := awstest.SQS(t)
	mainName, dlqName := awstest.UniqueName(t, "main"), awstest.UniqueName(t, "dlq")
	res, err := queue.EnsureQueues(context.Background(), sq, mainName, dlqName)
	if err != nil {
		t.Fatal(err)
	}
	vars := dynamotest.Vars(tables)
	vars["NEXUS_QUEUE_NAME"], vars["NEXUS_DLQ_NAME"] = mainName, dlqName
	vars["STATE_MACHINE_ARN"] = ""
	return &env{vars: vars, ddb: ddb, sq: sq, mainURL: res[1].URL, dlqURL: res[0].URL, jobs: tables.Jobs}
}

func job(id string, st pipeline.JobStatus, created time.Time) pipeline.Job {
	return pipeline.Job{JobID: id, Status: st, ControlKey: "AWS.ControlCatalog#1.0#" + id, TargetFrameworkKey: "NIST-SP-800-53#R5",
		TargetControlIDs: []string{"AC-1"}, CreatedAt: created.UTC().Format(time.RFC3339)}
}

func (e *env) send(t *testing.T, url string, j pipeline.Job) {
	t.Helper()
	b, _ := json.Marshal(pipeline.JobMessage{JobID: j.JobID, ControlKey: j.ControlKey, TargetFrameworkKey: j.TargetFrameworkKey, TargetControlIDs: j.TargetControlIDs})
	_, err := e.sq.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(url),
		Entries: []sqstypes.SendMessageBatchRequestEntry{{Id: aws.String("0"), MessageBody: aws.String(string(b))}}})
	if err != nil {
		t.Fatal(err)
	}
}

// jobIDs peeks a queue (receive, then restore visibility) and returns the job ids.
func (e *env) jobIDs(t *testing.T, url string) []string {
	t.Helper()
	msgs, err := queue.Peek(context.Background(), e.sq, url, 100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range msgs {
		if m.Job != nil {
			ids = append(ids, m.Job.JobID)
		}
	}
	return ids
}

func (e *env) run(t *testing.T, tweak func(*Options), args ...string) (code int, out, errOut string) {
	t.Helper()
	f, streams := cmdtest.Factory(t, e.vars)
	if e.tty {
		f.IOStreams.SetStdinTTY(true)
		f.IOStreams.SetStdoutTTY(true)
		streams.In.WriteString(e.answers)
	}
	if i := indexOf(args, "-o"); i >= 0 {
		f.Flags.Output = args[i+1]
		args = append(args[:i:i], args[i+2:]...)
	}
	var runF func(*Options) error
	if tweak != nil {
		runF = func(o *Options) error { tweak(o); return Run(o) }
	}
	cmd := newCmd(f, runF)
	cmd.SetArgs(args)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	if err != nil {
		streams.ErrOut.WriteString("error: " + err.Error() + "\n")
	}
	return cmdutil.ExitCode(err), streams.Out.String(), streams.ErrOut.String()
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func TestStuckPendingEndToEnd(t *testing.T) {
	t.Parallel()
	e := setup(t)
	old := time.Now().Add(-2 * time.Hour)
	inDLQ, lost := job("job-in-dlq", pipeline.JobPending, old), job("job-lost", pipeline.JobPending, old)
	dynamotest.Put(t, e.ddb, e.jobs, inDLQ, lost,
		job("job-fresh", pipeline.JobPending, time.Now()), // not old enough
		job("job-running", pipeline.JobRunning, old))      // not PENDING
	e.send(t, e.dlqURL, inDLQ)

	// Dry run: finds both, exits 3, changes nothing.
	code, out, errOut := e.run(t, nil, "run", "stuck-pending", "--dry-run")
	if code != cmdutil.ExitProblems {
		t.Fatalf("dry run exit = %d, want 3\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"job-in-dlq", "job-lost", "would move the message of job job-in-dlq", `would send {"job_id":"job-lost"`,
		"2 PENDING job(s)", "skipped: no state machine configured", "Dry run: 2 change(s) planned, none made"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry-run output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "job-fresh") || strings.Contains(out, "job-running") {
		t.Errorf("dry run lists a job that is not stuck:\n%s", out)
	}
	if got := e.jobIDs(t, e.dlqURL); len(got) != 1 || got[0] != "job-in-dlq" {
		t.Errorf("after dry run the DLQ holds %v, want [job-in-dlq]", got)
	}
	if st, err := queue.GetStats(context.Background(), e.sq, e.mainURL); err != nil || st.Total() != 0 {
		t.Errorf("after dry run the main queue holds %+v (%v), want nothing", st, err)
	}
	if !strings.Contains(errOut, "runbook.stuck-pending dry-run result=ok") {
		t.Errorf("no audit line:\n%s", errOut)
	}

	// Off a terminal, acting needs --yes.
	if code, _, errOut := e.run(t, nil, "run", "stuck-pending"); code != cmdutil.ExitUsage || !strings.Contains(errOut, "--yes") {
		t.Errorf("without --yes: exit %d\n%s", code, errOut)
	}

	// --yes fixes both.
	code, out, errOut = e.run(t, nil, "run", "stuck-pending", "--yes")
	if code != cmdutil.ExitOK {
		t.Fatalf("--yes exit = %d, want 0\n%s\n%s", code, out, errOut)
	}
	if got := e.jobIDs(t, e.dlqURL); len(got) != 0 {
		t.Errorf("after --yes the DLQ holds %v", got)
	}
	// Not peeked here: each receive of the main queue counts towards its
	// maxReceiveCount (3); the second run peeks it once, then it is drained.
	if st, err := queue.GetStats(context.Background(), e.sq, e.mainURL); err != nil || st.Visible != 2 {
		t.Errorf("after --yes the main queue holds %+v (%v), want 2 visible", st, err)
	}
	if !strings.Contains(errOut, "runbook.stuck-pending result=ok") || !strings.Contains(errOut, "changed=2") {
		t.Errorf("audit line:\n%s", errOut)
	}

	// Second run: both jobs are now backlogged in the main queue (a note,
	// not a problem) → exit 0 and nothing to do.
	code, out, errOut = e.run(t, nil, "run", "stuck-pending", "--yes", "-o", "json")
	if code != cmdutil.ExitOK {
		t.Fatalf("second run exit = %d, want 0\n%s\n%s", code, out, errOut)
	}
	var rep runbooks.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	if rep.Result != runbooks.ResultHealthy || rep.Problems != 0 || len(rep.Changes) != 0 || rep.Params["threshold"] != "30m0s" {
		t.Errorf("second report = %+v", rep)
	}
	for _, s := range rep.Steps {
		if s.ID == "backlogged" && s.Status != runbooks.StatusOK {
			t.Errorf("backlogged step = %+v", s)
		}
		if s.ID == "backlogged" && len(s.Items) != 2 {
			t.Errorf("backlogged step items = %+v", s.Items)
		}
	}
	var ids []string
	for _, m := range queuetest.Drain(t, e.sq, e.mainURL) {
		j, _ := queue.DecodeJob(aws.ToString(m.Body))
		ids = append(ids, j.JobID)
	}
	sort.Strings(ids)
	if strings.Join(ids, ",") != "job-in-dlq,job-lost" {
		t.Errorf("main queue after the second run holds %v, want job-in-dlq and job-lost", ids)
	}
}

func TestStuckPendingHealthy(t *testing.T) {
	t.Parallel()
	e := setup(t)
	dynamotest.Put(t, e.ddb, e.jobs, job("job-fresh", pipeline.JobPending, time.Now()))
	code, out, errOut := e.run(t, nil, "run", "stuck-pending", "--yes", "--param", "threshold=1h")
	if code != 0 || !strings.Contains(out, "nothing more to do") || !strings.Contains(out, "Summary: healthy") {
		t.Errorf("exit %d\n%s\n%s", code, out, errOut)
	}
}

type deniedDynamo struct{ runbooks.DynamoAPI }

func (deniedDynamo) Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "User: arn:aws:iam::1:user/x is not authorized to perform: dynamodb:Scan"}
}

func TestBadInputs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("name: broken\ntitle: x\nsteps:\n  - id: a\n    kind: check\n    title: t\n    probe: no-such-probe\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &env{vars: map[string]string{"JOB_TABLE_NAME": "jobs"}}
	denied := func(o *Options) {
		o.Deps = func(context.Context) (runbooks.Deps, error) {
			env, err := o.F.Environment()
			return runbooks.Deps{Env: env, DynamoDB: func(context.Context) (runbooks.DynamoAPI, error) { return deniedDynamo{}, nil }}, err
		}
		o.Identity = func(context.Context) string { return "" }
	}
	for _, tc := range []struct {
		name  string
		tweak func(*Options)
		args  []string
		code  int
		want  string
	}{
		{"unknown runbook", nil, []string{"run", "nope"}, 2, `unknown runbook "nope"; available: `},
		{"unknown parameter", nil, []string{"run", "stuck-pending", "--dry-run", "--param", "colour=red"}, 2, `no parameter "colour"`},
		{"bad parameter form", nil, []string{"run", "stuck-pending", "--dry-run", "--param", "threshold"}, 2, "NAME=VALUE"},
		{"invalid duration", nil, []string{"run", "stuck-pending", "--dry-run", "--param", "threshold=soon"}, 2, "not a duration"},
		{"below minimum", nil, []string{"run", "stuck-pending", "--dry-run", "--param", "threshold=10s"}, 2, "below the minimum 1m"},
		{"malformed runbook in --dir", nil, []string{"list", "--dir", dir}, 2, "broken.yaml"},
		{"from-step out of range", nil, []string{"run", "stuck-pending", "--dry-run", "--from-step", "99"}, 2, "--from-step 99"},
		{"access denied", denied, []string{"run", "stuck-pending", "--dry-run"}, 1, "✗ [1/11] PENDING jobs older than 30m0s: could not check: AccessDeniedException"},
		{"show unknown", nil, []string{"show", "nope"}, 2, `unknown runbook "nope"; available: `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := e.run(t, tc.tweak, tc.args...)
			if code != tc.code || !strings.Contains(out+errOut, tc.want) {
				t.Errorf("exit %d (want %d), output lacks %q?\n%s\n%s", code, tc.code, tc.want, out, errOut)
			}
		})
	}
}

func TestListAndShow(t *testing.T) {
	t.Parallel()
	e := &env{vars: map[string]string{}}
	code, out, _ := e.run(t, nil, "list")
	if code != 0 || !strings.Contains(out, "stuck-pending") {
		t.Errorf("list: %d\n%s", code, out)
	}
	code, out, _ = e.run(t, nil, "show", "stuck-pending")
	if code != 0 || !strings.Contains(out, "threshold") || !strings.Contains(out, "act redrive-dlq") {
		t.Errorf("show: %d\n%s", code, out)
	}
}
