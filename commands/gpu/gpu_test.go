package gpu

import (
	"testing"

	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
)

func TestNewCmd(t *testing.T) {
	f, _ := cmdtest.Factory(t, nil)
	var names []string
	for _, c := range NewCmd(f).Commands() {
		names = append(names, c.Name())
	}
	if len(names) != 3 || names[0] != "bench" || names[1] != "check" || names[2] != "info" {
		t.Fatalf("verbs: %v", names)
	}
}
