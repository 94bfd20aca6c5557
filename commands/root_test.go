package commands

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
)

func run(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	f, s := cmdtest.Factory(t, vars)
	code := Run(context.Background(), f, args)
	return code, s.Out.String(), s.ErrOut.String()
}

func TestVersionJSON(t *testing.T) {
	code, out, _ := run(t, nil, "version", "-o", "json")
	var info map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &info) != nil {
		t.Fatalf("code %d, out %q", code, out)
	}
	for _, k := range []string{"version", "commit", "date", "go_version"} {
		if info[k] == "" {
			t.Errorf("missing %s in %v", k, info)
		}
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"version", "-o", "xml"},
		{"version", "--no-such-flag"},
		{"config", "set", "only-one-arg"},
		{"no-such-command"},
		{"config", "set", "bogus_key", "v"},
		{"--env", "nope", "config", "view"},
	} {
		code, _, errOut := run(t, nil, args...)
		if code != cmdutil.ExitUsage {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, errOut)
		}
		if !strings.HasPrefix(errOut, "error: ") {
			t.Errorf("%v: stderr %q", args, errOut)
		}
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		code, out, errOut := run(t, nil, "completion", shell)
		if code != 0 || !strings.Contains(out, "nexus") {
			t.Errorf("%s: code %d, stderr %q", shell, code, errOut)
		}
	}
}

func TestConfigLifecycle(t *testing.T) {
	dir := t.TempDir()
	cfg := dir + "/config.yaml"
	vars := map[string]string{"NEXUS_CONFIG": cfg, "JOB_TABLE_NAME": ""}
	steps := [][]string{
		{"config", "init", "dev", "--region", "eu-west-1", "--profile", "nexus-dev"},
		{"config", "init", "prod", "--region", "us-east-1"},
		{"--env", "dev", "config", "set", "api_token", "tok-123"},
		{"--env", "dev", "config", "set", "tables.jobs", "MappingJobs-dev"},
		{"config", "use", "prod"},
	}
	for _, args := range steps {
		if code, _, errOut := run(t, vars, args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
	}
	if code, _, errOut := run(t, vars, "config", "init", "dev"); code != cmdutil.ExitUsage || !strings.Contains(errOut, "--force") {
		t.Fatalf("re-init: %d %q", code, errOut)
	}
	_, out, _ := run(t, vars, "config", "view", "-o", "json")
	var env map[string]any
	if err := json.Unmarshal([]byte(out), &env); err != nil {
		t.Fatal(err)
	}
	if env["name"] != "prod" || env["region"] != "us-east-1" {
		t.Fatalf("current env: %v", env)
	}
	_, out, _ = run(t, vars, "--env", "dev", "config", "view")
	if strings.Contains(out, "tok-123") || !strings.Contains(out, "(set, hidden)") || !strings.Contains(out, "MappingJobs-dev") {
		t.Fatalf("dev view: %s", out)
	}
	raw, _ := os.ReadFile(cfg)
	if !strings.Contains(string(raw), "tok-123") {
		t.Fatal("token not stored")
	}
	_, out, _ = run(t, vars, "config", "view", "--all")
	if !strings.Contains(out, "dev\t\teu-west-1\tnexus-dev") || !strings.Contains(out, "prod\t*\tus-east-1") {
		t.Fatalf("view --all: %q", out)
	}
	_, out, _ = run(t, map[string]string{"NEXUS_CONFIG": cfg, "DLQ_URL": "https://sqs/x/dlq"}, "config", "view", "-o", "json")
	if !strings.Contains(out, `"dlq_url": "https://sqs/x/dlq"`) {
		t.Fatalf("DLQ_URL override not shown: %s", out)
	}
}
