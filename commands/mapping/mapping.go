// Package mapping is `nexus mapping`: the control mappings of a deployment.
// Each verb lives in its own package.
package mapping

import (
	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/mapping/list"
)

// NewCmd builds `nexus mapping`.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mapping",
		Short: "Inspect control mappings",
		Long:  `Inspect the mappings of the ControlMappings table: source control → framework control, with review status and scores.`,
		Example: `  nexus mapping list --control AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED
  nexus mapping list --status PENDING_REVIEW`,
	}
	cmd.AddCommand(list.NewCmd(f, nil))
	return cmd
}
