// Package dlq is `nexus dlq`.
package dlq

import (
	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/cmdutil"
)

// NewCmd builds `nexus dlq`.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "dlq"}
	return cmd
}
