package commands

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nexus-compliance/nexus/commands/cmdutil/cmdtest"
	"github.com/nexus-compliance/nexus/commands/docscmd"
)

// TestCommandReferenceIsFresh fails when docs/cli no longer matches the
// command tree: run `make docs` and commit the result.
func TestCommandReferenceIsFresh(t *testing.T) {
	f, _ := cmdtest.Factory(t, nil)
	dir := t.TempDir()
	if err := docscmd.Markdown(NewRootCmd(f), dir); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	committed := filepath.Join("..", "docs", "cli")
	have, _ := os.ReadDir(committed)
	if len(have) != len(want) {
		t.Fatalf("docs/cli has %d pages, the command tree %d: run `make docs`", len(have), len(want))
	}
	for _, e := range want {
		gen, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		old, err := os.ReadFile(filepath.Join(committed, e.Name()))
		if err != nil || string(old) != string(gen) {
			t.Errorf("docs/cli/%s is stale: run `make docs`", e.Name())
		}
	}
}
