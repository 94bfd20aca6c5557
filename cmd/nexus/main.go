// Command nexus is the operator's tool for the Nexus compliance-mapping system.
package main

import (
	"os"

	"github.com/nexus-compliance/nexus/commands"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
)

// Set by ldflags at release time (see .goreleaser.yaml and the Makefile).
var (
	version = "dev"
	commit  = "none"
	date    = "unknown"
)

func main() {
	commands.Execute(cmdutil.BuildInfo{Version: version, Commit: commit, Date: date}, os.Args[1:], os.Exit)
}
