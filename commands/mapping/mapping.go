// Package mapping is `nexus mapping`.
package mapping

import (
	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/cmdutil"
)

// NewCmd builds `nexus mapping`.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "mapping"}
	return cmd
}
