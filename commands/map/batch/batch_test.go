package batch

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
	"github.com/nexus-compliance/nexus/commands/map/shared"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/mapper/mappertest"
	"github.com/nexus-compliance/nexus/pipeline/store/local"
)

const (
	nist = "NIST-SP-800-53#R5"
	aws  = "AWS.ControlCatalog#1.0#"
)

var testHooks = shared.Hooks{Scorers: testScorers, Reasoner: mappertest.Reasoner}

func testScorers(ctx context.Context, s pipeline.Store, _ shared.ScorerRequest) (pipeline.Retriever, pipeline.Reranker, error) {
	return mappertest.Scorers(ctx, s)
}

func TestNewCmdFlags(t *testing.T) {
	f, _ := cmdtest.Factory(t, nil)
	var got *Options
	cmd := NewCmd(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"controls.txt", "-F", nist, "-c", "8", "--out", "r.jsonl", "--resume", "--top-k", "5", "--reasoning", "off"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Input != "controls.txt" || got.Framework != nist || got.Concurrency != 8 || got.Out != "r.jsonl" || !got.Resume ||
		got.TopK != 5 || got.Reasoning != "off" || got.Store != "" {
		t.Fatalf("%+v", got)
	}
	if cmd.Flags().Lookup("targets") != nil {
		t.Fatal("--targets on batch: targets come per line")
	}
}

func TestReadInput(t *testing.T) {
	in := "# AWS checks\n\n" + aws + "CLOUDTRAIL_ENABLED\n  " + aws + "RDS_STORAGE_ENCRYPTED  \n" +
		`{"control_key":"` + aws + `ENCRYPTED_VOLUMES","target_control_ids":["SC-28"],"target_framework_key":"X#1"}` + "\n"
	items, err := ReadInput(strings.NewReader(in), nist)
	if err != nil || len(items) != 3 {
		t.Fatalf("%+v %v", items, err)
	}
	if items[0].Line != 3 || items[1].ControlKey != aws+"RDS_STORAGE_ENCRYPTED" || items[2].Framework != "X#1" || !slices.Equal(items[2].Targets, []string{"SC-28"}) {
		t.Fatalf("%+v", items)
	}
	for _, bad := range []string{"{not json\n", `{"target_control_ids":["AC-1"]}` + "\n"} {
		if _, err := ReadInput(strings.NewReader(bad), nist); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

type env struct {
	dir, store, input, out string
}

func newEnv(t *testing.T, keys ...string) env {
	dir := t.TempDir()
	e := env{dir: dir, store: filepath.Join(dir, "nexus.db"), input: filepath.Join(dir, "controls.txt"), out: filepath.Join(dir, "results.jsonl")}
	if err := os.WriteFile(e.input, []byte(strings.Join(keys, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// run runs `nexus map batch`; prep may change the options before Run.
func (e env) run(t *testing.T, prep func(*Options), args ...string) (string, string, error) {
	t.Helper()
	f, s := cmdtest.Factory(t, map[string]string{local.EnvPath: e.store})
	cmd := NewCmd(f, func(o *Options) error {
		o.Hooks = testHooks
		if prep != nil {
			prep(o)
		}
		return Run(o)
	})
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	return s.Out.String(), s.ErrOut.String(), err
}

type line struct {
	MappingID  string `json:"mappingId"`
	Status     string `json:"status"`
	ControlKey string `json:"controlKey"`
	Error      string `json:"error"`
	Result     *struct {
		Mappings []shared.ResponseMapping `json:"mappings"`
	} `json:"result"`
}

func readLines(t *testing.T, data string) []line {
	t.Helper()
	var out []line
	for l := range strings.SplitSeq(strings.TrimSuffix(data, "\n"), "\n") {
		if l == "" {
			continue
		}
		var x line
		if err := json.Unmarshal([]byte(l), &x); err != nil {
			t.Fatalf("%v: %q", err, l)
		}
		out = append(out, x)
	}
	return out
}

func TestBatchToStdout(t *testing.T) {
	e := newEnv(t, aws+"CLOUDTRAIL_ENABLED", aws+"RDS_STORAGE_ENCRYPTED", aws+"NOPE_NOT_A_CHECK", "not-a-key", aws+"ENCRYPTED_VOLUMES")
	out, errOut, err := e.run(t, nil, e.input, "-F", nist, "-c", "3", "--top-k", "3")
	if cmdutil.ExitCode(err) != cmdutil.ExitProblems {
		t.Fatalf("exit %d: %v", cmdutil.ExitCode(err), err)
	}
	lines := readLines(t, out)
	byKey := map[string]line{}
	for _, l := range lines {
		byKey[l.ControlKey] = l
	}
	if len(lines) != 5 || len(byKey) != 5 {
		t.Fatalf("%d lines: %s", len(lines), out)
	}
	ok := byKey[aws+"CLOUDTRAIL_ENABLED"]
	if ok.Status != "COMPLETED" || ok.MappingID == "" || ok.Result == nil || len(ok.Result.Mappings) != 3 {
		t.Fatalf("%+v", ok)
	}
	if f := byKey[aws+"NOPE_NOT_A_CHECK"]; f.Status != "FAILED" || f.MappingID != "" || !strings.Contains(f.Error, "not found") {
		t.Fatalf("%+v", f)
	}
	if f := byKey["not-a-key"]; f.Status != "FAILED" || !strings.Contains(f.Error, "input line 4: invalid control key") {
		t.Fatalf("%+v", f)
	}
	if !strings.Contains(errOut, "Mapped 5 of 5 controls to "+nist+": 3 completed, 2 failed, 0 skipped (already in stdout)") {
		t.Fatalf("summary %q", errOut)
	}
}

// cancelAfter is a retriever that cancels the run's context on its n-th
// call, as Ctrl-C would in the middle of a mapping.
type cancelAfter struct {
	n, calls atomic.Int64
	cancel   context.CancelFunc
	inner    pipeline.Retriever
}

func (c *cancelAfter) Retrieve(ctx context.Context, src pipeline.Source, ts []pipeline.Control, k int) ([]pipeline.Candidate, error) {
	if c.calls.Add(1) == c.n.Load() {
		c.cancel()
		return nil, context.Canceled
	}
	return c.inner.Retrieve(ctx, src, ts, k)
}

func TestBatchResumeAfterInterrupt(t *testing.T) {
	ids := []string{"CLOUDTRAIL_ENABLED", "RDS_STORAGE_ENCRYPTED", "ENCRYPTED_VOLUMES", "IAM_USER_MFA_ENABLED", "S3_BUCKET_VERSIONING_ENABLED", "VPC_FLOW_LOGS_ENABLED", "INCOMING_SSH_DISABLED"}
	var keys []string
	for _, id := range ids {
		keys = append(keys, aws+id)
	}
	e := newEnv(t, keys...)

	// First run: interrupted during the fourth mapping.
	_, errOut, err := e.run(t, func(o *Options) {
		ctx, cancel := context.WithCancel(o.Context)
		o.Context = ctx
		ca := &cancelAfter{cancel: cancel, inner: &mappertest.WordOverlapRetriever{}}
		ca.n.Store(4)
		o.Hooks.Scorers = func(context.Context, pipeline.Store, shared.ScorerRequest) (pipeline.Retriever, pipeline.Reranker, error) {
			return ca, mappertest.TitleReranker{}, nil
		}
	}, e.input, "-F", nist, "-c", "1", "--out", e.out)
	if cmdutil.ExitCode(err) != cmdutil.ExitInterrupted {
		t.Fatalf("exit %d: %v", cmdutil.ExitCode(err), err)
	}
	if !strings.Contains(errOut, "3 completed") || !strings.Contains(errOut, "Interrupted: 4 controls not mapped; run the same command with --resume") {
		t.Fatalf("stderr %q", errOut)
	}
	data, _ := os.ReadFile(e.out)
	first := readLines(t, string(data))
	if len(first) != 3 {
		t.Fatalf("%d lines kept:\n%s", len(first), data)
	}
	// A crash mid-write leaves half a line: resume drops it.
	f, _ := os.OpenFile(e.out, os.O_APPEND|os.O_WRONLY, 0)
	_, _ = f.WriteString(`{"mappingId":"x","status":"COMPL`)
	f.Close()

	// Without --resume the file is not touched.
	if _, _, err := e.run(t, nil, e.input, "-F", nist, "--out", e.out); cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("%v", err)
	}

	_, errOut, err = e.run(t, nil, e.input, "-F", nist, "-c", "4", "--out", e.out, "--resume")
	if err != nil {
		t.Fatalf("%v %s", err, errOut)
	}
	if !strings.Contains(errOut, "Mapped 4 of 7 controls to "+nist+": 4 completed, 0 failed, 3 skipped (already in "+e.out+")") {
		t.Fatalf("stderr %q", errOut)
	}
	data, _ = os.ReadFile(e.out)
	all := readLines(t, string(data))
	var got []string
	for _, l := range all {
		if l.Status != "COMPLETED" {
			t.Fatalf("%+v", l)
		}
		got = append(got, l.ControlKey)
	}
	sort.Strings(got)
	sort.Strings(keys)
	if !slices.Equal(got, keys) {
		t.Fatalf("after resume: %v", got)
	}
	for i, l := range first {
		if all[i].MappingID != l.MappingID {
			t.Fatalf("line %d rewritten", i)
		}
	}

	// Resuming a finished run does nothing and succeeds.
	_, errOut, err = e.run(t, nil, e.input, "-F", nist, "--out", e.out, "--resume")
	if err != nil || !strings.Contains(errOut, "Mapped 0 of 7 controls") || !strings.Contains(errOut, "7 skipped") {
		t.Fatalf("%v %q", err, errOut)
	}
}

func TestBatchStdinAndErrors(t *testing.T) {
	e := newEnv(t)
	f, s := cmdtest.Factory(t, map[string]string{local.EnvPath: e.store})
	s.In.WriteString(`{"control_key":"` + aws + `RDS_STORAGE_ENCRYPTED","target_control_ids":["SC-28","SC-13"]}` + "\n")
	cmd := NewCmd(f, func(o *Options) error { o.Hooks = testHooks; return Run(o) })
	cmd.SetArgs([]string{"-", "-F", nist, "--reasoning", "off"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	ls := readLines(t, s.Out.String())
	if len(ls) != 1 || ls[0].Status != "COMPLETED" || len(ls[0].Result.Mappings) != 2 {
		t.Fatalf("%s", s.Out.String())
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{e.input, "-F", nist, "--resume"}, "--resume needs --out"},
		{[]string{e.input, "-F", nist, "-c", "0"}, "--concurrency must be between 1 and 64"},
		{[]string{filepath.Join(e.dir, "missing.txt"), "-F", nist}, "reading FILE"},
		{[]string{e.input}, "--framework is required"},
	} {
		if _, _, err := e.run(t, nil, c.args...); cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v", c.args, err)
		}
	}
	// An --out that is not ours is refused on resume.
	_ = os.WriteFile(e.out, []byte("hello\n"), 0o644)
	if _, _, err := e.run(t, nil, e.input, "-F", nist, "--out", e.out, "--resume"); err == nil || !strings.Contains(err.Error(), "not a result of nexus map batch") {
		t.Fatal(err)
	}
}
