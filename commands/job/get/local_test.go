package get

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/store/local"
)

func TestGetLocal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nexus.db")
	s, err := local.Open(path, local.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	err = s.PutJob(context.Background(), pipeline.Job{
		JobID: "local-1", Status: pipeline.JobCompleted, ControlKey: "AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED",
		TargetFrameworkKey: "NIST-SP-800-53#R5", CreatedAt: "2024-01-15T10:00:00.000Z", CompletedAt: "2024-01-15T10:00:01.000Z",
		TTL:      now.Add(24 * time.Hour).Unix(),
		Mappings: []map[string]any{{"target_control_key": "NIST-SP-800-53#R5#SC-28", "similarity_score": 0.5, "rerank_score": 0.25, "reasoning": "at rest"}},
	})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	run := func(output string, args ...string) (string, error) {
		f, st := cmdtest.Factory(t, map[string]string{local.EnvPath: path})
		f.Now = func() time.Time { return now }
		if output != "" {
			f.Flags.Output = output
		}
		cmd := NewCmd(f, nil)
		cmd.SetArgs(args)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		err := cmd.Execute()
		return st.Out.String(), err
	}
	out, err := run("", "local-1", "--store", "local")
	if err != nil || !strings.Contains(out, "Status\tCOMPLETED\n") || !strings.HasSuffix(out, "mapping\tNIST-SP-800-53#R5#SC-28\t0.5\t0.25\tat rest\n") {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err = run("json", "local-1", "--store", "local")
	var j pipeline.Job
	if err != nil || json.Unmarshal([]byte(out), &j) != nil || j.JobID != "local-1" || len(j.Mappings) != 1 {
		t.Fatalf("%v %s", err, out)
	}
	_, err = run("", "nope", "--store", "local")
	if cmdutil.ExitCode(err) != cmdutil.ExitNotFound || !strings.Contains(err.Error(), "job list --store local") {
		t.Fatal(err)
	}
	if _, err = run("", "local-1", "--store", "sqlite"); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Fatal(err)
	}
}
