package mapcmd

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nexus-compliance/nexus/aws/dynamo"
	"github.com/nexus-compliance/nexus/aws/dynamo/dynamotest"
	"github.com/nexus-compliance/nexus/commands/apiclient"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
	"github.com/nexus-compliance/nexus/commands/map/shared"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/demo"
	"github.com/nexus-compliance/nexus/pipeline/mapper/mappertest"
	"github.com/nexus-compliance/nexus/pipeline/store/local"
)

const (
	apiCache = "AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED"
	nist     = "NIST-SP-800-53#R5"
)

var testHooks = shared.Hooks{Scorers: testScorers, Reasoner: mappertest.Reasoner}

func testScorers(ctx context.Context, s pipeline.Store, _ shared.ScorerRequest) (pipeline.Retriever, pipeline.Reranker, error) {
	return mappertest.Scorers(ctx, s)
}

func TestNewCmdFlags(t *testing.T) {
	f, _ := cmdtest.Factory(t, nil)
	var got *Options
	cmd := NewCmdMap(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{apiCache, "-F", nist, "--targets", "AC-1,AC-2", "--top-k", "5", "--threshold", "0.4",
		"--mode", "local", "--store", "dynamodb", "--reasoning", "off"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.ControlKey != apiCache || got.Framework != nist || !slices.Equal(got.Targets, []string{"AC-1", "AC-2"}) || got.TopK != 5 ||
		got.Threshold != 0.4 || got.Mode != "local" || got.Store != "dynamodb" || got.Reasoning != "off" || got.Open == nil || got.Context == nil {
		t.Fatalf("%+v", got)
	}
	cmd = NewCmdMap(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{apiCache, "--framework", nist})
	if err := cmd.Execute(); err != nil || got.TopK != 20 || got.Threshold != 0 || got.Mode != "auto" || got.Store != "" || got.Reasoning != "template" {
		t.Fatalf("defaults: %+v %v", got, err)
	}
}

type result struct {
	code        int
	out, errOut string
	err         error
}

// run runs `nexus map` against the local store at storePath with the test
// double scorers.
func run(t *testing.T, storePath string, tty bool, output string, args ...string) result {
	t.Helper()
	f, s := cmdtest.Factory(t, map[string]string{local.EnvPath: storePath, apiclient.EnvAPIURL: ""})
	f.IOStreams.SetStdoutTTY(tty)
	f.IOStreams.SetStderrTTY(tty)
	if output != "" {
		f.Flags.Output = output
	}
	if i := slices.Index(args, "--debug"); i >= 0 { // a persistent flag of the root command
		f.Flags.Debug = true
		args = slices.Delete(args, i, i+1)
	}
	cmd := NewCmdMap(f, func(o *Options) error { o.Hooks = testHooks; return Run(o) })
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	return result{cmdutil.ExitCode(err), s.Out.String(), s.ErrOut.String(), err}
}

func TestMapOnFreshStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nexus.db")

	// First use: the demo catalog is loaded, then mapped against.
	r := run(t, path, false, "", apiCache, "--framework", nist, "--top-k", "5")
	if r.err != nil {
		t.Fatal(r.err, r.errOut)
	}
	if !strings.Contains(r.errOut, "Created the local store "+path+" with the demo catalog") {
		t.Fatalf("no note on stderr: %q", r.errOut)
	}
	lines := strings.Split(strings.TrimSuffix(r.out, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("off a terminal: want 5 rows, got\n%s", r.out)
	}
	row := regexp.MustCompile(`^[A-Z]{2}-\d+(\(\d+\))?\t[^\t]+\t\d\.\d{3}\t\d\.\d{3}\t\S.*$`)
	for _, l := range lines {
		if !row.MatchString(l) {
			t.Fatalf("row %q", l)
		}
	}

	// A terminal: a header, cut cells, and the job id on stderr.
	r = run(t, path, true, "", apiCache, "--framework", nist, "--top-k", "3")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !strings.HasPrefix(r.out, "TARGET ") || !strings.Contains(r.out, "SIMILARITY") || strings.Count(r.out, "\n") != 4 {
		t.Fatalf("terminal table:\n%s", r.out)
	}
	m := regexp.MustCompile(`3 mappings in \S+ · job ([0-9a-f-]{36}) \(nexus job get [0-9a-f-]{36} --store local\)`).FindStringSubmatch(r.errOut)
	if m == nil || strings.Contains(r.errOut, "Created the local store") {
		t.Fatalf("terminal stderr %q", r.errOut)
	}
	// The job was recorded COMPLETED in the store.
	s, err := local.Open(path, local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	j, err := s.Job(context.Background(), m[1])
	s.Close()
	if err != nil || j.Status != pipeline.JobCompleted || len(j.Mappings) != 3 || j.TTL == 0 {
		t.Fatalf("%+v %v", j, err)
	}
}

func TestMapJSONShape(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nexus.db")
	r := run(t, path, false, "json", apiCache, "-F", nist, "--targets", "SC-28,SC-5,AC-2", "--debug")
	if r.err != nil {
		t.Fatal(r.err)
	}
	var resp map[string]any
	if err := json.Unmarshal([]byte(r.out), &resp); err != nil {
		t.Fatalf("%v\n%s", err, r.out)
	}
	keys := func(m map[string]any) []string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	if !slices.Equal(keys(resp), []string{"controlKey", "mappingId", "result", "status", "targetFrameworkKey"}) ||
		resp["status"] != "COMPLETED" || resp["controlKey"] != apiCache || resp["targetFrameworkKey"] != nist {
		t.Fatalf("%v", resp)
	}
	ms := resp["result"].(map[string]any)["mappings"].([]any)
	if len(ms) != 3 {
		t.Fatalf("%d mappings", len(ms))
	}
	first := ms[0].(map[string]any)
	if !slices.Equal(keys(first), []string{"reasoning", "rerankScore", "similarityScore", "targetControlId", "targetControlKey"}) ||
		first["targetControlKey"] != nist+"#"+first["targetControlId"].(string) || first["reasoning"] == "" {
		t.Fatalf("%v", first)
	}
	// --debug: stage timings on stderr, off a terminal too.
	for _, st := range []string{"validate", "retrieve", "rerank", "reason", "merge", "stages total"} {
		if !strings.Contains(r.errOut, "debug: stage") || !strings.Contains(r.errOut, st) {
			t.Fatalf("no %s timing in %q", st, r.errOut)
		}
	}
	// --reasoning off: empty reasoning, no warning.
	r = run(t, path, false, "json", apiCache, "-F", nist, "--targets", "SC-28", "--reasoning", "off")
	if r.err != nil || !strings.Contains(r.out, `"reasoning": ""`) || r.errOut != "" {
		t.Fatalf("%v %s %q", r.err, r.out, r.errOut)
	}
}

type failingRetriever struct{}

func (failingRetriever) Retrieve(context.Context, pipeline.Source, []pipeline.Control, int) ([]pipeline.Candidate, error) {
	return nil, errors.New("science service unavailable")
}

func TestMapFailedJob(t *testing.T) {
	f, s := cmdtest.Factory(t, map[string]string{local.EnvPath: filepath.Join(t.TempDir(), "nexus.db")})
	f.Flags.Output = "json"
	cmd := NewCmdMap(f, func(o *Options) error {
		o.Hooks = shared.Hooks{Scorers: func(context.Context, pipeline.Store, shared.ScorerRequest) (pipeline.Retriever, pipeline.Reranker, error) {
			return failingRetriever{}, nil, nil
		}}
		return Run(o)
	})
	cmd.SetArgs([]string{apiCache, "-F", nist, "--reasoning", "off"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	if cmdutil.ExitCode(err) != cmdutil.ExitProblems {
		t.Fatalf("exit %d: %v", cmdutil.ExitCode(err), err)
	}
	var resp map[string]any
	if json.Unmarshal(s.Out.Bytes(), &resp) != nil || len(resp) != 3 || resp["status"] != "FAILED" ||
		resp["error"] != "retrieve: science service unavailable" || resp["mappingId"] == "" {
		t.Fatalf("%s", s.Out.String())
	}
}

func TestMapErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nexus.db")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"API_GW_CACHE_ENABLED", "-F", nist}, 2, "{framework}#{version}#{controlId} (e.g. AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED)"},
		{[]string{apiCache, "-F", "NIST"}, 2, "{name}#{version} (e.g. NIST-SP-800-53#R5)"},
		{[]string{apiCache}, 2, "--framework is required"},
		{[]string{apiCache, "-F", nist, "--mode", "remote"}, 2, "no API URL is set: pass --api-url URL, export NEXUS_API_URL=URL"},
		{[]string{apiCache, "-F", nist, "--mode", "fast"}, 2, "use auto, local or remote"},
		{[]string{apiCache, "-F", nist, "--store", "s3"}, 2, "invalid --store"},
		{[]string{apiCache, "-F", nist, "--threshold", "2"}, 2, "scores run from 0 to 1"},
		{[]string{"AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLE", "-F", nist}, 5, "Did you mean: " + apiCache},
		{[]string{apiCache, "-F", "SOC2#2017"}, 5, "Available frameworks: AWS.ControlCatalog#1.0, NIST-SP-800-53#R5"},
		{[]string{apiCache, "-F", nist, "--targets", "AC-99,SC-9"}, 5, "holds no control AC-99. Withdrawn, so not mapped to: SC-9."},
	} {
		r := run(t, path, false, "", c.args...)
		if r.code != c.code || r.err == nil || !strings.Contains(r.err.Error(), c.want) {
			t.Errorf("%v: exit %d, %v", c.args, r.code, r.err)
		}
	}
}

func TestMapWithoutScorerOrReasoner(t *testing.T) {
	f, s := cmdtest.Factory(t, map[string]string{local.EnvPath: filepath.Join(t.TempDir(), "nexus.db")})
	cmd := NewCmdMap(f, func(o *Options) error { o.Hooks = shared.Hooks{}; return Run(o) })
	cmd.SetArgs([]string{apiCache, "-F", nist})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "no scorer configured") {
		t.Fatal(err)
	}
	cmd = NewCmdMap(f, func(o *Options) error { o.Hooks = shared.Hooks{Scorers: testScorers}; return Run(o) })
	cmd.SetArgs([]string{apiCache, "-F", nist})
	if err := cmd.Execute(); err != nil || !strings.Contains(s.ErrOut.String(), "no template reasoner") {
		t.Fatalf("%v %q", err, s.ErrOut.String())
	}
}

func TestCompletion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nexus.db")
	complete := func(args ...string) string {
		f, s := cmdtest.Factory(t, map[string]string{local.EnvPath: path})
		cmd := NewCmd(f)
		cmd.SetOut(s.Out)
		cmd.SetErr(s.ErrOut)
		cmd.SetArgs(append([]string{"__complete"}, args...))
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		return s.Out.String()
	}
	if out := complete(apiCache, "--framework", "NIST"); !strings.HasPrefix(out, "NIST-SP-800-53#R5\tNIST SP 800-53 Rev. 5 (nexus demo subset)\n:4\n") {
		t.Fatalf("--framework: %q", out)
	}
	if out := complete("AWS"); !strings.HasPrefix(out, "AWS.ControlCatalog#1.0#\t") || !strings.Contains(out, ":6\n") {
		t.Fatalf("framework part of CONTROL_KEY: %q", out)
	}
	if out := complete("AWS.ControlCatalog#1.0#CLOUD"); !strings.Contains(out, "AWS.ControlCatalog#1.0#CLOUDTRAIL_ENABLED\tCloudTrail is enabled in the account\n") ||
		!strings.Contains(out, "AWS.ControlCatalog#1.0#CLOUDWATCH_ALARM_ACTION_CHECK\t") || strings.Contains(out, "RDS") {
		t.Fatalf("controls: %q", out)
	}
}

// TestMapOnDynamoDB runs the pipeline against the deployment's tables
// (dynalite), recording the job in the jobs table.
func TestMapOnDynamoDB(t *testing.T) {
	t.Parallel()
	c, tables := dynamotest.Setup(t)
	ctx := context.Background()
	store := dynamo.NewStore(c, tables)
	if _, err := demo.Load(ctx, store); err != nil {
		t.Fatal(err)
	}
	vars := dynamotest.Vars(tables)
	vars[local.EnvPath] = filepath.Join(t.TempDir(), "unused.db")
	f, s := cmdtest.Factory(t, vars)
	f.Flags.Output = "json"
	cmd := NewCmdMap(f, func(o *Options) error { o.Hooks = testHooks; return Run(o) })
	cmd.SetArgs([]string{"AWS.ControlCatalog#1.0#RDS_STORAGE_ENCRYPTED", "-F", nist, "--store", "dynamodb", "--top-k", "4"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.Execute(); err != nil {
		t.Fatal(err, s.ErrOut.String())
	}
	var resp shared.Completed
	if err := json.Unmarshal(s.Out.Bytes(), &resp); err != nil || resp.Status != "COMPLETED" || len(resp.Result.Mappings) != 4 {
		t.Fatalf("%v %s", err, s.Out.String())
	}
	j, err := store.Job(ctx, resp.MappingID)
	if err != nil || j.Status != pipeline.JobCompleted || len(j.Mappings) != 4 || j.TTL == 0 {
		t.Fatalf("job in DynamoDB: %+v %v", j, err)
	}
	if _, err := os.Stat(vars[local.EnvPath]); !os.IsNotExist(err) {
		t.Fatal("the local store was created for --store dynamodb")
	}
}
