package settings

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsAreTheSeedNames(t *testing.T) {
	f, err := Load(filepath.Join(t.TempDir(), "missing.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := f.Resolve("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"MappingJobs", "ControlMappings", "Enrichment", "EmbeddingCache", "Frameworks", "FrameworkControls"}
	if got := e.TableNames(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("tables %v, want %v", got, want)
	}
	if e.Name != DefaultEnvironment || e.QueueName != "MappingRequestQueue" || e.DLQName != "MappingRequestDLQ" || e.ModelVersion != "v1" {
		t.Fatalf("defaults: %+v", e)
	}
	if e.LogGroups["ecs_service"] != "/ecs/NexusECSService" || len(e.LogGroups) != len(Components) {
		t.Fatalf("log groups: %v", e.LogGroups)
	}
}

const sample = `current_environment: dev
environments:
  dev:
    region: eu-west-1
    profile: nexus-dev
    api_token: s3cret
    tables:
      jobs: MappingJobs-dev
    dlq_url: https://sqs.eu-west-1.amazonaws.com/123456789012/dev-dlq
    log_groups:
      ecs_service: /ecs/dev-science
  prod:
    region: us-east-1
`

func writeSample(t *testing.T) *File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestResolvePrecedence(t *testing.T) {
	f := writeSample(t)
	tests := []struct {
		name  string
		flag  string
		vars  map[string]string
		check func(*Environment) string
	}{
		{"current from file", "", nil, func(e *Environment) string {
			if e.Name != "dev" || e.Region != "eu-west-1" || e.Tables.Jobs != "MappingJobs-dev" || e.Tables.Mappings != "ControlMappings" {
				return "file values not applied"
			}
			if e.LogGroups["ecs_service"] != "/ecs/dev-science" || e.LogGroups["async_api"] == "" {
				return "log groups not merged"
			}
			return ""
		}},
		{"NEXUS_ENV selects", "", map[string]string{"NEXUS_ENV": "prod"}, func(e *Environment) string {
			if e.Name != "prod" || e.Region != "us-east-1" || e.Tables.Jobs != "MappingJobs" {
				return "prod not selected"
			}
			return ""
		}},
		{"flag beats NEXUS_ENV", "dev", map[string]string{"NEXUS_ENV": "prod"}, func(e *Environment) string {
			if e.Name != "dev" {
				return "flag ignored"
			}
			return ""
		}},
		{"seed variables override the file", "", map[string]string{"JOB_TABLE_NAME": "Jobs-from-lambda", "DLQ_URL": "https://q/dlq", "MAIN_QUEUE_URL": "https://q/main", "STATE_MACHINE_ARN": "arn:sm", "SCIENCE_API_ENDPOINT": "http://sci", "STRANDS_SERVICE_ENDPOINT": "http://str"}, func(e *Environment) string {
			if e.Tables.Jobs != "Jobs-from-lambda" || e.DLQURL != "https://q/dlq" || e.QueueURL != "https://q/main" || e.StateMachineARN != "arn:sm" || e.ScienceURL != "http://sci" || e.StrandsURL != "http://str" {
				return "seed variables not applied"
			}
			return ""
		}},
		{"MAPPING_REQUEST_QUEUE_URL names the main queue", "", map[string]string{"MAPPING_REQUEST_QUEUE_URL": "https://q/main2"}, func(e *Environment) string {
			if e.QueueURL != "https://q/main2" {
				return "queue url not applied"
			}
			return ""
		}},
		{"NEXUS_ variables beat seed variables", "", map[string]string{"JOB_TABLE_NAME": "A", "NEXUS_TABLES_JOBS": "B", "NEXUS_LOG_GROUP_ECS_SERVICE": "/x"}, func(e *Environment) string {
			if e.Tables.Jobs != "B" || e.LogGroups["ecs_service"] != "/x" {
				return "NEXUS_ override lost"
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := f.Resolve(tt.flag, env(tt.vars))
			if err != nil {
				t.Fatal(err)
			}
			if msg := tt.check(e); msg != "" {
				t.Fatalf("%s: %+v", msg, e)
			}
		})
	}
}

func TestUnknownEnvironment(t *testing.T) {
	f := writeSample(t)
	_, err := f.Resolve("staging", env(nil))
	var unknown *UnknownEnvironmentError
	if !errors.As(err, &unknown) || !strings.Contains(err.Error(), "available: dev, prod") {
		t.Fatalf("got %v", err)
	}
}

func TestRedactedHidesSecrets(t *testing.T) {
	f := writeSample(t)
	e, _ := f.Resolve("dev", env(nil))
	r := e.Redacted()
	if r.APIToken == "s3cret" || e.APIToken != "s3cret" {
		t.Fatalf("redaction: %q / original %q", r.APIToken, e.APIToken)
	}
}

func TestSetUseAndAddRoundTrip(t *testing.T) {
	f := writeSample(t)
	if err := f.Set("dev", "tables.controls", "Controls-dev"); err != nil {
		t.Fatal(err)
	}
	if err := f.Set("dev", "log_groups.ecs_service", "/ecs/other"); err != nil {
		t.Fatal(err)
	}
	if err := f.Set("dev", "no_such_key", "x"); err == nil || !strings.Contains(err.Error(), "settable keys") {
		t.Fatalf("unknown key: %v", err)
	}
	staging := Defaults("staging")
	staging.Region = "ap-southeast-2"
	if err := f.AddEnvironment(staging, false); err != nil {
		t.Fatal(err)
	}
	if err := f.AddEnvironment(staging, false); err == nil {
		t.Fatal("replacing without force succeeded")
	}
	if err := f.Use("staging"); err != nil {
		t.Fatal(err)
	}
	if err := f.Use("nope"); err == nil {
		t.Fatal("use of unknown env succeeded")
	}
	info, err := os.Stat(f.Path())
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("config file mode: %v %v", info.Mode(), err)
	}

	again, err := Load(f.Path())
	if err != nil {
		t.Fatal(err)
	}
	e, err := again.Resolve("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if e.Name != "staging" || e.Region != "ap-southeast-2" {
		t.Fatalf("staging not current: %+v", e)
	}
	dev, _ := again.Resolve("dev", env(nil))
	if dev.Tables.Controls != "Controls-dev" || dev.LogGroups["ecs_service"] != "/ecs/other" || dev.APIToken != "s3cret" || dev.Tables.Jobs != "MappingJobs-dev" {
		t.Fatalf("dev after set: %+v", dev)
	}
}

func TestBrokenFileIsAClearError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte("environments: [this is: not"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("got %v", err)
	}
}

func TestDefaultPath(t *testing.T) {
	if got := DefaultPath(env(map[string]string{"XDG_CONFIG_HOME": "/x"})); got != "/x/nexus/config.yaml" {
		t.Fatal(got)
	}
	if got := DefaultPath(env(map[string]string{"NEXUS_CONFIG": "/y.yaml", "XDG_CONFIG_HOME": "/x"})); got != "/y.yaml" {
		t.Fatal(got)
	}
}
