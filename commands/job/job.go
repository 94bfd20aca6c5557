// Package job is `nexus job`.
package job

import (
	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/cmdutil"
)

// NewCmd builds `nexus job`.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "job"}
	return cmd
}
