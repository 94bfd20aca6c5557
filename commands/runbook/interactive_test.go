package runbook

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nexus-compliance/nexus/aws/dynamo/dynamotest"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/pipeline"
)

// On a terminal each act asks, and only a yes changes anything.
func TestActsAskOnTerminal(t *testing.T) {
	t.Parallel()
	e := setup(t)
	old := time.Now().Add(-2 * time.Hour)
	inDLQ, lost := job("job-in-dlq", pipeline.JobPending, old), job("job-lost", pipeline.JobPending, old)
	dynamotest.Put(t, e.ddb, e.jobs, inDLQ, lost)
	e.send(t, e.dlqURL, inDLQ)

	e.tty, e.answers = true, "n\ny\n" // no to the DLQ redrive, yes to the requeue
	code, out, errOut := e.run(t, nil, "run", "stuck-pending")
	if code != cmdutil.ExitProblems {
		t.Fatalf("exit = %d, want 3 (the DLQ message was left)\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"Step 8 (redrive): move DLQ messages back to the main queue in environment", "Step 9 (requeue): send job messages to the main queue"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("prompts lack %q:\n%s", want, errOut)
		}
	}
	if !strings.Contains(out, "declined; nothing changed") || !strings.Contains(out, "send job messages to the main queue: 1 done, 0 failed") {
		t.Errorf("output:\n%s", out)
	}
	if got := e.jobIDs(t, e.dlqURL); !slices.Equal(got, []string{"job-in-dlq"}) {
		t.Errorf("after a declined redrive the DLQ holds %v", got)
	}
	if got := e.jobIDs(t, e.mainURL); !slices.Equal(got, []string{"job-lost"}) {
		t.Errorf("after an accepted requeue the main queue holds %v", got)
	}
}

// --from-step skips the acts before it; the checks still run.
func TestFromStep(t *testing.T) {
	t.Parallel()
	e := setup(t)
	old := time.Now().Add(-2 * time.Hour)
	inDLQ := job("job-in-dlq", pipeline.JobPending, old)
	dynamotest.Put(t, e.ddb, e.jobs, inDLQ)
	e.send(t, e.dlqURL, inDLQ)
	code, out, errOut := e.run(t, nil, "run", "stuck-pending", "--yes", "--from-step", "9")
	if code != cmdutil.ExitProblems || !strings.Contains(out, "before --from-step 9") || !strings.Contains(out, "1 stuck job(s) have their message in the DLQ") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if got := e.jobIDs(t, e.dlqURL); !slices.Equal(got, []string{"job-in-dlq"}) {
		t.Errorf("a skipped act moved messages: the DLQ holds %v", got)
	}
}

// A team's own runbook from --dir lists, shows and runs like a built-in one.
func TestRunbookFromDir(t *testing.T) {
	t.Parallel()
	e := setup(t)
	dir := t.TempDir()
	doc := `name: drain-dlq
title: Drain the DLQ after a fix
description: Moves every DLQ message back to the main queue.
parameters:
  - {name: max, type: int, default: 10, min: 1, max: 100, description: the most messages to move}
steps:
  - {id: dlq, kind: check, title: DLQ depth, probe: queue-depth, with: {queue: dlq, max: 0}}
  - {id: drain, kind: act, title: Redrive the DLQ, action: redrive-dlq, when: {step: dlq, op: gt, value: 0}, with: {max: "${max}"}, resolves: [dlq]}
`
	if err := os.WriteFile(filepath.Join(dir, "drain-dlq.yaml"), []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := e.run(t, nil, "list", "--dir", dir); code != 0 || !strings.Contains(out, "drain-dlq") || !strings.Contains(out, "stuck-pending") {
		t.Errorf("list --dir: %d\n%s", code, out)
	}
	if code, out, _ := e.run(t, nil, "show", "drain-dlq", "--dir", dir); code != 0 || !strings.Contains(out, filepath.Join(dir, "drain-dlq.yaml")) {
		t.Errorf("show --dir: %d\n%s", code, out)
	}
	e.send(t, e.dlqURL, job("job-a", pipeline.JobPending, time.Now()))
	if code, out, _ := e.run(t, nil, "run", "drain-dlq", "--dir", dir, "--dry-run"); code != cmdutil.ExitProblems || !strings.Contains(out, "would move at most 10 DLQ messages") {
		t.Errorf("dry run: %d\n%s", code, out)
	}
	if code, out, errOut := e.run(t, nil, "run", "drain-dlq", "--dir", dir, "--yes"); code != cmdutil.ExitOK {
		t.Errorf("--yes: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, _ := e.run(t, nil, "run", "drain-dlq", "--dir", dir, "--yes"); code != cmdutil.ExitOK || !strings.Contains(out, "not needed") {
		t.Errorf("second run: %d\n%s", code, out)
	}
	if got := e.jobIDs(t, e.mainURL); !slices.Equal(got, []string{"job-a"}) {
		t.Errorf("main queue holds %v, want [job-a]", got)
	}
}

func TestCompletion(t *testing.T) {
	t.Parallel()
	e := &env{vars: map[string]string{}}
	_, out, _ := e.run(t, nil, "__complete", "run", "")
	for _, name := range []string{"bedrock-rate-limit", "dynamodb-throttling", "ecs-not-responding", "high-latency", "stuck-pending"} {
		if !strings.Contains(out, name+"\t") {
			t.Errorf("runbook names lack %s:\n%s", name, out)
		}
	}
	_, out, _ = e.run(t, nil, "__complete", "run", "stuck-pending", "--param", "")
	if !strings.Contains(out, "threshold=\t") || !strings.Contains(out, "max=\t") {
		t.Errorf("--param completion:\n%s", out)
	}
}
