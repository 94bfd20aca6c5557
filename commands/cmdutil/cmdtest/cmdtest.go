// Package cmdtest builds Factories for command tests: buffered IO streams,
// a config file in a temporary folder, and an environment of variables the
// test controls. Imported by tests only.
package cmdtest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/iostreams"
)

// Streams are the buffers behind a test Factory.
type Streams struct {
	In     *bytes.Buffer
	Out    *bytes.Buffer
	ErrOut *bytes.Buffer
}

// Factory returns a Factory whose streams are buffers (not terminals), whose
// config file and audit log live in t.TempDir(), and whose Getenv reads vars
// first and then the process environment (where `make test` exported the
// emulator endpoints and dummy credentials).
func Factory(t testing.TB, vars map[string]string) (*cmdutil.Factory, *Streams) {
	t.Helper()
	ios, in, out, errOut := iostreams.Test()
	dir := t.TempDir()
	if _, ok := vars["NEXUS_AUDIT_LOG"]; !ok {
		if vars == nil {
			vars = map[string]string{}
		}
		vars["NEXUS_AUDIT_LOG"] = filepath.Join(dir, "audit.jsonl")
	}
	f := &cmdutil.Factory{
		IOStreams: ios,
		Flags:     &cmdutil.GlobalFlags{Output: "table", Config: filepath.Join(dir, "config.yaml")},
		Build:     cmdutil.BuildInfo{Version: "test", Commit: "test", Date: "test"},
		Getenv: func(k string) string {
			if v, ok := vars[k]; ok {
				return v
			}
			return os.Getenv(k)
		},
		Now: time.Now,
	}
	return f, &Streams{In: in, Out: out, ErrOut: errOut}
}
