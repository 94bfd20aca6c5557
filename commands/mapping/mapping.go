// Package mapping is `nexus mapping`: the control mappings of a deployment.
// Each verb lives in its own package.
package mapping

import (
	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/mapping/archive"
	"github.com/nexus-compliance/nexus/commands/mapping/get"
	"github.com/nexus-compliance/nexus/commands/mapping/importcmd"
	"github.com/nexus-compliance/nexus/commands/mapping/list"
	"github.com/nexus-compliance/nexus/commands/mapping/update"
)

// NewCmd builds `nexus mapping`.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mapping",
		Short: "Inspect control mappings",
		Long: `Inspect the mappings of the ControlMappings table: source control → framework control, with review status and scores.
get, update, archive and import go through the Nexus API (--api-url, $NEXUS_API_URL or the environment's api_url);
list does when an API URL is known, else reads DynamoDB.`,
		Example: `  nexus mapping list --control AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED
  nexus mapping list --status PENDING_REVIEW
  nexus mapping import reviewed.csv`,
	}
	cmd.AddCommand(list.NewCmd(f, nil), get.NewCmd(f, nil), update.NewCmd(f, nil), archive.NewCmd(f, nil), importcmd.NewCmd(f, nil))
	return cmd
}
