// Package catalog is `nexus catalog`: the frameworks and controls the
// mapper maps between, in the local store or the deployment's tables.
package catalog

import (
	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/catalog/controls"
	"github.com/nexus-compliance/nexus/commands/catalog/frameworks"
	"github.com/nexus-compliance/nexus/commands/catalog/importcmd"
	"github.com/nexus-compliance/nexus/commands/catalog/show"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
)

// NewCmd builds `nexus catalog`.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Import, list and inspect frameworks and controls",
		Long: `The catalog is the frameworks and controls Nexus maps between (the Frameworks and
FrameworkControls tables) and the reviewed mappings between them. Every verb works on
--store: the local store on this machine (default; it starts with a demo catalog) or the
environment's DynamoDB tables.`,
		Example: `  nexus catalog import --oscal NIST_SP-800-53_rev5_catalog.json
  nexus catalog frameworks
  nexus catalog controls NIST-SP-800-53#R5
  nexus catalog show AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED`,
	}
	cmd.AddCommand(importcmd.NewCmd(f, nil), frameworks.NewCmd(f, nil), controls.NewCmd(f, nil), show.NewCmd(f, nil))
	return cmd
}
