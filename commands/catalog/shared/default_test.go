package shared

import (
	"testing"

	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
	"github.com/nexus-compliance/nexus/commands/settings"
)

func TestDefaultStore(t *testing.T) {
	f, _ := cmdtest.Factory(t, map[string]string{"NEXUS_ENV": ""})
	if got := DefaultStore(f); got != StoreLocal {
		t.Fatalf("fresh machine: %s, want local", got)
	}
	f.Flags.Env = "prod"
	if got := DefaultStore(f); got != StoreDynamoDB {
		t.Fatalf("--env: %s", got)
	}
	f, _ = cmdtest.Factory(t, map[string]string{"NEXUS_ENV": "staging"})
	if got := DefaultStore(f); got != StoreDynamoDB {
		t.Fatalf("NEXUS_ENV: %s", got)
	}
	f, _ = cmdtest.Factory(t, map[string]string{"NEXUS_ENV": ""})
	file, err := f.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if err := file.AddEnvironment(settings.Defaults("dev"), false); err != nil {
		t.Fatal(err)
	}
	if got := DefaultStore(f); got != StoreDynamoDB {
		t.Fatalf("configured environment: %s", got)
	}
}
