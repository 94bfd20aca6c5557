// Package db is `nexus db`: look inside the DynamoDB tables of a Nexus
// deployment. Each verb lives in its own package.
package db

import (
	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/db/bootstrap"
	"github.com/nexus-compliance/nexus/commands/db/count"
	"github.com/nexus-compliance/nexus/commands/db/describe"
	"github.com/nexus-compliance/nexus/commands/db/get"
	"github.com/nexus-compliance/nexus/commands/db/query"
	"github.com/nexus-compliance/nexus/commands/db/scan"
	"github.com/nexus-compliance/nexus/commands/db/tables"
)

// NewCmd builds `nexus db`.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Inspect the DynamoDB tables of a deployment",
		Long: `Inspect the six DynamoDB tables of a Nexus deployment, or any other table.

TABLE arguments take the logical names jobs, mappings, enrichment, embedding_cache,
frameworks and controls (resolved through the environment: --env, the config file, and
JOB_TABLE_NAME, MAPPINGS_TABLE_NAME, … variables), or a real table name.

Reads are paged and streamed: nothing loads a whole table into memory.`,
		Example: `  nexus db bootstrap --dry-run
  nexus db tables
  nexus db describe mappings
  nexus db scan jobs --where status=FAILED --limit 20
  nexus db query mappings --key AWS.ControlCatalog#1.0#API_GW_CACHE_ENABLED
  nexus db get jobs 550e8400-e29b-41d4-a716-446655440000
  nexus db count jobs --where status=PENDING`,
	}
	cmd.AddCommand(
		bootstrap.NewCmd(f, nil),
		tables.NewCmd(f, nil),
		describe.NewCmd(f, nil),
		scan.NewCmd(f, nil),
		query.NewCmd(f, nil),
		get.NewCmd(f, nil),
		count.NewCmd(f, nil),
	)
	return cmd
}
